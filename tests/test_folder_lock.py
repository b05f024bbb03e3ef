"""One writer per output folder: refused with the holder's details, released when the holder dies however it
dies, waiting where asked, and the ranks of one torchrun launch sharing the folder while a second launch is
refused. Every case runs real processes (the lock is between processes)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from perception_r1.folder_lock import FolderBusyError, FolderLock, claims_output_folder, lock_details
from support.cli_runs import error_lines, holder_pid, start_cli, wait_for


def _hold(folder: Path, release: Path, *extra: str):
    run = start_cli(str(folder), str(release), *extra, module="support.hold_folder")
    wait_for(lambda: (folder / "rank-0.held").exists(), what="the holder to take the folder", run=run)
    return run


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    folder, release = tmp_path / "out", tmp_path / "release"
    holder = _hold(folder, release)
    try:
        with pytest.raises(FolderBusyError) as caught:
            FolderLock(folder, "eval").acquire()
        message = str(caught.value)
        # who (what, pid, host), since when, and with which command line; and what to do
        for part in (str(folder), "test hold", f"pid {holder.pid}", socket.gethostname(), "hold_folder"):
            assert part in message
        assert "started 20" in message and "choose another output folder" in message
        assert caught.value.holder is not None and caught.value.holder.pid == holder.pid
    finally:
        release.touch()
        assert holder.finish().returncode == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])  # no cleanup at all / Python's default exit
def test_the_lock_dies_with_its_holder(tmp_path: Path, sig: signal.Signals) -> None:
    folder = tmp_path / "out"
    holder = _hold(folder, tmp_path / "never")
    os.kill(holder.pid, sig)
    holder.finish()
    with FolderLock(folder, "train"):  # taken at once: no stale lock to clean up
        assert lock_details(folder)["pid"] == os.getpid()


def test_waiting_instead_of_refusing(tmp_path: Path) -> None:
    folder, release = tmp_path / "out", tmp_path / "release"
    first = _hold(folder, release)
    second = start_cli(str(folder), str(tmp_path / "release2"), "--wait", module="support.hold_folder")
    try:
        time.sleep(1.5)  # time for the second to start and block (it must not enter while the first holds)
        assert second.proc.poll() is None
        assert holder_pid(folder) == first.pid and (folder / "rank-0.held").read_text() == str(first.pid)
        release.touch()
        assert first.finish().returncode == 0
        wait_for(lambda: holder_pid(folder) == second.pid, what="the waiting process to take over", run=second)
    finally:
        release.touch()
        (tmp_path / "release2").touch()
    done = second.finish()
    assert done.returncode == 0 and "waiting for it to finish" in done.stderr


def test_the_same_process_re_enters_and_releases_level_by_level(tmp_path: Path) -> None:
    outer = FolderLock(tmp_path, "experiment").acquire()
    inner = FolderLock(tmp_path, "train").acquire()  # e.g. a stage that claims the folder its caller holds
    inner.release()
    probe = start_cli(str(tmp_path), str(tmp_path / "release"), module="support.hold_folder")
    assert probe.finish().returncode == 2  # still held by the outer level
    outer.release()
    (tmp_path / "release").touch()
    assert start_cli(str(tmp_path), str(tmp_path / "release"), module="support.hold_folder").finish().returncode == 0


def test_a_folder_that_cannot_be_written_is_named_before_the_call(tmp_path: Path) -> None:
    calls = []
    claimed = claims_output_folder("train", lambda folder: folder)(calls.append)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        claimed(tmp_path / "file")
    assert calls == []


@pytest.mark.integration
def test_the_ranks_of_one_launch_share_the_folder_and_a_second_launch_is_refused(tmp_path: Path) -> None:
    folder, release = tmp_path / "out", tmp_path / "release"
    torchrun = ("--standalone", "--nproc_per_node", "2", "-m", "support.hold_folder", str(folder), str(release))
    first = start_cli(*torchrun, module="torch.distributed.run")
    try:
        # both ranks of the first launch are inside the claimed call at the same time
        wait_for(lambda: all((folder / f"rank-{r}.held").exists() for r in (0, 1)), 300, "both ranks", first)
        second = start_cli(*torchrun, module="torch.distributed.run").finish(300)
        assert second.returncode != 0
        refusals = error_lines(second.stderr)
        assert refusals and f"pid {int((folder / 'rank-0.held').read_text())}" in refusals[0]
    finally:
        release.touch()
    assert first.finish(300).returncode == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 0),  # not launched
        ({"RANK": "1"}, 1),  # torchrun / accelerate launch
        ({"OMPI_COMM_WORLD_RANK": "3"}, 3),  # mpirun (Open MPI), as accelerate reads it
        ({"PMI_RANK": "2"}, 2),  # MPICH / Intel MPI
        ({"RANK": "x"}, 0),  # unreadable: treated as the main process (it takes the lock)
    ],
)
def test_launch_rank(monkeypatch, env: dict, expected: int) -> None:
    from perception_r1.ranks import RANK_VARIABLES, rank

    for name in RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert rank() == expected


def test_only_the_main_process_of_a_launch_takes_the_lock(tmp_path: Path, monkeypatch) -> None:
    seen = []
    claimed = claims_output_folder("train", lambda folder: folder)(lambda folder: seen.append(lock_details(folder)))
    monkeypatch.setenv("RANK", "1")
    claimed(tmp_path)  # another rank of a launch: the folder is checked, not locked
    monkeypatch.setenv("RANK", "0")
    claimed(tmp_path)
    assert seen[0] is None and seen[1]["pid"] == os.getpid()


# A process that takes the folder's lock, names `pid` as the holder, and lets go after `hold_s` seconds.
_HOLD_AS = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
holder = {"what": "train", "pid": int(sys.argv[2]), "host": sys.argv[3], "started": "-", "command": "x"}
os.pwrite(fd, json.dumps(holder).encode(), 0)
print("held", flush=True)
time.sleep(float(sys.argv[4]))
"""


