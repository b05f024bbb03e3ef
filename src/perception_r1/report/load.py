"""Reading run folders for the report, tolerating runs that are still being written or damaged.

A run folder is whatever ``perception-r1 train`` (``metrics.jsonl``, ``samples.jsonl``, ``summary.json``,
``recipe.json``) or ``perception-r1 eval`` (``summary.json``, ``run.json``, ``items/<bench>.jsonl``) writes. An
experiment folder (``runs/<arm>-seed<k>/`` training runs plus its own ``summary.json``) expands into its runs.
Every JSONL file may be gzip-compressed (``metrics.jsonl.gz``...), as in a published results folder
(``perception-r1 publish``): it is read the same way.

Nothing here raises for a damaged file: each file read gets a :class:`FileStatus` (ok, missing, corrupt, or
still being written) that the page shows next to the run, so a half-written or broken run is never a blank page.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.io_utils import GZIP_SUFFIX, JsonlError, iter_jsonl, jsonl_file

METRICS_FILE = "metrics.jsonl"  # the names perception_r1.train.callbacks writes (not imported: it needs transformers)
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"
RECIPE_FILE = "recipe.json"
EVAL_RUN_FILE = "run.json"
EVAL_ITEMS_DIR = "items"
EXPERIMENT_RUNS_DIR = "runs"
MAX_LISTED_BAD_LINES = 5  # line numbers quoted in a status message; the rest are only counted


@dataclass
class FileStatus:
    """What happened when one file of a run was read.

    Attributes:
        name: Path relative to the run folder.
        state: ``ok``, ``missing``, ``corrupt`` (unreadable, or some lines skipped) or ``partial`` (the last line
            is incomplete: the file is still being written).
        detail: Human-readable reason (line numbers of skipped lines, the parse error...).
        rows: Rows read (JSONL) or 1 for a readable JSON file.
    """

    name: str
    state: str
    detail: str = ""
    rows: int = 0


@dataclass
class RunData:
    """Everything the report shows about one run folder.

    Attributes:
        path: The folder.
        label: Short name shown on the page.
        exists: False when the folder is absent (shown as such).
        metrics: Rows of ``metrics.jsonl``.
        samples: Rows of ``samples.jsonl``.
        summary: ``summary.json`` (training or evaluation), or None.
        recipe: ``recipe.json``, or None.
        eval_run: ``run.json`` of an evaluation, or None.
        items: Evaluation records by benchmark (``items/<bench>.jsonl``).
        files: Status of every file looked at, in reading order.
        group: Label of the experiment the run belongs to, or None.
    """

    path: Path
    label: str
    exists: bool = True
    metrics: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None
    eval_run: dict[str, Any] | None = None
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[FileStatus] = field(default_factory=list)
    group: str | None = None

    @property
    def is_eval(self) -> bool:
        """An evaluation folder: scored items, or a summary with per-benchmark results."""
        return bool(self.items) or (
            isinstance(self.summary, dict) and isinstance(self.summary.get("benchmarks"), dict)
        )

    @property
    def is_train(self) -> bool:
        """A training folder: metrics, samples or a recipe (any of them, a run may be just starting)."""
        return bool(self.metrics or self.samples or self.recipe) or any(
            _plain(f.name) in (METRICS_FILE, SAMPLES_FILE) and f.state != "missing" for f in self.files
        )

    @property
    def in_progress(self) -> bool:
        """A training run without its final summary, or with a file whose last line is still being written."""
        partial = any(f.state == "partial" for f in self.files)
        return partial or (self.is_train and not self.is_eval and self.summary is None)

    def reward_weights(self) -> dict[str, float]:
        """Reward name -> weight from ``summary.json`` (``rewards``) or ``recipe.json``; {} when unknown."""
        for source in (self.summary, self.recipe):
            weights = _weights_from(source)
            if weights:
                return weights
        return {}


def _weights_from(source: Any) -> dict[str, float]:
    """``{"rewards": {name: weight}}`` (training summary) or ``{"rewards": [{"name", "weight"}...]}`` (recipe)."""
    if not isinstance(source, dict):
        return {}
    rewards = source.get("rewards")
    out: dict[str, float] = {}
    if isinstance(rewards, dict):
        for name, weight in rewards.items():
            if isinstance(weight, (int, float)) and not isinstance(weight, bool):
                out[str(name)] = float(weight)
            elif isinstance(weight, dict) and isinstance(weight.get("weight"), (int, float)):
                out[str(name)] = float(weight["weight"])
    elif isinstance(rewards, list):
        for entry in rewards:
            if isinstance(entry, dict) and entry.get("name") and isinstance(entry.get("weight", 1.0), (int, float)):
                out[str(entry["name"])] = float(entry.get("weight", 1.0))
    return out


def _ends_with_newline(path: Path) -> bool:
    if path.name.endswith(GZIP_SUFFIX):  # no seeking from the end in a compressed stream: read it through
        import gzip
        import zlib

        last = b""
        try:
            with gzip.open(path, "rb") as packed:
                while chunk := packed.read(2**20):
                    last = chunk[-1:]
        except (OSError, EOFError, zlib.error):  # a cut or foreign stream: iter_jsonl reported it as the last line
            return True
        return last in (b"", b"\n")
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return True
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def read_jsonl(folder: Path, name: str) -> tuple[list[dict[str, Any]], FileStatus]:
    """Rows of ``folder/name`` (or of ``name.gz`` where only that exists) and how the read went.

    A malformed last line without a final newline is a write in progress (``partial``); other malformed lines
    are skipped and reported (``corrupt``) with their line numbers. The status names the file read.
    """
    path = jsonl_file(folder / name)
    name = str(path.relative_to(folder))
    if not path.is_file():
        return [], FileStatus(name, "missing", "not written (yet)")
    rows: list[dict[str, Any]] = []
    bad: list[JsonlError] = []
    try:
        last_line = 0
        for line_no, row in iter_jsonl(path):
            last_line = line_no
            if isinstance(row, JsonlError):
                bad.append(row)
            else:
                rows.append(row)
        # Only a malformed last line can be one still being written; only then is the file read again to see
        # whether it ends in a newline (for a .gz, a second decompression).
        torn = bool(bad) and bad[-1].line_no == last_line and not _ends_with_newline(path)
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # EOFError: a .gz cut short
        return rows, FileStatus(name, "corrupt", f"unreadable: {type(exc).__name__}: {exc}", len(rows))
    if torn:
        bad = bad[:-1]
    if bad:
        listed = ", ".join(str(e.line_no) for e in bad[:MAX_LISTED_BAD_LINES])
        more = f" and {len(bad) - MAX_LISTED_BAD_LINES} more" if len(bad) > MAX_LISTED_BAD_LINES else ""
        detail = f"{len(bad)} malformed line(s) skipped (line {listed}{more}: {bad[0].reason})"
        if torn:
            detail += "; last line still being written"
        return rows, FileStatus(name, "corrupt", detail, len(rows))
    if torn:
        return rows, FileStatus(name, "partial", f"last line (line {last_line}) still being written", len(rows))
    return rows, FileStatus(name, "ok", "", len(rows))


def mixed_runs(metrics: Sequence[dict[str, Any]]) -> str | None:
    """Why ``metrics`` looks like two runs written into one folder (steps logged twice, or going back), or None.

    Only training rows (those with a ``loss``) count: the end-of-training summary shares the last step's number.
    A resumed run is not flagged: it drops the rows logged after its checkpoint before logging again.
    """
    steps = [row["step"] for row in metrics if "loss" in row and isinstance(row.get("step"), int)]
    repeated = sorted(s for s, n in Counter(steps).items() if n > 1)
    back = next(((a, b) for a, b in zip(steps, steps[1:], strict=False) if b < a), None)
    if not repeated and back is None:
        return None
    parts = []
    if repeated:
        shown = ", ".join(map(str, repeated[:MAX_LISTED_BAD_LINES])) + (
            ", ..." if len(repeated) > MAX_LISTED_BAD_LINES else ""
        )
        parts.append(f"step(s) {shown} logged more than once")
    if back is not None:
        parts.append(f"the steps go back from {back[0]} to {back[1]}")
    return f"holds more than one run ({'; '.join(parts)}): its charts mix them"


def _flag_mixed_runs(status: FileStatus, metrics: Sequence[dict[str, Any]]) -> FileStatus:
    detail = mixed_runs(metrics)
    if detail is None:
        return status
    return FileStatus(status.name, "corrupt", "; ".join(d for d in (detail, status.detail) if d), status.rows)


def read_json(folder: Path, name: str) -> tuple[dict[str, Any] | None, FileStatus]:
    """A JSON object file, or None with the reason (missing, not JSON, not an object)."""
    path = folder / name
    if not path.is_file():
        return None, FileStatus(name, "missing", "not written (yet)")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, FileStatus(name, "corrupt", f"unreadable: {type(exc).__name__}: {exc}")
    except json.JSONDecodeError as exc:
        return None, FileStatus(name, "corrupt", f"not valid JSON ({exc.msg} at line {exc.lineno})")
    if not isinstance(value, dict):
        return None, FileStatus(name, "corrupt", f"expected a JSON object, got {type(value).__name__}")
    return value, FileStatus(name, "ok", "", 1)


def load_run(path: str | Path, label: str | None = None) -> RunData:
    """Read one run folder (training and/or evaluation); never raises for missing or damaged files.

    Args:
        path: The run folder.
        label: Name shown on the page (default: the folder's name).

    Returns:
        The :class:`RunData`, with a :class:`FileStatus` per file looked at.
    """
    folder = Path(path)
    run = RunData(path=folder, label=label or folder.name or str(folder))
    if not folder.is_dir():
        run.exists = False
        why = "a file, not a run folder" if folder.exists() else "no such folder"
        run.files.append(FileStatus("folder", "missing", f"{folder}: {why}"))
        return run
    run.metrics, status = read_jsonl(folder, METRICS_FILE)
    run.files.append(_flag_mixed_runs(status, run.metrics))
    run.samples, status = read_jsonl(folder, SAMPLES_FILE)
    run.files.append(status)
    run.summary, status = read_json(folder, SUMMARY_FILE)
    run.files.append(status)
    for name in (RECIPE_FILE, EVAL_RUN_FILE):
        value, status = read_json(folder, name)
        if status.state != "missing":  # optional files: listed only when present
            run.files.append(status)
        if name == RECIPE_FILE:
            run.recipe = value
        else:
            run.eval_run = value
    items_dir = folder / EVAL_ITEMS_DIR
    if items_dir.is_dir():
        for items_path in sorted([*items_dir.glob("*.jsonl"), *items_dir.glob("*.jsonl.gz")]):
            bench = items_path.name.removesuffix(GZIP_SUFFIX).removesuffix(".jsonl")
            if bench in run.items:  # both forms present: the plain file was read
                continue
            rows, status = read_jsonl(folder, f"{EVAL_ITEMS_DIR}/{items_path.name}")
            run.items[bench] = rows
            run.files.append(status)
    _drop_irrelevant_missing(run)
    return run


def _drop_irrelevant_missing(run: RunData) -> None:
    """An evaluation folder has no metrics/samples by design: do not flag them as missing there."""
    if run.is_eval and not run.is_train:
        run.files = [
            f for f in run.files if not (f.state == "missing" and _plain(f.name) in (METRICS_FILE, SAMPLES_FILE))
        ]


def is_experiment(path: Path) -> bool:
    """An experiment folder: ``runs/<name>/`` sub-folders that look like training runs."""
    runs = path / EXPERIMENT_RUNS_DIR
    return runs.is_dir() and any(_looks_like_run(p) for p in runs.iterdir() if p.is_dir())


def _looks_like_run(path: Path) -> bool:
    names = (METRICS_FILE, SAMPLES_FILE, METRICS_FILE + GZIP_SUFFIX, SAMPLES_FILE + GZIP_SUFFIX, SUMMARY_FILE,
             RECIPE_FILE)  # fmt: skip
    return any((path / name).exists() for name in names)


def _plain(name: str) -> str:
    """A file name without its ``.gz`` (``metrics.jsonl.gz`` -> ``metrics.jsonl``)."""
    return name.removesuffix(GZIP_SUFFIX)


def expand_run_dirs(
    paths: Sequence[str | Path], labels: Sequence[str] | None = None
) -> list[tuple[Path, str, str | None]]:
    """The run folders behind ``paths``: an experiment folder becomes its ``runs/*`` folders.

    Args:
        paths: Run or experiment folders, in page order.
        labels: One label per path (default: folder names; a run of an experiment is ``<label>/<run name>``
            when several folders are given).

    Returns:
        ``(run folder, label, group)`` triples; ``group`` is the experiment label, or None for a plain run.

    Raises:
        ValueError: when ``labels`` does not have one entry per path.
    """
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"labels: expected {len(paths)} (one per run folder), got {len(labels)}")
    base = [str(lb) for lb in labels] if labels is not None else _default_labels([Path(p) for p in paths])
    out: list[tuple[Path, str, str | None]] = []
    for path, label in zip((Path(p) for p in paths), base, strict=True):
        if path.is_dir() and is_experiment(path):
            subs = sorted(p for p in (path / EXPERIMENT_RUNS_DIR).iterdir() if p.is_dir())
            prefix = f"{label}/" if len(paths) > 1 else ""
            out.extend((sub, f"{prefix}{sub.name}", label) for sub in subs)
        else:
            out.append((path, label, None))
    return out


def _default_labels(paths: list[Path]) -> list[str]:
    """Folder names, with the parent's name added where two runs share a name."""
    names = [p.resolve().name or str(p) for p in paths]
    return [
        f"{p.resolve().parent.name}/{n}" if names.count(n) > 1 and p.resolve().parent.name else n
        for p, n in zip(paths, names, strict=True)
    ]
