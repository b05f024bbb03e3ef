"""Output folders and their disk: a writability check before the work starts, and full or read-only disks named in
one line instead of a traceback.

Why: a command that writes its results only after loading a model (or training for an hour) should learn before
that that its output folder is on a read-only or full disk. And when a disk fills up mid-run, the failure surfaces
through many layers: ``OSError(ENOSPC)`` from Python's own writes, ``SafetensorError('... No space left on device
(os error 28)')`` from safetensors (Rust), ``RuntimeError('... unexpected pos 576 vs 534')`` from ``torch.save``,
which names no errno at all. :func:`disk_error` reduces all of them to one ``OSError`` with an errno and a folder,
and :func:`describe_disk_error` to the one line the CLI prints.

Example:
    >>> import errno
    >>> describe_disk_error(OSError(errno.EROFS, "Read-only file system", "runs/a/metrics.jsonl"))
    'runs/a/metrics.jsonl: read-only file system (EROFS); choose a writable output folder'
"""

from __future__ import annotations

import errno
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Errnos that mean "this disk cannot take the output", as opposed to a bug: the CLI names them in one line.
DISK_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large for the file system or the process's file size limit",
}
_ADVICE = {
    errno.ENOSPC: "free space there (or choose another output folder) and run the command again",
    errno.EDQUOT: "free space there (or choose another output folder) and run the command again",
    errno.EACCES: "check its permissions, or choose another output folder",
    errno.EPERM: "check its permissions, or choose another output folder",
    errno.EFBIG: "choose another output folder",
}
# Rust's std::io errors (safetensors, tokenizers) end with "(os error N)".
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")
# Free bytes under which a failed write (one that named no errno) is taken for a full disk: a write that failed
# for lack of space left less than one write buffer behind.
FULL_DISK_BYTES = 64 * 2**20
PROBE_BYTES = 4096


def free_bytes(path: str | Path) -> int:
    """Bytes this process may still write on the file system holding ``path`` (or its nearest existing parent).

    Root may write into the blocks that ext4 reserves, so it gets ``f_bfree``; others get ``f_bavail``.
    """
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = os.statvfs(probe)
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and write, flush and delete a small probe file in it.

    Returns:
        The folder.

    Raises:
        OSError: with the errno (EROFS, EACCES, ENOSPC, ...) and the folder as ``filename``, so that the CLI names
            both; ``NotADirectoryError`` when ``folder`` is a file.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(folder)) from None
    probe = folder / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)  # tmpfs and some network disks only report ENOSPC when the data is flushed
        finally:
            os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(folder)) from exc
    finally:
        try:
            probe.unlink()
        except FileNotFoundError:
            pass
    return folder


def disk_error(exc: BaseException, folder: str | Path | None = None) -> OSError | None:
    """The disk failure behind ``exc``, as an ``OSError`` with errno and path; None when it is not one.

    Args:
        exc: Any exception raised while writing (its ``__cause__``/``__context__`` chain is searched too).
        folder: Where the failed write went. An exception that names no errno (``torch.save``'s RuntimeError) is
            taken for a full disk only when this folder's disk has less than :data:`FULL_DISK_BYTES` free.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_ERRNOS:
            return current
        match = _RUST_OS_ERROR.search(str(current))
        if match and int(match.group(1)) in DISK_ERRNOS:
            code = int(match.group(1))
            return OSError(code, os.strerror(code), str(folder) if folder is not None else None)
        current = current.__cause__ or current.__context__
    if folder is not None and not isinstance(exc, OSError):
        try:
            full = free_bytes(folder) < FULL_DISK_BYTES
        except OSError:
            full = False
        if full:
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))
    return None


def describe_disk_error(exc: OSError) -> str:
    """One line naming the path and what the errno means, with what to do (see the module example)."""
    code = exc.errno if exc.errno is not None else 0
    meaning = DISK_ERRNOS.get(code, (exc.strerror or str(exc)).lower())
    name = errno.errorcode.get(code, str(code))
    where = exc.filename if exc.filename is not None else "output"
    advice = _ADVICE.get(code, "choose a writable output folder")
    return f"{where}: {meaning} ({name}); {advice}"


@contextmanager
def disk_errors(folder: str | Path) -> Iterator[None]:
    """Within the block, a write that failed for lack of space or permission raises ``OSError`` (errno, path)
    chained to the original exception (see :func:`disk_error`); every other exception passes unchanged."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        found = disk_error(exc, folder)
        if found is None:
            raise
        raise found from exc
