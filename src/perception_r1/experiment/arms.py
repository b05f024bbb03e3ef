"""The GRPO arms as overlays of one training recipe (``arm.yaml`` beside this module).

``arm.yaml`` is an ordinary ``perception-r1 train`` recipe. Each run of the experiment is that recipe with the
experiment's settings laid over it (warm-up, train split, sizes, learning rate, steps, seed) and then its arm's
overlay (:data:`ARM_OVERLAYS`): ``rlvr`` sets the perception reward's weight to 0, so the reward is computed and
logged (the plots compare it across arms) but never enters the advantage, and the arm trains on accuracy +
format + repetition only, as RLVR does. The frozen control (:data:`~perception_r1.experiment.config.CONTROL`) is
``rlvr`` at learning rate 0: the same prompts in the same order and the same rewards logged, from a policy that
never moves (AdamW's step and its weight decay are both scaled by the learning rate).

Example:
    >>> from perception_r1.experiment.config import ExperimentConfig
    >>> cfg = arm_recipe(ExperimentConfig(), "rlvr", 0, "warmup/final", "data/train.parquet", "runs/rlvr-seed0")
    >>> [(r.name, r.weight) for r in cfg.rewards]
    [('accuracy', 0.9), ('format', 0.1), ('perception', 0.0), ('repetition', 1.0)]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError, apply_overrides, from_dict, load_yaml
from perception_r1.experiment.config import CONTROL, ExperimentConfig
from perception_r1.train.config import RewardSpec, TrainConfig

ARM_RECIPE = Path(__file__).with_name("arm.yaml")
# Each arm's overlay of the recipe, applied last (dotted keys, as on the command line).
ARM_OVERLAYS: dict[str, dict[str, Any]] = {
    "rlvr": {"rewards[perception].weight": 0.0},
    "perception_r1": {},
    CONTROL: {"rewards[perception].weight": 0.0, "grpo.learning_rate": 0.0},
}


def _arm_config(arm: str, experiment: dict[str, Any]) -> TrainConfig:
    """``arm.yaml`` with the experiment's keys laid over it, then the arm's overlay."""
    if arm not in ARM_OVERLAYS:  # before any file is read
        raise ConfigError(f"unknown arm {arm!r}; known: {', '.join(ARM_OVERLAYS)}")
    overlay = ARM_OVERLAYS[arm]
    base = from_dict(TrainConfig, load_yaml(ARM_RECIPE), str(ARM_RECIPE))
    return apply_overrides(apply_overrides(base, experiment, "experiment"), overlay, f"arm {arm}")


def _reward_keys(perception_weight: float, repetition_n: int, format_template: str) -> dict[str, Any]:
    return {
        "rewards[perception].weight": perception_weight,
        "rewards[repetition].params.n": repetition_n,
        "rewards[format].params.template": format_template,
    }


def arm_rewards(
    arm: str, perception_weight: float, repetition_n: int, format_template: str = "think_answer"
) -> list[RewardSpec]:
    """The arm's rewards: ``arm.yaml``'s (the paper's weights: 0.9 accuracy, 0.1 format, 0.7 perception, 1.0
    repetition) with the experiment's perception weight, repetition n and format template, and the arm's overlay.

    Raises:
        ConfigError: an unknown arm.
    """
    return _arm_config(arm, _reward_keys(perception_weight, repetition_n, format_template)).rewards


def arm_recipe(
    cfg: ExperimentConfig, arm: str, seed: int, model_path: str, train_data: str, out_dir: str
) -> TrainConfig:
    """The ``TrainConfig`` of one arm and seed: ``arm.yaml``, the experiment's settings, the arm's overlay.

    Both arms with the same seed see the same prompts in the same order (TRL's sampler is seeded by
    ``grpo.seed``) and run the same number of steps. With ``processes`` > 1 the step's prompts are split over the
    processes of one data-parallel run (the global batch is unchanged).

    Raises:
        ConfigError: an unknown arm.
    """
    g = cfg.grpo
    experiment = {
        "model.path": model_path,
        "data.source": train_data,
        **_reward_keys(g.perception_weight, g.repetition_n, g.format_template),
        "grpo.num_generations": g.num_generations,
        "grpo.temperature": g.temperature,
        "grpo.loss_type": g.loss_type,
        "grpo.beta": g.beta,
        "grpo.max_completion_length": g.max_completion_length,
        "grpo.per_device_train_batch_size": g.prompts_per_step * g.num_generations // cfg.processes,
        "grpo.learning_rate": g.learning_rate,
        "grpo.max_steps": g.max_steps,
        "grpo.seed": seed,
        "logging.samples_per_step": g.num_generations * 2,
        "output.dir": out_dir,
        "output.save_steps": g.save_steps,
        "launch.num_processes": cfg.processes,
    }
    return _arm_config(arm, experiment)


class PeakMemory:
    """A ``TrainerCallback``-compatible recorder of the process's peak resident memory during training.

    ``resource.getrusage`` reports the peak of the whole process (earlier stages included), so the resident
    set is sampled at every step instead; the peak is written to ``memory.json`` in the run folder.
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.peak_mb = 0.0

    def _sample(self) -> None:
        import psutil

        self.peak_mb = max(self.peak_mb, psutil.Process().memory_info().rss / 2**20)

    def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
        self._sample()

    def on_train_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
        from pathlib import Path

        from perception_r1.io_utils import atomic_write_json

        self._sample()
        atomic_write_json(Path(self.out_dir) / "memory.json", {"peak_rss_mb": round(self.peak_mb, 1)})

    def __getattr__(self, name: str) -> object:
        # The trainer calls every on_* event; the ones not defined above do nothing.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
