"""``perception-r1 rewards score``: score a JSONL file of responses with the Perception-R1 rewards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from perception_r1.rewards.scoring import ScoreOptions, score_file

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("score")
def score(
    input_path: Path = typer.Argument(
        ..., help="JSONL: one {'response', 'answer', optional 'id', 'choices', 'visual_annotations'} object per line."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Output JSONL: each input line plus the scores."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip malformed lines (counted) instead of stopping at the first one."
    ),
    format_template: str = typer.Option(
        "think_answer", help="Format template (think_answer, perception_think_answer)."
    ),
    weights: str = typer.Option("", help="Weights as JSON, e.g. '{\"accuracy\": 1.0}' (defaults: paper's)."),
    batch_size: int = typer.Option(256, help="Lines scored per batch (progress granularity)."),
    timeout_s: float = typer.Option(5.0, help="Time bound of one math-verify check."),
) -> None:
    """Score each response for accuracy, format and repetition and write the weighted overall score."""
    try:
        weight_map: dict[str, Any] | None = json.loads(weights) if weights else None
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--weights is not valid JSON: {exc}") from None
    options = ScoreOptions(
        skip_invalid=skip_invalid,
        format_template=format_template,
        weights=weight_map,
        batch_size=batch_size,
        timeout_s=timeout_s,
    )
    try:
        summary = score_file(input_path, output, options)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    summary.print()
