"""Small I/O helpers shared by every pipeline: atomic writes and JSONL reading with line-numbered errors.

JSONL lines are read with a size limit (:func:`line_limit`: 64 MiB, or ``PERCEPTION_R1_MAX_LINE_MB``, or the
caller's ``max_line_bytes``): a longer line is that line's error, skipped in bounded memory, instead of a
``json.loads`` of a string of any size (a 1 GB line took 8.2 GB before a ``MemoryError``).

JSONL files may be gzip-compressed (``name.jsonl.gz``, as in published result folders): :func:`iter_jsonl` and
:func:`count_jsonl_lines` read them transparently, and asked for ``name.jsonl`` that is absent they read
``name.jsonl.gz`` (:func:`jsonl_file`); :func:`atomic_write_jsonl` compresses when the name ends in ``.gz``.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_UMASK_LOCK = threading.Lock()
DEFAULT_MAX_LINE_BYTES = 64 * 2**20
MAX_LINE_ENV = "PERCEPTION_R1_MAX_LINE_MB"
_CHUNK = 2**20  # bytes read at a time where a line is skipped or lines are counted


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


GZIP_SUFFIX = ".gz"


def jsonl_file(path: str | Path) -> Path:
    """The file to read for the JSONL ``path``: ``path`` itself, or ``path.gz`` when only that exists.

    Readers ask for ``items.jsonl`` and find a published folder's ``items.jsonl.gz`` (and a ``.gz`` path is
    read as it is). Where neither exists, ``path`` (so that the caller's error names the plain name).

    Example:
        >>> jsonl_file("/nonexistent/metrics.jsonl").name
        'metrics.jsonl'
    """
    path = Path(path)
    if path.name.endswith(GZIP_SUFFIX) or path.exists():
        return path
    packed = path.with_name(path.name + GZIP_SUFFIX)
    return packed if packed.is_file() else path


def _open_bytes(path: Path) -> io.BufferedIOBase:
    """``path`` opened for reading bytes, decompressed when its name ends in ``.gz``."""
    if path.name.endswith(GZIP_SUFFIX):
        return gzip.GzipFile(path, "rb")
    return open(path, "rb")


def atomic_write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Atomically write ``rows`` as JSON lines, gzip-compressed when ``path`` ends in ``.gz``.

    The gzip header carries no time stamp, so the same rows give the same bytes.

    Returns:
        The number of rows written.
    """
    n = 0
    if not str(path).endswith(GZIP_SUFFIX):
        with atomic_open(path) as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                n += 1
        return n
    with atomic_open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        for row in rows:
            packed.write((json.dumps(row, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
            n += 1
    return n


def file_sha256(path: str | Path) -> str:
    """The SHA-256 hex digest of a file's bytes, read in 1 MiB blocks (bounded memory for any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_gzip_copy(source: str | Path, dest: str | Path) -> int:
    """Copy ``source`` into ``dest`` gzip-compressed, atomically, byte for byte (a torn last line stays torn).

    Returns:
        The compressed size in bytes.
    """
    with (
        open(source, "rb") as src,
        atomic_open(dest, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed,
    ):
        shutil.copyfileobj(src, packed, _CHUNK)
    return Path(dest).stat().st_size


class JsonlError(ValueError):
    """A JSONL line could not be read; the message names the file and the 1-based line number."""

    def __init__(self, path: str | Path, line_no: int, reason: str) -> None:
        super().__init__(f"{path}:{line_no}: {reason}")
        self.path = str(path)
        self.line_no = line_no
        self.reason = reason


def line_limit(limit: int | None = None) -> int:
    """The JSONL line size limit in bytes: ``limit``, else ``$PERCEPTION_R1_MAX_LINE_MB`` (MiB, may be
    fractional), else :data:`DEFAULT_MAX_LINE_BYTES` (64 MiB).

    Raises:
        ValueError: a limit below 1 byte, or an environment value that is not a number.
    """
    if limit is None:
        raw = os.environ.get(MAX_LINE_ENV, "").strip()
        try:
            limit = int(float(raw) * 2**20) if raw else DEFAULT_MAX_LINE_BYTES
        except ValueError:
            raise ValueError(f"{MAX_LINE_ENV}={raw!r}: expected a number of MiB") from None
    if limit < 1:
        raise ValueError(f"the JSONL line size limit must be at least 1 byte, got {limit}")
    return limit


def read_line(handle: IO[bytes] | io.BufferedIOBase, limit: int) -> tuple[bytes | None, int]:
    """The next line, read in chunks, and its size without the newline.

    Returns:
        ``(line, size)``; ``line`` is None when the line is longer than ``limit`` (its chunks are dropped as soon as
        that is certain: memory stays near ``limit``, whatever the line's length); ``(b"", 0)`` at the end.
    """
    parts: list[bytes] = []
    size, last = 0, b""
    while chunk := handle.readline(_CHUNK):
        size += len(chunk)
        last = (last + chunk[-2:])[-2:]
        if size <= limit + 2:  # room for the limit and "\r\n"
            parts.append(chunk)
        else:
            parts.clear()
        if chunk.endswith(b"\n"):
            break
    size -= 2 if last == b"\r\n" else last.endswith(b"\n")
    return (b"".join(parts) if size <= limit else None), size


def count_jsonl_lines(path: str | Path) -> int:
    """Non-blank lines of a file (gzip-compressed too, see :func:`jsonl_file`), read in bounded memory (for
    progress bars over files with long lines)."""
    count, blank = 0, True  # blank: the line being read has had only whitespace so far
    with _open_bytes(jsonl_file(path)) as handle:
        while chunk := handle.read(_CHUNK):
            for piece in chunk.split(b"\n")[:-1]:
                count += not (blank and not piece.strip())
                blank = True
            blank = blank and not chunk.rsplit(b"\n", 1)[-1].strip()
    return count + (not blank)


def iter_jsonl(
    path: str | Path, max_line_bytes: int | None = None
) -> Iterator[tuple[int, dict[str, Any] | JsonlError]]:
    """Yield ``(line_no, row)`` for each non-blank line, or ``(line_no, JsonlError)`` for a malformed one.

    Args:
        path: The JSONL file; ``name.jsonl.gz`` is decompressed, and ``name.jsonl`` that is absent is read from
            ``name.jsonl.gz`` where that exists (:func:`jsonl_file`).
        max_line_bytes: Longest line accepted, newline excluded (None: :func:`line_limit`); a longer line is
            a :class:`JsonlError` and is skipped without being held in memory.

    The caller decides whether an error stops the run or is skipped and counted. A compressed file cut short (or
    not gzip at all) ends with one :class:`JsonlError` after the lines read before the damage.
    """
    limit = line_limit(max_line_bytes)
    path = jsonl_file(path)
    # bytes: one line of invalid UTF-8 is that line's error, not the file's
    with _open_bytes(path) as handle:
        line_no = 0
        while True:
            try:
                raw, size = read_line(handle, limit)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # a cut or foreign .gz: the lines before stand
                yield line_no + 1, JsonlError(path, line_no + 1, f"unreadable gzip data ({exc})")
                break
            if raw == b"":
                break
            line_no += 1
            if raw is None:
                reason = f"line of {size} bytes is over the limit of {limit} bytes (raise it with {MAX_LINE_ENV})"
                yield line_no, JsonlError(path, line_no, reason)
                continue
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
