"""One writer per output folder: ``train``, ``eval`` and ``experiment`` hold an exclusive lock on the folder they
write, and a second command aimed at the same folder is refused with the holder's pid, host, command and start
time (or, where asked, waits for it).

How:
    * The lock is ``fcntl.flock`` on ``<folder>/.perception-r1.lock``. The kernel drops it when the holding process
      ends, however it ends (exception, SIGKILL, out of memory), so a dead run never blocks its folder and there is
      no stale lock to clean up. The file also records who holds it (JSON), for the refusal message.
    * Multi-process launches (``torchrun``, ``accelerate launch``) start one process per rank, all pointed at the
      same folder. Only the launch's main process (``RANK`` 0, or no ``RANK``) takes the lock, so the ranks of one
      run never block each other; in a second launch on the same folder, rank 0 is refused and the launcher stops
      that launch's other ranks (torchrun ends every worker when one fails).
    * A holder that is dead or dying (killed, a zombie, SIGKILL pending) is waited for, up to ``ENDING_GRACE_S``:
      the kernel frees the lock only once the process is torn down, a moment after ``kill -9`` returns.
    * Re-entrant within a process: a function holding a folder may call another that claims the same folder.
    * Every command also checks first that the folder is writable (:func:`perception_r1.disk.check_writable`), so
      a read-only or full disk is named before any model is loaded.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, FolderLock(tmp, "eval"), FolderLock(tmp, "eval"):
    ...     lock_details(tmp)["what"]  # the same process re-enters; the file names the holder
    'eval'
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import re
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from perception_r1.disk import check_writable
from perception_r1.ranks import is_main_process
from perception_r1.redact import redact

log = logging.getLogger(__name__)

LOCK_FILE = ".perception-r1.lock"
# How long a command waits for a holder that is already dead or dying (killed) to let go of the folder.
ENDING_GRACE_S = 30.0
P = ParamSpec("P")
R = TypeVar("R")

_HELD: dict[str, tuple[FolderLock, int]] = {}  # resolved folder -> (the lock holding it, nesting depth)
_HELD_GUARD = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """Who holds a folder: written into the lock file by the holder, read by whoever is refused."""

    what: str
    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def current(cls, what: str) -> Holder:
        """This process, doing ``what`` (``train``, ``eval``...)."""
        return cls(what, os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S %z"), command_line())

    def describe(self) -> str:
        return f"{self.what} (pid {self.pid} on {self.host}, started {self.started}: {self.command})"


def command_line() -> str:
    """This process's command line as a shell would show it (credentials masked, at most 400 characters)."""
    argv = list(sys.argv) or ["python"]
    if Path(argv[0]).name in ("perception-r1", "main.py", "__main__.py"):
        argv[0] = "perception-r1"
    # Credentials in URLs, and any key or token the redaction knows (a --judge.api_key on the command line): the
    # command is shown to whoever is refused the folder.
    text = redact(re.sub(r"//[^/@\s]+@", "//***@", shlex.join(argv)))
    return text if len(text) <= 400 else text[:397] + "..."


class FolderBusyError(RuntimeError):
    """The output folder is held by another run; the message names the holder and what to do."""

    def __init__(self, folder: str | Path, holder: Holder | None) -> None:
        who = holder.describe() if holder else "a process that has not written its details yet"
        super().__init__(
            f"{folder} is in use by another run: {who}; wait for it to finish, or choose another output folder"
        )
        self.folder = str(folder)
        self.holder = holder


