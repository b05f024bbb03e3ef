"""A run's JSONL logs (``metrics.jsonl``, ``samples.jsonl``) brought back to its checkpoint's step on resume,
without losing a line silently.

A run resumed at step S logs steps S+1... again, so the rows the interrupted run wrote after S are stale and go.
A line cut by the interruption (a torn write: the process died mid-line) cannot be parsed, and cannot be trusted
to belong to the rows kept. What happens to it:

* ``metrics.jsonl``: every row is one Trainer log, which the checkpoint also holds (``trainer_state.json``'s
  ``log_history``). A logged step of that history without its row in the file is restored from it (marked
  ``restored_from``; the step-time split, ``timing/*``, is not in the history and stays missing).
* Every malformed line is set aside byte for byte in ``<file>.malformed`` (``line N: ...``) and a warning names
  the file, the lines and where they went; nothing is dropped without a word.

Example:
    >>> log_row(3, 0.5, {"loss": 0.25, "reward": float("nan"), "note": "text"})
    {'step': 3, 'epoch': 0.5, 'loss': 0.25, 'reward': None}
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.io_utils import JsonlError, atomic_write_jsonl, iter_jsonl, line_limit, read_line

log = logging.getLogger(__name__)
RESTORED_KEY = "restored_from"
# The per-step rollout shares by answer and perception that train.callbacks logs and the experiment's mechanism
# analysis reads: correct answer with a perception reward below 1 ("lucky"), and correct with perception reward 1.
LUCKY_KEY, RIGHT_KEY = "rollouts/correct_wrong_perception", "rollouts/correct_right_perception"


def clean_number(value: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None (strict JSON readers reject NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def log_row(step: int, epoch: float | None, logs: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics.jsonl`` row of one Trainer log: step, epoch and every numeric (or null) value."""
    row: dict[str, Any] = {"step": step, "epoch": clean_number(epoch)}
    row.update({k: clean_number(v) for k, v in logs.items() if isinstance(v, (int, float)) or v is None})
    return row


@dataclass
class LogRepair:
    """What :func:`resume_log` did to one file.

    Attributes:
        file: The log's path.
        dropped: Rows after the resume step (stale: they are logged again).
        restored: Steps whose rows were rebuilt from the checkpoint's log history.
        malformed: Line numbers of the lines set aside in ``<file>.malformed``.
    """

    file: str
    dropped: int = 0
    restored: list[int] = field(default_factory=list)
    malformed: list[int] = field(default_factory=list)


def _matches(row: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether ``row`` is the file's copy of the history entry (same step, every logged key present)."""
    keys = [k for k, v in entry.items() if isinstance(v, (int, float)) or v is None]
    return row.get("step") == entry.get("step") and all(k in row for k in keys)


def _restore(
    rows: list[dict[str, Any]], history: list[dict[str, Any]], source: str
) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows plus a rebuilt row for every history entry that has none; sorted by step (ties keep their order)."""
    unmatched = list(rows)
    rebuilt = []
    for entry in history:
        twin = next((r for r in unmatched if _matches(r, entry)), None)
        if twin is not None:
            unmatched.remove(twin)
            continue
        logs = {k: v for k, v in entry.items() if k not in ("step", "epoch")}
        rebuilt.append({**log_row(int(entry["step"]), entry.get("epoch"), logs), RESTORED_KEY: source})
    merged = sorted(rows + rebuilt, key=lambda r: r.get("step", 0) if isinstance(r.get("step"), int) else 0)
    return merged, [int(r["step"]) for r in rebuilt]


def resume_log(
    path: str | Path, step: int, history: list[dict[str, Any]] | None = None, source: str = "the checkpoint"
) -> LogRepair | None:
    """Bring a JSONL log back to ``step`` (see the module docstring); None when the file does not exist.

    Args:
        path: ``metrics.jsonl`` or ``samples.jsonl`` of the run.
        step: The step the run resumes from (0: a fresh start, every step row is stale).
        history: The checkpoint's ``log_history`` (``metrics.jsonl`` only): missing rows are rebuilt from it.
        source: Where the history comes from, recorded in rebuilt rows.
    """
    path = Path(path)
    if not path.is_file():
        return None
    repair = LogRepair(str(path))
    kept: list[dict[str, Any]] = []
    bad: list[JsonlError] = []
    for _, row in iter_jsonl(path):
        if isinstance(row, JsonlError):
            bad.append(row)
        elif isinstance(row.get("step"), int) and row["step"] > step:
            repair.dropped += 1
        else:
            kept.append(row)
    if bad:
        _set_aside(path, bad)
        repair.malformed = [e.line_no for e in bad]
    if history is not None:
        logged = [h for h in history if isinstance(h.get("step"), int) and 0 < h["step"] <= step]
        kept, repair.restored = _restore(kept, logged, source)
    if repair.dropped or bad or repair.restored:
        atomic_write_jsonl(path, kept)
        _report(repair, step)
    return repair


def _set_aside(path: Path, bad: list[JsonlError]) -> None:
    """Append the raw text of the malformed lines to ``<file>.malformed`` (kept for inspection, never parsed).

    Read in bounded memory, as the log itself is: a line over the size limit (:func:`line_limit`) is named there
    with its size, not copied.
    """
    wanted = {e.line_no for e in bad}
    limit = line_limit()
    with open(path, "rb") as source, open(path.with_name(path.name + ".malformed"), "ab") as sink:
        line_no = 0
        while wanted:
            raw, size = read_line(source, limit)
            if raw == b"":  # the end
                break
            line_no += 1
            if line_no in wanted:
                wanted.discard(line_no)
                kept = raw.rstrip(b"\r\n") if raw is not None else f"[{size} bytes, over the line limit]".encode()
                sink.write(f"line {line_no}: ".encode() + kept + b"\n")


def _report(repair: LogRepair, step: int) -> None:
    if repair.dropped:
        log.info("%s: %d row(s) after step %d dropped (they are logged again)", repair.file, repair.dropped, step)
    if repair.malformed:
        log.warning(
            "%s: line(s) %s malformed (a write cut short); kept in %s.malformed",
            repair.file,
            ", ".join(map(str, repair.malformed)),
            Path(repair.file).name,
        )
    if repair.restored:
        counts = Counter(repair.restored)
        steps = ", ".join(f"{s}" + (f" (x{n})" if n > 1 else "") for s, n in sorted(counts.items()))
        log.warning("%s: row(s) of step(s) %s restored from the checkpoint's log history", repair.file, steps)
