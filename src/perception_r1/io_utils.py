"""Small I/O helpers shared by every pipeline: atomic writes and JSONL reading with line-numbered errors."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` and move it into place only when the block succeeds.

    A crash mid-write leaves the previous version of ``path`` (or nothing) instead of a truncated file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``."""
    with atomic_open(path) as handle:
        handle.write(text)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Atomically write ``rows`` as JSON lines; returns the number of rows written."""
    n = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


class JsonlError(ValueError):
    """A JSONL line could not be read; the message names the file and the 1-based line number."""

    def __init__(self, path: str | Path, line_no: int, reason: str) -> None:
        super().__init__(f"{path}:{line_no}: {reason}")
        self.path = str(path)
        self.line_no = line_no
        self.reason = reason


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | JsonlError]]:
    """Yield ``(line_no, row)`` for each non-blank line, or ``(line_no, JsonlError)`` for a malformed one.

    The caller decides whether an error stops the run or is skipped and counted.
    """
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, JsonlError(path, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(row, dict):
                yield line_no, JsonlError(path, line_no, f"expected a JSON object, got {type(row).__name__}")
                continue
            yield line_no, row