class FolderLock:
    """An exclusive lock on an output folder (see the module docstring).

    Args:
        folder: The output folder (created if needed).
        what: What the holder does, shown to whoever is refused (``train``, ``eval``, ``experiment``...).
        wait: Wait for the holder to finish instead of raising :class:`FolderBusyError`.
    """

    def __init__(self, folder: str | Path, what: str, *, wait: bool = False) -> None:
        self.folder = Path(folder)
        self.what = what
        self.wait = wait
        self._fd: int | None = None
        self._key = ""

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    def acquire(self) -> FolderLock:
        """Take the lock (or re-enter it in this process).

        Raises:
            FolderBusyError: another process holds it (unless ``wait``).
            OSError: the folder cannot be created or written.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        self._key = str(self.folder.resolve())
        with _HELD_GUARD:
            if self._key in _HELD:
                lock, depth = _HELD[self._key]
                _HELD[self._key] = (lock, depth + 1)
                return self
        # Locked outside the guard: a waiting lock must not stop other threads from taking or releasing theirs.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            self._lock(fd)
            me = json.dumps(asdict(Holder.current(self.what))).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, me + b"\n", 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        with _HELD_GUARD:
            _HELD[self._key] = (self, 1)
        return self

    def _lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _read_holder(fd)
        if self.wait:
            who = holder.describe() if holder else "?"
            log.warning("%s is in use by %s; waiting for it to finish", self.folder, who)
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        # A holder killed a moment ago keeps the lock until the kernel has torn it down: give it that moment.
        if holder is not None and _ending(holder) and _lock_within(fd, ENDING_GRACE_S):
            return
        raise FolderBusyError(self.folder, holder)

    def release(self) -> None:
        """Release one level of the lock; the last release unlocks the file (which stays, empty of meaning)."""
        with _HELD_GUARD:
            lock, depth = _HELD.get(self._key, (self, 0))
            if depth > 1:
                _HELD[self._key] = (lock, depth - 1)
                return
            _HELD.pop(self._key, None)
            if lock._fd is not None:
                os.close(lock._fd)  # closing the descriptor releases the flock
                lock._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _ending(holder: Holder) -> bool:
    """Whether the holder is a process of this host that is gone or on its way out.

    A killed run (``kill -9``, a launcher that stops its ranks) keeps its lock until the kernel has torn the process
    down, which takes a moment for a process holding a model in memory: a rerun started right after the kill would
    otherwise be refused by a run that no longer exists.
    """
    if holder.host != socket.gethostname() or holder.pid == os.getpid():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    try:
        status = Path(f"/proc/{holder.pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    state = fields.get("State", "").strip()[:1]
    pending = 0
    for key in ("SigPnd", "ShdPnd"):
        with contextlib.suppress(ValueError):
            pending |= int(fields.get(key, "0").strip(), 16)
    return state in ("Z", "X") or bool(pending & (1 << (signal.SIGKILL - 1)))


def _lock_within(fd: int, seconds: float) -> bool:
    """Try the lock without blocking until it is free or ``seconds`` have passed; True if taken."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
    return False


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return Holder(**{k: data[k] for k in ("what", "pid", "host", "started", "command")})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not written yet (the holder just took the lock) or from another version


def claims_output_folder(
    what: str,
    folder_of: Callable[..., str | Path],
    *,
    check: Callable[..., object] | None = None,
    wait: bool = False,
    create: bool = True,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command's entry function: check its output folder is writable, then hold the folder's lock
    for the call (on the launch's main process only, see the module docstring).

    Args:
        what: Shown to a refused second writer (``train``, ``eval``...).
        folder_of: The output folder from the function's arguments.
        check: Called first with the function's arguments (settings validation): settings that fail leave no
            folder behind.
        wait: Wait for another holder instead of refusing.
        create: Create a missing folder; when False, a missing folder is left to the function (which reports it).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if check is not None:
                check(*args, **kwargs)
            folder = Path(folder_of(*args, **kwargs))
            if not create and not folder.is_dir():
                return fn(*args, **kwargs)
            check_writable(folder)
            if not is_main_process():
                return fn(*args, **kwargs)
            with FolderLock(folder, what, wait=wait):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def lock_details(folder: str | Path) -> dict[str, Any] | None:
    """What the lock file records (the current or the last holder), or None when there is none."""
    try:
        data = json.loads((Path(folder) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
