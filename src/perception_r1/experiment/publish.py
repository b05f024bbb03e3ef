"""``perception-r1 publish RUN_DIR DEST``: a results folder with the raw records, from which every figure recomputes.

From a finished (or partial) experiment folder it writes, without model weights, checkpoints or images::

    published.json                  manifest: source, every file with its size and sha256, notes (written last)
    NOTE.md                         kept from what DEST held (the curator's note), if there is one; not in the
                                    manifest, so it may be edited afterwards
    recipe.json, timings.json       as the run wrote them
    summary.json, report.md, report.html, plots/*.png   regenerated here from the records below alone
    data/summary.json               rows per split and family
    data/splits.jsonl.gz            which problems were train / val / test: split, id, family, problem key
                                    (family, variant, values) and, for val/test, the rendered instance's digest
    policy/policy_build.json        the built policy's shape and parameter count
    reading/, warmup/               summary.json (loss curve) and trainer_state.json (the trainer's log history:
                                    loss, grad norm, learning rate per logged step) of each stage that ran
    runs/<arm>-seed<k>/             metrics.jsonl.gz (every logged step), samples.jsonl.gz (rollouts), summary.json,
                                    recipe.json, memory.json
    eval/<policy>/                  items.jsonl.gz (every test response with its per-fact grades), summary.json

Every JSONL file is gzip-compressed; the project's readers read ``.jsonl.gz`` wherever they read ``.jsonl``
(:func:`perception_r1.io_utils.iter_jsonl`), so ``perception-r1 report DEST`` shows the runs and their rollouts and
:func:`perception_r1.experiment.recompute.check_folder` recomputes ``summary.json`` from DEST alone. DEST is
built beside itself and swapped in whole; it replaces only an earlier publish (a folder with ``published.json``) or
a results folder of the earlier kind (only NOTE.md, report.md, report.html, summary.json, timings.json and
plots/*.png), never a folder with other files or sub-folders.

Example:
    >>> manifest = publish(Path("runs/experiment"), Path("docs/results/new-run"))  # doctest: +SKIP
    >>> manifest["bytes"], manifest["check"]  # doctest: +SKIP
    (2841236, [])
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from perception_r1.experiment.recompute import (
    MANIFEST,
    NOTE,
    check_folder,
    rebuild_summary,
    recipe,
)
from perception_r1.io_utils import atomic_folder, atomic_gzip_copy, atomic_write_json, atomic_write_jsonl, file_sha256

# Files copied as they are, relative to the experiment folder (those absent are skipped).
PLAIN = ("recipe.json", "timings.json", "data/summary.json", "policy/policy_build.json", "reading/summary.json",
         "warmup/summary.json")  # fmt: skip
RUN_FILES = ("summary.json", "recipe.json", "memory.json")
RUN_LOGS = ("metrics.jsonl", "samples.jsonl")


# A results folder as committed before publish existed: these files only (plots/*.png besides).
EARLIER_KIND = {NOTE, "report.md", "report.html", "summary.json", "timings.json"}


def _replaceable(path: Path) -> bool:
    """An earlier publish, or a results folder of the earlier kind: publish may replace it (keeping NOTE.md)."""
    if (path / MANIFEST).is_file():
        return True
    names = [p.relative_to(path) for p in path.rglob("*") if not p.is_dir()]
    return all(
        str(n) in EARLIER_KIND or (n.parent == Path("plots") and n.suffix == ".png" and not n.is_symlink())
        for n in names
    )


def publish(run_dir: Path, dest: Path) -> dict[str, Any]:
    """Write the results folder ``dest`` from the experiment folder ``run_dir`` and check it.

    Args:
        run_dir: An experiment folder (``perception-r1 experiment``'s output), finished or not.
        dest: The results folder to write: absent, empty, or an earlier publish (its ``NOTE.md`` is kept).

    Returns:
        The manifest (also ``published.json``): ``source``, ``files`` (path -> bytes, sha256), ``bytes``,
        ``seeds`` (reported) and ``notes`` (what is missing or stale), and ``check``: the problems
        :func:`~perception_r1.experiment.recompute.check_folder` found (empty when every figure recomputes).

    Raises:
        ValueError: ``run_dir`` is not an experiment folder (no ``recipe.json`` or no data stage).
        FileExistsError: ``dest`` holds files an earlier publish did not write.
    """
    run_dir, dest = Path(run_dir), Path(dest)
    for needed in ("recipe.json", "data/summary.json"):
        if not (run_dir / needed).is_file():
            raise ValueError(f"{run_dir}: no {needed}; not an experiment folder whose data stage has run")
    keep = dest / NOTE
    note = keep.read_text(encoding="utf-8") if keep.is_file() and _replaceable(dest) else None
    with atomic_folder(dest, _replaceable) as stage:
        notes = copy_records(run_dir, stage)
        if note is not None:
            (stage / NOTE).write_text(note, encoding="utf-8")
        provenance = None
        if (run_dir / "summary.json").is_file():  # where the figures were made; a partial run has not said yet
            provenance = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        report = _write_report(stage, provenance)
        if report is not None and provenance is None:
            notes.append("command and machine: not recorded by the experiment (no summary.json yet): this machine's")
        atomic_write_json(stage / MANIFEST, {"source": str(run_dir.resolve())})  # replaceable until finished
    summary = None
    if report is None:
        notes.append("no seed has both arms evaluated on the whole test split: no summary.json or report written")
    else:
        # The HTML page names its run folders by path: written where the folder now is; the manifest last.
        from perception_r1.experiment.report_md import render_html

        summary, plots, samples = report
        render_html(dest, summary, {name: dest / "plots" / path.name for name, path in plots.items()}, samples)
    manifest = write_manifest(dest, run_dir, notes, summary)
    manifest["check"] = check_folder(dest)
    return manifest


def copy_records(run_dir: Path, stage: Path) -> list[str]:
    """Copy the raw records of ``run_dir`` into ``stage`` (see the module docstring); returns notes on what is
    missing or stale."""
    from perception_r1.experiment.evaluate import ITEMS_FILE
    from perception_r1.experiment.perception_metrics import GRADER_VERSION

    notes: list[str] = []
    for name in PLAIN:
        if (run_dir / name).is_file():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / name, stage / name)
    for stage_name in ("reading", "warmup"):
        state = _newest_trainer_state(run_dir / stage_name)
        if state is not None:  # a stage still running has one too: its log history so far
            (stage / stage_name).mkdir(exist_ok=True)
            shutil.copyfile(state, stage / stage_name / "trainer_state.json")
    atomic_write_jsonl(stage / "data" / "splits.jsonl.gz", split_rows(run_dir / "data"))
    for run in sorted(p for p in (run_dir / "runs").glob("*") if p.is_dir()):
        out = stage / "runs" / run.name
        out.mkdir(parents=True)
        for name in RUN_FILES:
            if (run / name).is_file():
                shutil.copyfile(run / name, out / name)
        for name in RUN_LOGS:
            if (run / name).is_file():
                atomic_gzip_copy(run / name, out / f"{name}.gz")
        if not (run / "summary.json").is_file():
            notes.append(f"runs/{run.name}: not finished (no summary.json); its logs so far are included")
    for folder in sorted(p for p in (run_dir / "eval").glob("*") if p.is_dir()):
        out = stage / "eval" / folder.name
        out.mkdir(parents=True)
        if (folder / ITEMS_FILE).is_file():
            atomic_gzip_copy(folder / ITEMS_FILE, out / f"{ITEMS_FILE}.gz")
        summary = folder / "summary.json"
        if summary.is_file():
            shutil.copyfile(summary, out / "summary.json")
            grader = json.loads(summary.read_text(encoding="utf-8")).get("grader")
            if grader != GRADER_VERSION:
                notes.append(f"eval/{folder.name}: graded by grader {grader}, today's is {GRADER_VERSION} "
                             "(rerun the experiment to regrade its stored responses)")  # fmt: skip
        else:
            notes.append(f"eval/{folder.name}: not finished (no summary.json)")
    return notes


def _newest_trainer_state(stage: Path) -> Path | None:
    """The ``trainer_state.json`` of a stage's newest checkpoint (its whole log history), or None."""
    from perception_r1.train.checkpoints import TRAINER_STATE, checkpoint_dirs

    return next((f / TRAINER_STATE for _, f in checkpoint_dirs(stage) if (f / TRAINER_STATE).is_file()), None)


def split_rows(data: Path) -> list[dict[str, Any]]:
    """One record per row of the experiment's splits: ``split``, ``id``, ``family``, ``key`` (the problem key:
    family, variant and values) and, for val/test, ``instance`` (the rendered problem's digest, which decides the
    evaluated rows: the first of each instance). No images, no question text."""
    from perception_r1.experiment.data import load_split, problem_key

    out = []
    for split in ("train", "val", "test"):
        for row in load_split(data, split):
            meta = json.loads(row.get("meta") or "{}")
            record = {"split": split, "id": row["id"], "family": meta.get("family"), "key": problem_key(row, "key")}
            if split != "train":
                record["instance"] = problem_key(row, "instance")
            out.append(record)
    return out


def _write_report(
    folder: Path, provenance: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Path], list[dict[str, Any]]] | None:
    """``summary.json``, ``report.md`` and the plots from ``folder``'s records alone (``command`` and ``machine``
    from ``provenance``: see :func:`~perception_r1.experiment.recompute.rebuild_summary`).

    Returns:
        The summary, the plots and the sample rollouts (for ``report.html``), or None when no seed can be
        reported yet (nothing is written then).
    """
    from perception_r1.experiment.report_md import write_report_files

    summary = rebuild_summary(folder, provenance)
    if summary is None:
        return None
    plots, samples = write_report_files(folder, recipe(folder), summary)
    return summary, plots, samples


def write_manifest(dest: Path, run_dir: Path, notes: list[str], summary: dict[str, Any] | None) -> dict[str, Any]:
    """``published.json``: every file of ``dest`` with its size and sha256, the total, the notes."""
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        name = str(path.relative_to(dest))
        if name not in (MANIFEST, NOTE):  # the curator's note may be edited after publishing
            files[name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    manifest = {
        "source": str(run_dir.resolve()),
        "seeds": summary["seeds"] if summary else [],
        "bytes": sum(f["bytes"] for f in files.values()),
        "files": files,
        "notes": notes,
    }
    atomic_write_json(dest / MANIFEST, manifest)
    return manifest
