"""Toy sizes of the controlled experiment: every stage runs (data, policy, label reading, SFT warm-up, two GRPO arms
and the frozen control, evaluation, McNemar, report) in about a minute on 2 CPU cores. Nothing here is meant to learn.
One source for the end-to-end tests of the runner, the mechanism analysis and stopping an experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perception_r1.config import from_dict
from perception_r1.experiment.config import ExperimentConfig

TOY: dict[str, Any] = {
    "seeds": [0],
    "workers": 2,  # the two GRPO runs train in parallel worker processes
    "data": {"n_train": 24, "n_val": 6, "n_test": 12},
    "policy": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 128,
               "vision_depth": 1, "vision_hidden_size": 32, "vision_heads": 2, "vision_intermediate_size": 64,
               "image_size": 112, "vocab_size": 400},
    "reading": {"steps": 2, "batch_size": 4},
    "warmup": {"n_examples": 16, "epochs": 1.0, "batch_size": 8},
    "grpo": {"max_steps": 2, "prompts_per_step": 2, "num_generations": 2, "max_completion_length": 16,
             "save_steps": 1},
    "eval": {"batch_size": 12, "max_new_tokens": 16, "samples": 2},
}  # fmt: skip


def toy_config(out: Path) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {**TOY, "output_dir": str(out)})
