"""Small I/O helpers shared by every pipeline: atomic writes and JSONL reading with line-numbered errors."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """Permissions a plain ``open()`` / ``mkdir()`` would give: 0666 / 0777 minus the umask.

    ``tempfile`` creates files 0600 and folders 0700; atomic writes chmod their result to this so that outputs
    respect the umask like any other file.
    """
    return (0o777 if directory else 0o666) & ~current_umask()


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` and move it into place only when the block succeeds.

    A crash mid-write leaves the previous version of ``path`` (or nothing) instead of a truncated file.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; expected a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.chmod(tmp, default_mode())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_replaceable(path: str | Path, owned: Callable[[Path], bool]) -> None:
    """Raise ``FileExistsError`` unless ``path`` is absent, an empty folder, or a folder ``owned`` recognises as
    an earlier output of the same command (so replacing it deletes nothing the command did not write).

    A concurrent writer may move the folder aside or swap another in while it is examined; the verdict is only
    taken from a look during which ``path`` stayed the same folder.
    """
    path = Path(path)
    # One lstat, not exists() then is_dir(): a folder another writer moves aside between two calls would look
    # like a file. A symlink is refused too (lstat does not follow it).
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise FileExistsError(f"{path}: exists and is not a folder; choose a new or empty folder")
    for _ in range(100):
        try:
            before = os.stat(path)
            names = sorted(p.name for p in path.iterdir())
            foreign = bool(names) and not owned(path)
            after = os.stat(path)
        except FileNotFoundError:
            if not os.path.lexists(path):
                return  # absent (moved aside by another writer): nothing is left to protect
            continue  # swapped while we looked: look again
        if (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino):
            break
    else:
        raise FileExistsError(f"{path}: other writers kept replacing it; try again")
    if foreign:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise FileExistsError(
            f"{path}: refusing to replace a folder holding files this command did not write ({shown}); "
            "choose a new or empty folder"
        )


@contextmanager
def atomic_folder(path: str | Path, owned: Callable[[Path], bool]) -> Iterator[Path]:
    """Build a folder in a temporary sibling and swap it in whole when the block succeeds.

    A crash or kill leaves the previous version (or nothing) at ``path``, never a mix; concurrent writers each
    build their own folder and the last swap wins whole. An existing ``path`` is replaced only when
    :func:`check_replaceable` allows it (checked before the block runs and again at the swap).

    Yields:
        The empty staging folder to write into.

    Raises:
        FileExistsError: ``path`` is a file or a folder with files this command did not write.
    """
    path = Path(path)
    check_replaceable(path, owned)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        stage = work / "new"
        stage.mkdir()
        yield stage
        os.chmod(stage, default_mode(directory=True))
        _swap_in(stage, path, work, owned)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _swap_in(stage: Path, path: Path, work: Path, owned: Callable[[Path], bool]) -> None:
    moved: Path | None = None  # our own copy of the previous version, put back if the swap fails
    try:
        for attempt in range(100):
            try:
                os.rename(stage, path)  # atomic; also replaces an empty folder
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
            check_replaceable(path, owned)
            try:  # move the old version aside (it is deleted with the work folder once the new one is in place)
                os.rename(path, work / f"old-{attempt}")
                moved = work / f"old-{attempt}"
            except FileNotFoundError:  # another writer moved it first
                pass
        raise FileExistsError(f"{path}: other writers kept replacing it; try again")
    except BaseException:
        if moved is not None and not os.path.lexists(path):  # leave the previous version rather than nothing
            os.rename(moved, path)
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
    with open(path, "rb") as handle:  # bytes: one line of invalid UTF-8 is that line's error, not the file's
        for line_no, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield line_no, JsonlError(path, line_no, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
                continue
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
