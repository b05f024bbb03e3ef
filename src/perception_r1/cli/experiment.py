"""``perception-r1 experiment [RECIPE.yaml] [--quick] [--section.key value ...]``: the controlled experiment.

Warm-up, then GRPO with RLVR rewards and with the Perception-R1 rewards from the same checkpoint (and a frozen
control at learning rate 0 on the same prompts), evaluated on a held-out test split with exact perception metrics
and exact McNemar tests. Rerunning the same command continues an interrupted experiment where it stopped.
``perception-r1 publish`` turns its folder into a results folder with the raw records.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from perception_r1.cli.errors import fail

if TYPE_CHECKING:  # the command imports it when it runs (no import-time cost for `--help`)
    from perception_r1.experiment.config import ExperimentConfig


def experiment(
    ctx: typer.Context,
    recipe: Path | None = typer.Argument(None, help="YAML recipe (default: the embedded full mode)."),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="The full mode's data and its shipped warm-up, one seed, 160 GRPO steps of 4 prompts (about 12 minutes "
        "on 2 cores).",
    ),
    help_config: bool = typer.Option(False, "--help-config", help="List every recipe key with default and help."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved recipe as JSON and exit."),
) -> None:
    """Run (or continue) the controlled experiment: warm-up, RLVR vs Perception-R1, evaluation, McNemar, report.

    Override any recipe key with --section.key VALUE (or section.key=VALUE), as train takes them.
    """
    from perception_r1.cli.train import split_recipe_and_overrides
    from perception_r1.config import (
        ConfigError,
        apply_overrides,
        describe,
        flatten_keys,
        from_dict,
        load_yaml,
        parse_overrides,
        to_dict,
    )
    from perception_r1.experiment.config import QUICK, ExperimentConfig, validate

    if help_config:
        for key, default, help_text in describe(ExperimentConfig):
            typer.echo(f"{key:36s} {default:24s} {help_text}")
        return
    recipe_path, tokens = split_recipe_and_overrides(recipe, ctx.args)
    try:
        base = from_dict(ExperimentConfig, QUICK if quick else {}, where="--quick" if quick else "")
        if recipe_path is not None:
            base = apply_overrides(base, flatten_keys(load_yaml(recipe_path)), where=str(recipe_path))
        cfg = apply_overrides(base, parse_overrides(tokens))
        validate(cfg)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    if print_config:
        typer.echo(json.dumps(to_dict(cfg), indent=2))
        return
    _run(cfg)


def _run(cfg: ExperimentConfig) -> None:
    import logging

    from rich.console import Console

    from perception_r1.config import ConfigError
    from perception_r1.experiment.data import SplitOverlapError
    from perception_r1.experiment.runner import run_experiment

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console(stderr=True)
    command = "perception-r1 experiment " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    try:
        summary = run_experiment(cfg, announce=lambda msg: console.log(f"[bold]{msg}"), command=command.strip())
    except (ConfigError, SplitOverlapError, FileNotFoundError) as exc:
        fail(str(exc))
    arms = summary["arms"]
    for policy in arms:
        a = arms[policy]
        typer.echo(
            f"{policy:14s} answer {100 * a['answer_accuracy']['mean']:5.1f}%  "
            f"perception {100 * a['perception_accuracy']['mean']:5.1f}%  "
            f"recall {100 * a['perception_recall']['mean']:5.1f}%"
        )
    blind = summary.get("baselines", {}).get("blind")
    if blind:
        typer.echo(
            f"{'image-blind':14s} answer {100 * blind['answer_accuracy']:5.1f}%  "
            f"perception {100 * blind['perception_accuracy']:5.1f}%  recall {100 * blind['perception_recall']:5.1f}%"
            "  (chance: the train split's most common solution, figure unseen)"
        )
    for line in summary["findings"][:-1]:  # what was and was not shown (the rules are in the report)
        typer.echo(line)
    typer.echo(f"report: {Path(cfg.output_dir) / 'report.md'} and report.html")