@pytest.mark.parametrize(
    ("holder_alive", "hold_s"),
    [
        (False, 3),  # the named holder is gone (killed a moment ago): wait for the kernel to free the lock
        (True, 60),  # the named holder runs: refused at once, without the grace a dying holder gets
    ],
)
def test_a_holder_that_is_gone_is_waited_for_briefly(tmp_path: Path, holder_alive: bool, hold_s: int) -> None:
    import fcntl
    import subprocess
    import sys

    folder = tmp_path / "out"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names no process now
    named = os.getppid() if holder_alive else dead.pid
    lock_file = folder / ".perception-r1.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AS, str(lock_file), str(named), socket.gethostname(), str(hold_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        probe = os.open(lock_file, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # the lock is held when the command starts
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
        start = time.monotonic()
        if holder_alive:
            with pytest.raises(FolderBusyError, match=f"pid {named}"):
                FolderLock(folder, "train").acquire()
            assert time.monotonic() - start < 10  # not the 30 s grace
        else:
            with FolderLock(folder, "train"):  # taken once the holder let go, not refused
                assert lock_details(folder)["pid"] == os.getpid()
    finally:
        proc.kill()
        proc.wait()


def test_the_recorded_command_line_masks_credentials(monkeypatch) -> None:
    from perception_r1.folder_lock import command_line

    argv = ["perception-r1", "train", "r.yaml", "--judge.base_url", "http://user:pw@host/v1",
            "--judge.headers", "Authorization: Bearer abc.def", "--judge.key", "sk-abcdefghijklmnop123"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    text = command_line()
    # shown to whoever is refused the folder: no password, bearer token or key in it
    assert "pw@" not in text and "abc.def" not in text and "sk-abcdefghijklmnop123" not in text
    assert text.startswith("perception-r1 train r.yaml") and "//***@host" in text
