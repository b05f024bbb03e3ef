"""Resuming a run's JSONL logs: stale rows go, torn lines are set aside with a warning, and a metrics row the
checkpoint's log history holds is rebuilt from it; nothing disappears without a word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.train.run_logs import RESTORED_KEY, resume_log

ROW = {1: '{"step": 1, "epoch": 0.5, "loss": 0.1}\n', 2: '{"step": 2, "epoch": 1.0, "loss": 0.2}\n',
       3: '{"step": 3, "epoch": 1.5, "loss": 0.3}\n'}  # fmt: skip
HISTORY = [{"loss": 0.1, "epoch": 0.5, "step": 1}, {"loss": 0.2, "epoch": 1.0, "step": 2}]


@pytest.mark.parametrize(
    ("text", "step", "history", "steps", "restored", "malformed"),
    [
        # a clean resume at step 2: step 3 is stale and goes, nothing else changes
        (ROW[1] + ROW[2] + ROW[3], 2, HISTORY, [1, 2], [], []),
        # the issue: the step-2 row torn, still in the checkpoint's history -> rebuilt, the torn text set aside
        (ROW[1] + ROW[2][:17] + "\n" + ROW[3], 2, HISTORY, [1, 2], [2], [2]),
        # a torn last line (the process died mid-write) after the checkpoint: stale anyway, set aside
        (ROW[1] + ROW[2] + ROW[3][:12], 2, HISTORY, [1, 2], [], [3]),
        # a row missing altogether (a write that never happened) is rebuilt as well
        (ROW[2] + ROW[3], 2, HISTORY, [1, 2], [1], []),
        # samples.jsonl has no history: a torn line is only set aside and reported
        (ROW[1] + ROW[2][:17] + "\n", 2, None, [1], [], [2]),
        # a fresh start (step 0): every step row is stale
        (ROW[1] + ROW[2], 0, [], [], [], []),
    ],
)
def test_resume_log(tmp_path: Path, caplog, text, step, history, steps, restored, malformed) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(text)
    with caplog.at_level("INFO"):
        repair = resume_log(path, step, history, "checkpoint-2/trainer_state.json")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == steps
    assert repair.restored == restored and repair.malformed == malformed
    for row in rows:
        if row["step"] in restored:  # the same figures as the lost row, marked
            assert row == {**json.loads(ROW[row["step"]]), RESTORED_KEY: "checkpoint-2/trainer_state.json"}
    aside = path.with_name("metrics.jsonl.malformed")
    assert aside.is_file() == bool(malformed)
    if malformed:  # the raw text is kept, with its line number, and the warning says where it went
        assert aside.read_text().startswith(f"line {malformed[0]}: ")
        assert "metrics.jsonl.malformed" in caplog.text


def test_an_untouched_log_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(ROW[1] + ROW[2])
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert resume_log(path, 2, HISTORY).restored == []
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_a_missing_log_is_nothing_to_do(tmp_path: Path) -> None:
    assert resume_log(tmp_path / "metrics.jsonl", 3, HISTORY) is None


def test_a_torn_line_over_the_size_limit_is_named_not_copied(tmp_path: Path, monkeypatch) -> None:
    # A write cut short can leave megabytes of garbage on one line: the log is read in bounded memory, and so is
    # the copy set aside, which names the line and its size instead of holding it.
    monkeypatch.setenv("PERCEPTION_R1_MAX_LINE_MB", "0.01")  # about 10 kB
    path = tmp_path / "metrics.jsonl"
    path.write_text(ROW[1] + "x" * 50_000 + "\n" + ROW[2][:17] + "\n" + ROW[3])
    repair = resume_log(path, 3, None)
    assert repair.malformed == [2, 3]
    aside = path.with_name("metrics.jsonl.malformed").read_text().splitlines()
    assert aside == ["line 2: [50000 bytes, over the line limit]", "line 3: " + ROW[2][:17]]
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 3]
