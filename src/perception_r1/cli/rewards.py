"""``perception-r1 rewards score``: score a JSONL file of responses with the Perception-R1 rewards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from perception_r1.cli.errors import fail
from perception_r1.cli.judge_options import JudgeOptions, judge_options
from perception_r1.rewards.score_file import ScoreOptions, score_file

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _format_templates() -> list[str]:
    from perception_r1.rewards.format import FORMAT_TEMPLATES

    return FORMAT_TEMPLATES.names()


@app.command("score")
@judge_options
def score(
    input_path: Path = typer.Argument(
        ..., help="JSONL: one {'response', 'answer', optional 'id', 'choices', 'visual_annotations'} object per line."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Output JSONL: each input line plus the scores."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip malformed lines (counted) instead of stopping at the first one."
    ),
    format_template: str = typer.Option("think_answer", help=f"Format template ({', '.join(_format_templates())})."),
    weights: str = typer.Option("", help="Weights as JSON, e.g. '{\"accuracy\": 1.0}' (defaults: paper's)."),
    batch_size: int = typer.Option(256, help="Lines scored per batch (progress granularity)."),
    timeout_s: float = typer.Option(5.0, help="Time bound of one math-verify check."),
    max_line_mb: float = typer.Option(
        None,
        "--max-line-mb",
        min=0.000001,
        help="Longest input line in MiB; a longer one is a malformed line (read in bounded memory). "
        "Default: $PERCEPTION_R1_MAX_LINE_MB or 64.",
    ),
    *,
    judge: JudgeOptions,
) -> None:
    """Score each response for accuracy, format, repetition (and perception when a judge is configured).

    The judge's API key is read from the environment variable named by its ``api_key_env`` (default
    ``PERCEPTION_R1_JUDGE_API_KEY``); it is never printed or written.
    """
    try:
        weight_map: dict[str, Any] | None = json.loads(weights) if weights else None
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--weights is not valid JSON: {exc}") from None
    try:
        judge_cfg = judge.build()  # None: no judge option given, no perception reward
    except ValueError as exc:
        fail(str(exc))
    options = ScoreOptions(
        skip_invalid=skip_invalid,
        format_template=format_template,
        weights=weight_map,
        batch_size=batch_size,
        timeout_s=timeout_s,
        judge=judge_cfg,
        max_line_bytes=None if max_line_mb is None else max(1, int(max_line_mb * 2**20)),
    )
    try:
        summary = score_file(input_path, output, options)
    except (ValueError, OSError, KeyError) as exc:  # OSError: unreadable input, unwritable output
        fail(str(exc))
    summary.print()
    if summary.nothing_judged:  # every perception value is null: the run must not look like a success
        fail(f"the judge could not judge any response; failures: {summary.failure_text()}", 1)
