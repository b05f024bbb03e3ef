"""``perception-r1 report RUN_DIR [RUN_DIR ...] -o report.html``: one self-contained HTML report of runs.

RUN_DIR is a training folder (``perception-r1 train``), an evaluation folder (``perception-r1 eval``) or an
experiment folder (its ``runs/*`` are reported). Damaged, missing or half-written files are shown on the page and
listed here as warnings; only folders that do not exist are an error (most likely a mistyped path).
"""

from __future__ import annotations

from pathlib import Path

import typer

from perception_r1.cli.errors import fail


def report(
    run_dirs: list[Path] = typer.Argument(..., help="Training, evaluation or experiment folders, in page order."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file to write."),
    title: str = typer.Option("Perception-R1 report", "--title", help="Page title."),
    label: list[str] = typer.Option(
        None, "--label", help="Name of each RUN_DIR on the page (repeat once per folder; default: folder names)."
    ),
) -> None:
    """Write one self-contained HTML report (charts, tables, rollouts with filters) of one or more runs."""
    from perception_r1.io_utils import atomic_write_text
    from perception_r1.report.page import build_report, collect_runs

    missing = [str(p) for p in run_dirs if not p.is_dir()]
    if missing:
        fail(f"not a folder: {', '.join(missing)}")
    if output.is_dir():
        fail(f"-o {output} is a folder; give the HTML file to write (e.g. {output / 'report.html'})")
    if label and len(label) != len(run_dirs):
        fail(f"--label given {len(label)} time(s) for {len(run_dirs)} RUN_DIR(s); give one per folder")
    runs, notes = collect_runs(run_dirs, label or None)
    for run in runs:
        for status in run.files:
            if status.state in ("corrupt", "partial") or not run.exists:
                typer.echo(f"warning: {run.label}: {status.name}: {status.state}: {status.detail}", err=True)
    atomic_write_text(output, build_report(runs, title=title, notes=notes))
    n_rollouts = sum(len(run.samples) for run in runs)
    n_items = sum(len(rows) for run in runs for rows in run.items.values())
    typer.echo(f"wrote {output} ({len(runs)} run(s), {n_rollouts} rollout(s), {n_items} evaluation item(s))")
