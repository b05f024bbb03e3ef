"""Supervised warm-up (TRL ``SFTTrainer``): teach the policy to see the figure and to write the paper's format.

A warm-up trained with the quick mode's settings is also the one ``perception-r1 train``'s embedded default starts
from: :func:`share_with_train_default` copies it into :func:`warmup_cache_dir` (see ``experiment/cache.py``).

Targets are the generator's exact solutions: a ``<think>`` that states the facts read off the figure and then
computes, and an ``<answer>`` with ``\\boxed{}``. The loss is on the completion only (TRL's prompt-completion
format), so the policy learns to answer, not to repeat the question.

Example:
    >>> summary = run_warmup(policy_dir, rows, WarmupSection(), out_dir)  # doctest: +SKIP
    >>> summary["final_model"]  # doctest: +SKIP
    'runs/experiment/warmup/final'
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perception_r1.config import from_dict, to_dict
from perception_r1.experiment.config import QUICK, ExperimentConfig, WarmupSection
from perception_r1.io_utils import atomic_write_json
from perception_r1.train.policy_cache import cache_root


def sft_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prompt-completion rows for TRL: the training prompt, the reference CoT as the assistant turn, images."""
    from perception_r1.train.prompts import training_rows

    out = []
    for ex in training_rows(rows):
        if not ex.get("cot"):
            raise ValueError(f"example {ex.get('id')!r}: no 'cot' column value to warm up on")
        completion = [{"role": "assistant", "content": [{"type": "text", "text": ex["cot"]}]}]
        out.append({"prompt": ex["prompt"], "completion": completion, "images": ex["images"]})
    return out


def run_warmup(
    policy_dir: str | Path,
    rows: Sequence[dict[str, Any]],
    section: WarmupSection,
    out_dir: Path,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Fine-tune the freshly built policy on ``rows``; resumes from the last checkpoint in ``out_dir``.

    Args:
        policy_dir: The built (untrained) policy.
        rows: Warm-up problems (train split only).
        section: Warm-up hyperparameters.
        out_dir: Checkpoints, ``final/`` and ``summary.json`` (written last: it marks a finished warm-up).
        callbacks: Extra ``TrainerCallback`` objects.

    Returns:
        Steps, examples, final training loss, wall seconds and the final model folder.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer

    from perception_r1.train.atomic_save import atomic_checkpoints
    from perception_r1.train.checkpoints import restore_weights, resume_point, train_from

    started = time.perf_counter()
    processor = AutoProcessor.from_pretrained(str(policy_dir))
    model = AutoModelForImageTextToText.from_pretrained(str(policy_dir), dtype=torch.float32)
    if section.freeze_vision:
        model.model.visual.requires_grad_(False)
    dataset = Dataset.from_list(sft_rows(rows))
    out_dir.mkdir(parents=True, exist_ok=True)
    args = SFTConfig(
        output_dir=str(out_dir),
        num_train_epochs=section.epochs,
        learning_rate=section.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=section.weight_decay,
        per_device_train_batch_size=section.batch_size,
        max_length=None,  # never cut the image tokens or the solution
        completion_only_loss=True,
        seed=section.seed,
        data_seed=section.seed,
        logging_steps=10,
        save_strategy="steps",
        save_steps=50,
        save_total_limit=1,
        report_to=["none"],
        dataloader_num_workers=0,
        bf16=False,  # TRL defaults to bf16; the policy trains in float32 (CPU and GPU alike)
    )
    trainer = atomic_checkpoints(SFTTrainer)(  # a cut save leaves no checkpoint-N behind
        model=model, args=args, train_dataset=dataset, processing_class=processor, callbacks=list(callbacks)
    )
    checkpoint = resume_point(out_dir)  # the newest complete checkpoint
    if restore_weights(model, checkpoint):  # the Trainer's own resume loads none of them (see train.checkpoints)
        trainer.weights_restored_from = str(checkpoint)
    train_from(trainer, checkpoint)
    final = out_dir / "final"
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    return finish_stage(trainer, out_dir, final, started, {"examples": len(dataset)})


def finish_stage(trainer: Any, out_dir: Path, final: Path, started: float, figures: dict[str, Any]) -> dict[str, Any]:
    """Write a finished training stage's ``summary.json`` (its marker, written last) and return it.

    Args:
        trainer: The ``Trainer`` that ran the stage (its step and logged losses are read).
        out_dir: The stage's folder.
        final: Where the stage saved its final model.
        started: ``time.perf_counter()`` at the stage's start.
        figures: Stage-specific entries, placed after the step count.

    Returns:
        ``steps``, the ``figures``, ``final_loss``, ``loss_curve``, ``wall_s`` and ``final_model``.
    """
    from perception_r1.model.integrity import require_complete

    require_complete(final)  # the marker must never stand for weights that are not there
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "steps": trainer.state.global_step,
        **figures,
        "final_loss": losses[-1] if losses else None,
        "loss_curve": losses,
        "wall_s": round(time.perf_counter() - started, 1),
        "final_model": str(final),
    }
    atomic_write_json(out_dir / "summary.json", summary)
    return summary


def _warmup_shaping(cfg: ExperimentConfig) -> dict[str, Any]:
    """The settings that shape a warm-up policy: its data, policy, reading and warm-up sections (whether it was
    trained here or shipped built with the same settings makes no difference)."""
    from perception_r1.experiment.shipped import shaping

    return shaping(to_dict(cfg))


def share_with_train_default(cfg: ExperimentConfig, warmup_dir: Path) -> None:
    """A warm-up trained with the quick settings is the one ``train``'s default starts from: cache a copy.

    Only the stages that produced it must match (data, policy, warm-up); a cache already present is kept.
    """
    import shutil

    cache = warmup_cache_dir()
    target = cache / "warmup"
    if (
        _warmup_shaping(cfg) != _warmup_shaping(from_dict(ExperimentConfig, QUICK))
        or (target / "summary.json").is_file()
        or Path(cfg.output_dir).resolve() == cache.resolve()
    ):
        return
    tmp = target.with_name(f".warmup-{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(warmup_dir / "final", tmp / "final")
    shutil.copy2(warmup_dir / "summary.json", tmp / "summary.json")  # the marker, copied last
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process cached one first
        shutil.rmtree(tmp, ignore_errors=True)


def warmup_cache_dir() -> Path:
    """Folder of the cached warm-up policy: ``$PERCEPTION_R1_CACHE`` (default ``~/.cache/perception_r1``).

    Its name hashes every setting that shapes the quick warm-up (data, policy, warm-up), so a cache made with
    other settings is never mistaken for the current one.
    """
    import hashlib
    import json

    shaping = _warmup_shaping(from_dict(ExperimentConfig, QUICK))
    # A data key added later, at the value that makes the same warm-up as before it existed: left out of the name,
    # so that caches built before it stay found.
    if shaping["data"].get("multiple_choice") is False:
        del shaping["data"]["multiple_choice"]
    key = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:10]
    return cache_root() / f"warmup-policy-{key}"
