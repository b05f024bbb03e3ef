"""``perception-r1 train [RECIPE.yaml] [--section.key value ...]``: GRPO training with the perception reward.

Without a recipe it runs the embedded default recipe, ``perception_r1/train/default.yaml`` (the experiment's small
warm-up policy, the synthetic testbed, the rule judge, a few CPU steps). ``--dry-run`` validates the recipe (TRL's
own ``GRPOConfig`` checks of the ``grpo:`` section included), checks the data columns against the rewards when the
data is local, runs the launch preflight and prints the launch sequence (judge server, vLLM server, accelerate
launch) without loading a model. ``grpo:`` takes any ``trl.GRPOConfig`` field
(``--grpo.FIELD VALUE``); ``--help-config`` lists them with TRL's help.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from perception_r1.cli.errors import fail

if TYPE_CHECKING:  # only for annotations: --help should not import more than it needs
    from perception_r1.train.config import TrainConfig


def split_recipe_and_overrides(recipe: Path | None, extra: list[str]) -> tuple[str | None, list[str]]:
    """Recover the recipe and the override tokens, in command-line order.

    Click gives the first positional-looking token to ``recipe`` even when it is an unknown ``--key`` option
    (overrides are unknown options), so the tokens are re-joined and the recipe is the first token that is
    neither an option nor a ``key=value`` pair (an existing file always counts as the recipe).
    """
    tokens = ([str(recipe)] if recipe is not None else []) + list(extra)
    if tokens and (Path(tokens[0]).is_file() or not (tokens[0].startswith("-") or "=" in tokens[0])):
        return tokens[0], tokens[1:]
    return None, tokens


def train(
    ctx: typer.Context,
    recipe: Path | None = typer.Argument(
        None, help="YAML recipe (default: the embedded CPU default, perception_r1/train/default.yaml)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the launch plan; train nothing."),
    help_config: bool = typer.Option(False, "--help-config", help="List every recipe key with default and help."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved recipe as JSON and exit."),
) -> None:
    """Train with GRPO (TRL) and the Perception-R1 rewards. Override any recipe key with --section.key VALUE."""
    from perception_r1.config import ConfigError, describe, load_config, parse_overrides, to_dict
    from perception_r1.train.config import EMBEDDED_DEFAULT, TrainConfig, validate

    if help_config:
        for key, default, help_text in describe(TrainConfig):
            typer.echo(f"{key:45s} {default:28s} {help_text}")
        return
    recipe_path, tokens = split_recipe_and_overrides(recipe, ctx.args)
    try:
        overrides = parse_overrides(tokens)
        cfg = load_config(TrainConfig, recipe_path or EMBEDDED_DEFAULT, overrides)
        validate(cfg)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    if print_config:  # print and stop: with a real recipe, falling through would launch the job
        typer.echo(json.dumps(to_dict(cfg), indent=2))
        return
    if dry_run:
        _dry_run(cfg, recipe_path, overrides)
        return
    refusal = _single_process_refusal(cfg, recipe_path, overrides)
    if refusal:
        fail(refusal)
    _run(cfg)


def _dry_run(cfg: TrainConfig, recipe: str | None, overrides: dict[str, str]) -> None:
    """Validate what can be validated without a model, then print the launch plan."""
    from perception_r1.config import ConfigError
    from perception_r1.train.grpo_args import check_with_trl
    from perception_r1.train.launch import format_plan, launch_plan
    from perception_r1.train.preflight import format_checks, preflight
    from perception_r1.train.reward_setup import build_rewards, check_columns
    from perception_r1.train.trainer import load_rows

    try:
        _, weights, names = build_rewards(cfg.rewards)
    except ConfigError as exc:
        fail(str(exc))
    typer.echo("rewards: " + ", ".join(f"{w:g} x {n}" for n, w in zip(names, weights, strict=True)))
    try:
        check_with_trl(cfg)
    except ConfigError as exc:
        fail(str(exc))
    typer.echo("grpo: trl.GRPOConfig accepts the settings (device and precision are checked where training runs)")
    source = cfg.data.source
    if source == "synth" or Path(source).exists():
        try:
            rows = load_rows(cfg.data)
            check_columns(cfg.rewards, rows, where=f"data.source {source!r}")
        except (ConfigError, ValueError, FileNotFoundError) as exc:
            fail(str(exc))
        typer.echo(f"data: {len(rows)} examples from {source}; reward columns present")
    else:
        typer.echo(f"data: {source} is not on this machine; columns are checked when training starts")
    checks = preflight(cfg)
    typer.echo("\npreflight (run it on the training node):\n" + format_checks(checks))
    typer.echo("\nlaunch sequence:\n")
    typer.echo(format_plan(launch_plan(cfg, recipe, overrides)))
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        fail(f"preflight failed: {'; '.join(f'{c.name}: {c.detail}' for c in failed)}")


def _single_process_refusal(cfg: TrainConfig, recipe: str | None, overrides: dict[str, str]) -> str | None:
    """Why a multi-process recipe must not start as one plain process, with the launch command; else None."""
    from perception_r1.ranks import launched
    from perception_r1.train.launch import launch_plan

    if cfg.launch.num_processes == 1 or launched():
        return None
    command = launch_plan(cfg, recipe, overrides)[-1].command
    return (
        f"launch.num_processes is {cfg.launch.num_processes}, but this is a single process: it would train alone, "
        f"with 1/{cfg.launch.num_processes} of the recipe's batch. Launch it with\n  {command}\n"
        "(`--dry-run` prints the whole launch sequence), or pass --launch.num_processes 1 to train in one process."
    )


def _run(cfg: TrainConfig) -> None:
    """Train, printing progress (the trainer's progress bar) and the summary (once, from rank 0)."""
    import logging

    from perception_r1.config import ConfigError
    from perception_r1.data.schema import SchemaError
    from perception_r1.ranks import is_main_process
    from perception_r1.train.judge_guard import JudgeFailureStop
    from perception_r1.train.trainer import run_training

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main = is_main_process()
    # Rank 0 tells the story; the other ranks speak only for warnings and errors of their own.
    level = logging.INFO if main else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if cfg.model.path == "warmup":  # the experiment's cached warm-up policy: built once per machine, then reused
            from perception_r1.config import apply_overrides
            from perception_r1.experiment.cache import warmup_policy

            cfg = apply_overrides(cfg, {"model.path": str(warmup_policy())})
        summary = run_training(cfg)
    except (ConfigError, SchemaError) as exc:  # SchemaError: a bad training row, named (file, row, id)
        fail(str(exc))
    except JudgeFailureStop as exc:
        if main:  # one message for the launch, from its first rank
            fail(str(exc), 1)
        raise typer.Exit(1) from None
    if not main:
        return
    typer.echo(json.dumps(summary, indent=2))
    out = Path(summary["output_dir"])
    typer.echo(f"metrics: {out / 'metrics.jsonl'}\nplot: {out / 'reward_components.png'}")
    if summary["judge_alarms"]:
        typer.echo(
            f"warning: the judge failed on more than judge_guard.max_failure_rate of the judgments at "
            f"{len(summary['judge_alarms'])} logged step(s), e.g. {summary['judge_alarms'][0]}",
            err=True,
        )
