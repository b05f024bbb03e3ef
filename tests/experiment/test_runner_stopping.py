"""Stopping ``perception-r1 experiment`` while its GRPO runs train in worker processes (``workers: 2``): SIGTERM
stops every run within seconds, SIGKILL of the experiment takes its workers along, and the run folders are free:
the rerun after the SIGTERM trains on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml

from perception_r1.folder_lock import FolderLock
from support.cli_runs import descendants, processes_gone, start_cli, wait_for
from support.toy_experiment import TOY

pytestmark = pytest.mark.integration
RUNS = ("rlvr-seed0", "perception_r1-seed0")


def _steps(root: Path, run: str) -> int:
    path = root / "runs" / run / "metrics.jsonl"
    return sum('"loss"' in line for line in path.read_text().splitlines()) if path.is_file() else 0


def test_stopping_the_experiment_stops_its_runs(tmp_path):
    root = tmp_path / "exp"
    # Far more steps than the test waits for: the runs are stopped mid-training every time.
    recipe = {**TOY, "output_dir": str(root), "grpo": {**TOY["grpo"], "max_steps": 5000, "save_steps": 2}}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(recipe))
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGKILL, -9)):
        before = {run: _steps(root, run) for run in RUNS}
        run = start_cli("experiment", str(tmp_path / "toy.yaml"))
        try:
            # both runs train at once, in two worker processes
            training = lambda b=before: all(_steps(root, r) >= b[r] + 3 for r in RUNS)  # noqa: E731
            wait_for(training, 600, "both runs training", run)
            workers = descendants(run.pid)
            os.kill(run.pid, sig)
            assert run.proc.wait(60) == code
            # SIGTERM: the experiment stops its workers; SIGKILL: the kernel stops them (PR_SET_PDEATHSIG)
            assert processes_gone(workers, within_s=30), f"a worker outlived the experiment ({sig.name})"
        finally:
            if run.proc.poll() is None:
                run.proc.kill()
            run.finish()
        for name in RUNS:  # no run folder is still held: a rerun is not refused
            with FolderLock(root / "runs" / name, "test", wait=False):
                pass
