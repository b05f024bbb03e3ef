"""Child processes stop with their parent: SIGTERM unwinds, a dead parent takes its pool workers along, a stopped
pool worker takes no more work, and a child that ignores SIGTERM is killed after the grace period. Every case runs
real processes and real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perception_r1.processes import stop_process
from support.cli_runs import processes_gone

# A parent that starts a 2-worker spawn pool (die_with_parent, run_stoppable) whose calls each record that they
# started, then block; it prints the worker pids and waits. argv: the folder the calls write into.
POOL_PARENT = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from pathlib import Path
    from perception_r1.processes import die_with_parent, exit_on_sigterm, run_stoppable, stop_pool

    def call(folder, i):
        Path(folder, f"started-{i}").touch()
        try:
            while True:
                time.sleep(0.05)
        finally:
            time.sleep(0.3)  # a clean-up that takes a while: the parent's SIGTERM after a Ctrl-C lands inside it
            Path(folder, f"unwound-{i}").touch()

    if __name__ == "__main__":
        exit_on_sigterm()
        folder = sys.argv[1]
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                                   initargs=(os.getpid(),))
        try:
            futures = [pool.submit(run_stoppable, call, folder, i) for i in range(4)]  # 2 run, 2 queued
            while len(list(Path(folder).glob("started-*"))) < 2:
                time.sleep(0.05)
            print(" ".join(str(p) for p in pool._processes), flush=True)
            while True:
                time.sleep(0.05)
        except BaseException:
            stop_pool(pool, grace_s=20)
            raise
""")


def _start_pool_parent(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    script = tmp_path / "parent.py"
    script.write_text(POOL_PARENT)
    # A group of its own, as a job a terminal starts: a Ctrl-C case signals the group without reaching pytest.
    parent = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert len(workers) == 2
    return parent, workers


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sig", "code"),
    [
        (signal.SIGTERM, 143),  # the parent stops its pool: workers unwind, the queued calls never start
        (signal.SIGKILL, -9),  # the parent dies outright: the kernel sends its workers SIGTERM (PR_SET_PDEATHSIG)
        (-signal.SIGINT, -2),  # Ctrl-C: SIGINT to the whole process group, the parent and its workers alike
    ],
)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_pool_workers_stop_with_their_parent(tmp_path, sig, code):
    parent, workers = _start_pool_parent(tmp_path)
    if sig < 0:  # to the group, as a terminal does
        os.killpg(parent.pid, -sig)
    else:
        os.kill(parent.pid, sig)
    assert parent.wait(30) == code
    assert processes_gone(workers, within_s=20), "a pool worker outlived its parent"
    names = sorted(p.name for p in tmp_path.glob("*-*"))
    # the running calls unwound (their finally blocks ran); the queued calls 2 and 3 never started
    assert names == ["started-0", "started-1", "unwound-0", "unwound-1"]


def test_a_second_sigterm_does_not_cut_the_clean_up_short(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(
        textwrap.dedent(f"""
        import time
        from pathlib import Path
        from perception_r1.processes import exit_on_sigterm
        exit_on_sigterm()
        Path({str(tmp_path)!r}, "ready").touch()
        try:
            time.sleep(60)
        finally:
            time.sleep(1.0)  # a slow clean-up, during which a second SIGTERM arrives
            Path({str(tmp_path)!r}, "cleaned").touch()
    """)
    )
    child = subprocess.Popen([sys.executable, str(script)])
    while not (tmp_path / "ready").exists():
        time.sleep(0.05)
    child.terminate()
    time.sleep(0.3)
    child.terminate()
    assert child.wait(30) == 143 and (tmp_path / "cleaned").exists()


@pytest.mark.parametrize(
    ("code", "grace_s", "expected"),
    [
        ("import time; time.sleep(60)", 10.0, -signal.SIGTERM),  # default SIGTERM handling: ends at once
        ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(60)",
         0.5, -signal.SIGKILL),  # ignores SIGTERM: killed once the grace period is over
    ],
)  # fmt: skip
def test_stop_process_terminates_then_kills(code, grace_s, expected):
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    if "SIG_IGN" in code:
        child.stdout.readline()  # the handler is in place
    start = time.monotonic()
    stop_process(child, grace_s=grace_s)
    assert child.returncode == expected and time.monotonic() - start < grace_s + 5
