"""Progress of GRPO runs trained in other processes, read from their metrics.jsonl."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from perception_r1.experiment.progress import RunsProgress, RunStatus, run_status


def _write(folder: Path, rows: list[dict], torn: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows) + torn
    (folder / "metrics.jsonl").write_text(text)


@pytest.mark.parametrize(
    ("rows", "torn", "expected"),
    [
        # two steps logged, then the trainer's end-of-run row (no reward): 2 steps
        ([{"step": 1, "reward": 0.1, "step_time": 3.0}, {"step": 2, "reward": 0.3, "step_time": 5.0},
          {"step": 2, "train_runtime": 9.0}], "", RunStatus(2, 0.3, 4.0)),
        # a line still being written is not counted
        ([{"step": 1, "reward": 0.1, "step_time": 3.0}], '{"step": 2, "reward": 0.', RunStatus(1, 0.1, 3.0)),
        # nothing logged yet
        ([], "", RunStatus(0, None, None)),
    ],
)  # fmt: skip
def test_run_status(tmp_path, rows, torn, expected):
    _write(tmp_path / "run", rows, torn)
    assert run_status(tmp_path / "run") == expected


def test_progress_prints_lines_when_the_console_is_not_a_terminal(tmp_path):
    lines: list[str] = []
    runs = {"rlvr-seed0": tmp_path / "a", "perception_r1-seed0": tmp_path / "b"}
    console = Console(file=io.StringIO(), force_terminal=False)
    with RunsProgress(runs, total=4, announce=lines.append, every_s=0.0, console=console) as progress:
        _write(runs["rlvr-seed0"], [{"step": 1, "reward": 0.25, "step_time": 2.0}])
        progress.update()
        assert "GRPO rlvr-seed0: step 1/4, reward 0.250, 2.0 s/step" in lines
        assert "GRPO perception_r1-seed0: step 0/4" in lines
        _write(runs["rlvr-seed0"], [{"step": s, "reward": 0.5, "step_time": 2.0} for s in (1, 2, 3, 4)])
        progress.update()
    finished = [line for line in lines if line.startswith("GRPO rlvr-seed0: step 4/4")]
    assert len(finished) == 1  # a finished run is reported once, then left out
