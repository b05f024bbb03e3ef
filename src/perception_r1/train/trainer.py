"""GRPO training on TRL: recipe -> dataset, prompts, rewards, GRPOConfig, GRPOTrainer -> trained model.

:func:`run_training` is deliberately linear; every step is a small function that the CLI's ``--dry-run`` and
the tests reuse without a model.

Example:
    >>> from perception_r1.train.config import TrainConfig
    >>> # Skipped: even the embedded default builds a tiny model and trains a few CPU steps.
    >>> summary = run_training(TrainConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError, to_dict
from perception_r1.folder_lock import claims_output_folder
from perception_r1.io_utils import atomic_write_json
from perception_r1.ranks import is_main_process
from perception_r1.train.config import DataConfig, ModelConfig, TrainConfig, validate
from perception_r1.train.grpo_args import grpo_config
from perception_r1.train.reward_setup import build_rewards, check_columns

log = logging.getLogger(__name__)


def load_rows(data: DataConfig) -> list[dict[str, Any]]:
    """Schema rows of the training data (synthetic testbed generated in memory, or any loadable source).

    Raises:
        ConfigError: an empty dataset; SchemaError/FileNotFoundError from the loader name the file and row.
    """
    if data.source == "synth":
        from perception_r1.data.synth import generate_problems, to_row

        difficulty = int(data.synth_params.get("difficulty", 1))
        try:
            problems = generate_problems(data.synth_n, data.synth_seed, **data.synth_params)
        except (TypeError, ValueError) as exc:  # an unknown generator parameter, or a bad value of one
            raise ConfigError(f"data.synth_params: {exc}") from None
        rows = [to_row(p, f"synth-{data.synth_seed}-{i}", difficulty) for i, p in enumerate(problems)]
        rows = rows[: data.limit] if data.limit is not None else rows
    else:
        from perception_r1.data.io import load_examples

        rows = load_examples(
            data.source, kind=data.kind, split=data.split, config=data.config, columns=data.columns, limit=data.limit
        )
    if not rows:
        raise ConfigError(f"data.source {data.source!r}: no examples")
    return rows


def build_dataset(
    rows: list[dict[str, Any]],
    processor: Any,
    max_prompt_length: int | None,
    template: Any = None,
    data: DataConfig | None = None,
) -> tuple[Any, int]:
    """``datasets.Dataset`` with ``prompt`` + schema columns; examples over ``max_prompt_length`` are dropped.

    Args:
        template: The recipe's :class:`perception_r1.templates.FormatTemplate` (None: the built-in one).
        data: The recipe's data section: its source names a bad row, its ``max_image_pixels`` limits images.

    Returns:
        ``(dataset, n_dropped)``.
    """
    from datasets import Dataset

    from perception_r1.special_tokens import special_tokens
    from perception_r1.train.prompts import prompt_token_count, training_rows

    data = data or DataConfig()
    examples = training_rows(
        rows,
        template=template,
        special=special_tokens(processor),  # a problem quoting <|image_pad|> must not break the batch
        max_image_pixels=data.max_image_pixels,
        where=data.source,
    )
    kept = []
    for ex in examples:
        if max_prompt_length is None or prompt_token_count(processor, ex["prompt"], ex["images"]) <= max_prompt_length:
            kept.append(ex)
    if not kept:
        raise ConfigError(f"data.max_prompt_length={max_prompt_length}: every prompt is longer; raise the limit")
    return Dataset.from_list(kept), len(examples) - len(kept)


def load_policy(model: ModelConfig, path: str) -> tuple[Any, Any, Any]:
    """Model, processor and optional PEFT config.

    Returns:
        ``(model, processor, peft_config or None)``; the vision tower is frozen when asked.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    kwargs: dict[str, Any] = {}
    if model.min_pixels is not None:
        kwargs["min_pixels"] = model.min_pixels
    if model.max_pixels is not None:
        kwargs["max_pixels"] = model.max_pixels
    processor = AutoProcessor.from_pretrained(path, **kwargs)
    dtype = "auto" if model.dtype == "auto" else getattr(torch, model.dtype)
    load_kwargs: dict[str, Any] = {"dtype": dtype}
    if model.attn_implementation:
        load_kwargs["attn_implementation"] = model.attn_implementation
    policy = AutoModelForImageTextToText.from_pretrained(path, **load_kwargs)
    if model.freeze_vision_tower:
        visual = getattr(getattr(policy, "model", policy), "visual", None)
        if visual is None:
            raise ConfigError(f"model.freeze_vision_tower: {path} has no vision tower named 'visual'")
        visual.requires_grad_(False)
    peft_config = None
    if model.lora.enabled:
        from peft import LoraConfig

        # Adapters on the language model only: the vision blocks reuse names like gate_proj/up_proj.
        names = "|".join(model.lora.target_modules)
        peft_config = LoraConfig(
            r=model.lora.r,
            lora_alpha=model.lora.alpha,
            lora_dropout=model.lora.dropout,
            target_modules=rf".*language_model.*\.({names})",
            task_type="CAUSAL_LM",
        )
    return policy, processor, peft_config


