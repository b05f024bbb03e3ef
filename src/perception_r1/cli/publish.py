"""``perception-r1 publish RUN_DIR DEST`` and ``perception-r1 publish --check DEST``: results folders with raw data.

The first writes DEST from an experiment folder (``perception_r1.experiment.publish``: the recipe, split records,
every graded test item, every run's per-step logs and rollouts, the stage summaries; no weights, checkpoints or
images; JSONL gzip-compressed), regenerates its summary and reports from those records alone and checks them. The
second checks a published folder: every figure of its summary recomputes from its records, its files are the
ones published.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perception_r1.cli.errors import fail


def publish(
    folders: list[Path] = typer.Argument(
        ..., help="RUN_DIR DEST (an experiment folder, the results folder); with --check: DEST only."
    ),  # fmt: skip
    check: bool = typer.Option(False, "--check", help="Only check DEST: every figure recomputes from its records."),
) -> None:
    """Publish an experiment folder as a results folder with its raw records, or check one (--check)."""
    if check:
        if len(folders) != 1:
            fail(f"--check takes one folder (DEST), got {len(folders)}")
        _check(folders[0])
        return
    if len(folders) != 2:
        fail(f"expected RUN_DIR DEST, got {len(folders)} folder(s)")
    run_dir, dest = folders
    if not run_dir.is_dir():
        fail(f"{run_dir}: no such folder")
    from perception_r1.experiment.publish import publish as write

    try:
        manifest = write(run_dir, dest)
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))
    for note in manifest["notes"]:
        typer.echo(f"note: {note}", err=True)
    largest = sorted(manifest["files"].items(), key=lambda kv: -kv[1]["bytes"])[:3]
    shown = ", ".join(f"{name} {entry['bytes'] / 1e6:.2f} MB" for name, entry in largest)
    typer.echo(
        f"published {dest}: {len(manifest['files'])} files, {manifest['bytes'] / 1e6:.2f} MB (largest: {shown}); "
        f"seeds reported: {manifest['seeds']}"
    )
    _report_check(dest, manifest["check"], bool(manifest["seeds"]))


def _check(dest: Path) -> None:
    from perception_r1.experiment.recompute import check_folder

    if not dest.is_dir():
        fail(f"{dest}: no such folder")
    _report_check(dest, check_folder(dest), (dest / "summary.json").is_file())


def _report_check(dest: Path, problems: list[str], summarized: bool) -> None:
    if problems:
        for problem in problems:
            typer.echo(f"{dest}: {problem}", err=True)
        fail(f"{dest}: {len(problems)} problem(s): its figures do not all recompute from its records", code=1)
    if summarized:
        typer.echo(f"check: every figure of {dest} recomputes from its records; its files are as published")
    else:
        typer.echo(f"check: {dest} holds its files as published; no seed evaluated yet, so no figures to recompute")
