"""Observability helpers: metrics rows, resume truncation, step-time capture, the reward plot."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from types import SimpleNamespace

import pytest

from perception_r1.train.callbacks import (
    LUCKY_KEY,
    METRICS_FILE,
    RIGHT_KEY,
    SAMPLES_FILE,
    MetricsCallback,
    StepTimes,
    answer_perception_shares,
    plot_rewards,
)


def _state(step, zero=True):
    return SimpleNamespace(global_step=step, epoch=step / 10, is_world_process_zero=zero)


def test_on_log_writes_json_safe_rows_with_timings_and_samples(tmp_path):
    times = StepTimes()
    cb = MetricsCallback(tmp_path, ["format"], samples_per_step=1, times=times)
    cb.trainer = SimpleNamespace(
        _logs={
            "prompt": [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}]] * 2,
            "completion": [[{"role": "assistant", "content": "a"}], [{"role": "assistant", "content": "b"}]],
            "rewards": {"format": [0.0, 1.0]},
            "advantages": [-1.0, 1.0],
            "extra": {"perception_verdicts": [[1], [0]]},
        }
    )
    cb.on_train_begin(None, _state(0), None)
    times.add("GRPOTrainer.transformers.generate", 1.5)
    cb.on_log(None, _state(1), None, logs={"reward": 0.5, "loss": float("nan"), "note": "text"})
    row = json.loads((tmp_path / METRICS_FILE).read_text())
    # NaN becomes null (strict JSON), non-numeric logs are dropped, timings are attached and then reset
    assert row == {"step": 1, "epoch": 0.1, "reward": 0.5, "loss": None, "timing/transformers.generate": 1.5}
    assert times.pop() == {}
    sample = json.loads((tmp_path / SAMPLES_FILE).read_text())
    # the last completion of the batch, with its scores and the judge's verdicts
    assert sample == {
        "step": 1,
        "prompt": "<image>Q",
        "completion": "b",
        "rewards": {"format": 1.0},
        "advantage": 1.0,
        "perception_verdicts": [0],
    }
    # the end-of-training summary log adds a metrics row but no duplicate samples
    cb.on_log(None, _state(1), None, logs={"train_runtime": 3.0})
    assert len((tmp_path / SAMPLES_FILE).read_text().splitlines()) == 1


def test_non_zero_ranks_write_nothing(tmp_path):
    cb = MetricsCallback(tmp_path / "run", ["format"])
    cb.on_train_begin(None, _state(0, zero=False), None)
    cb.on_log(None, _state(1, zero=False), None, logs={"loss": 1.0})
    assert not (tmp_path / "run").exists()


def test_resume_drops_rows_logged_after_the_checkpoint(tmp_path):
    (tmp_path / METRICS_FILE).write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)))
    MetricsCallback(tmp_path, []).on_train_begin(None, _state(2), None)
    assert [json.loads(line)["step"] for line in (tmp_path / METRICS_FILE).read_text().splitlines()] == [1, 2]


def test_step_times_capture_trl_profiling_and_restore_it():
    from trl.extras.profiling import ProfilingContext

    original = ProfilingContext._log_metrics
    times = StepTimes()
    with times.recording():
        ctx = ProfilingContext("GRPOTrainer._calculate_rewards", report_to=[], is_main_process=True)
        with ctx:
            pass
    assert ProfilingContext._log_metrics is original
    assert set(times.pop()) == {"_calculate_rewards"}


def test_plot_rewards_writes_a_png(tmp_path):
    rows = [{"step": s, "rewards/format/mean": s / 4, "rewards/format/std": 0.1, "reward": s / 4} for s in (1, 2, 3)]
    (tmp_path / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = plot_rewards(tmp_path / METRICS_FILE, tmp_path / "p.png", ["format", "perception"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("rewards", "expected"),
    [
        # lucky (right answer, perception 0.5), right (1, 1), wrong answer with right perception, wrong both
        ({"accuracy": [1.0, 1.0, 0.0, 0.0], "perception": [0.5, 1.0, 1.0, 0.0]}, {LUCKY_KEY: 0.25, RIGHT_KEY: 0.25}),
        # a completion either reward failed to score (NaN from TRL, or None) is left out of both counts
        ({"accuracy": [1.0, math.nan, 1.0], "perception": [0.0, 1.0, None]}, {LUCKY_KEY: 1.0, RIGHT_KEY: 0.0}),
        # no perception reward (an RLVR recipe that does not log it): nothing to split
        ({"accuracy": [1.0, 0.0], "format": [1.0, 1.0]}, {}),
        # nothing scored by both
        ({"accuracy": [math.nan], "perception": [1.0]}, {}),
    ],
)
def test_answer_perception_shares(rewards, expected):
    assert answer_perception_shares(rewards) == expected


def test_step_end_adds_the_shares_to_the_trainers_metrics(tmp_path):
    cb = MetricsCallback(tmp_path, ["accuracy", "perception"])
    metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    cb.trainer = SimpleNamespace(
        _logs={"rewards": {"accuracy": [1.0, 1.0], "perception": [0.5, 1.0]}}, _metrics=metrics
    )
    cb.on_step_end(None, _state(1), None)
    cb.on_step_end(None, _state(2), None)
    # TRL averages the values of the steps of one log and writes them with its own metrics
    assert metrics["train"] == {LUCKY_KEY: [0.5, 0.5], RIGHT_KEY: [0.5, 0.5]} and not metrics["eval"]
    MetricsCallback(tmp_path, []).on_step_end(None, _state(1), None)  # no trainer wired: nothing to do