def resume_checkpoint(cfg: TrainConfig) -> str | None:
    """Checkpoint to resume from: the newest complete one in the output folder (``auto``), none, or an explicit
    path; see :func:`perception_r1.train.checkpoints.resume_point`.

    Raises:
        ConfigError: the explicit checkpoint cannot be resumed, or no checkpoint in the folder can while some
            hold trained state (the message says why and what to do).
    """
    from perception_r1.train.checkpoints import check_resumable, resume_point

    optimizer_state = not cfg.grpo.get("save_only_model", False)
    if cfg.output.resume == "never":
        return None
    if cfg.output.resume != "auto":
        return str(check_resumable(cfg.output.resume, optimizer_state=optimizer_state))
    return resume_point(cfg.output.dir, optimizer_state=optimizer_state)


def _warn_launch_mismatch(cfg: TrainConfig, world: int) -> None:
    """Say so when the launch has another process count than the recipe's (its global batch differs)."""
    if world != cfg.launch.num_processes and is_main_process():
        g = cfg.grpo
        log.warning(
            "launched with %d process(es) but launch.num_processes is %d: the global batch is %d prompts x %d "
            "completions per optimizer step, not what the recipe was sized for",
            world,
            cfg.launch.num_processes,
            g.per_device_train_batch_size * world * g.gradient_accumulation_steps // g.num_generations,
            g.num_generations,
        )


@claims_output_folder("train", lambda cfg, *a, **kw: cfg.output.dir, check=lambda cfg, *a, **kw: validate(cfg))
def run_training(cfg: TrainConfig, extra_callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a policy with GRPO as the recipe says; write metrics, samples, plot, checkpoints and final model.

    Under ``torchrun`` / ``accelerate launch`` every process runs this function and together they are one run:
    the real ``GRPOConfig`` is built once, before the policy loads (it sets up ``torch.distributed``; under
    DeepSpeed ZeRO-3 it lets the weights be sharded as they load), each rank generates and scores its own share
    of the prompts, and only global rank 0 writes the run's files.

    The output folder is checked for writability and held for the run (one writer per folder, see
    :mod:`perception_r1.folder_lock`; rank 0 of a launch holds it for all ranks) before anything loads.

    Args:
        cfg: The recipe.
        extra_callbacks: More ``TrainerCallback`` objects (tests, benchmarks).

    Returns:
        Summary: output dir, steps, examples, dropped examples, resumed checkpoint, wall seconds, final path,
        world size and judge alarms.

    Raises:
        ConfigError: invalid recipe, a dataset lacking the columns the rewards need, a checkpoint that cannot be
            resumed, or a judge that does not answer (all before any model load).
        JudgeFailureStop: ``judge_guard.stop`` ended the run early.
        FolderBusyError: another run writes into the output folder.
        OSError: the output folder is not writable (read-only, full, no permission).
    """
    from trl import GRPOTrainer

    from perception_r1.templates import load_format_template
    from perception_r1.train.atomic_save import atomic_checkpoints
    from perception_r1.train.callbacks import MetricsCallback, StepTimes
    from perception_r1.train.checkpoints import restore_weights, train_from
    from perception_r1.train.judge_guard import JudgeFailureAlarm, JudgeFailureStop, probe_judges
    from perception_r1.train.policy_cache import resolve_model_path
    from perception_r1.train.prompts import template_fingerprints

    started = time.perf_counter()  # the recipe was validated by claims_output_folder's check, before the lock
    fingerprints = template_fingerprints(cfg)  # also fails early on an unusable prompt template file
    rows = load_rows(cfg.data)
    check_columns(cfg.rewards, rows, where=f"data.source {cfg.data.source!r}")
    funcs, weights, names = build_rewards(cfg.rewards)
    args = grpo_config(cfg, weights)  # TRL's checks with the real world size, before anything costly: see above
    _warn_launch_mismatch(cfg, args.world_size)
    probe_judges(cfg)
    checkpoint = resume_checkpoint(cfg)  # before the model loads: a checkpoint that cannot be resumed is refused
    path = resolve_model_path(cfg.model.path)  # one process builds a built-in policy, the others wait for it
    policy, processor, peft_config = load_policy(cfg.model, path)
    template = load_format_template(cfg.data.prompt_template)
    dataset, dropped = build_dataset(rows, processor, cfg.data.max_prompt_length, template, cfg.data)
    out = Path(cfg.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    times = StepTimes()
    metrics_cb = MetricsCallback(out, names, cfg.logging.samples_per_step, times, cfg.logging.plot)
    alarm = JudgeFailureAlarm(cfg.judge_guard.max_failure_rate, cfg.judge_guard.stop)
    trainer = atomic_checkpoints(GRPOTrainer)(  # checkpoints complete or absent, also when a save is cut
        model=policy,
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[metrics_cb, alarm, *(extra_callbacks or [])],
    )
    metrics_cb.trainer = trainer
    main_process = trainer.is_world_process_zero()  # files below are written once, not by every rank
    if main_process:
        atomic_write_json(out / "recipe.json", {**to_dict(cfg), "prompt_templates": fingerprints})
    if restore_weights(trainer.model, checkpoint):  # the Trainer's own resume loads none of them
        trainer.weights_restored_from = str(checkpoint)
        log.info("restored the policy's weights from %s", checkpoint)
    log.info(
        "training %s on %d examples (%d dropped as too long) in %d process(es); resume from %s",
        path,
        len(dataset),
        dropped,
        args.world_size,
        checkpoint,
    )
    with times.recording():
        if not train_from(trainer, checkpoint):
            log.info("%s is the run's last step: nothing left to train", checkpoint)
    final = None
    if cfg.output.save_final:
        final = out / "final"
        trainer.save_model(str(final))  # on every rank: ZeRO-3 gathers the weights; only rank 0 writes
        if main_process:
            processor.save_pretrained(str(final))
    summary = {
        "output_dir": str(out),
        "model": path,
        "steps": trainer.state.global_step,
        "examples": len(dataset),
        "dropped_too_long": dropped,
        "resumed_from": checkpoint,
        "final_model": str(final) if final else None,
        "wall_s": round(time.perf_counter() - started, 1),
        "rewards": dict(zip(names, weights, strict=True)),
        "world_size": args.world_size,
        "judge_alarms": alarm.alarms,
        "stopped_by_judge_guard": alarm.stopped,
    }
    if main_process:
        atomic_write_json(out / "summary.json", summary)
    if alarm.stopped:
        raise JudgeFailureStop(
            f"training stopped at {alarm.stopped} (judge_guard.stop); fix the judge and rerun the same command to "
            f"continue from the last checkpoint in {out}"
        )
    return summary
