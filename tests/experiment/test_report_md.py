"""The experiment report's Markdown tables: training dynamics windows and the paired per-step differences."""

from __future__ import annotations

import pytest

from perception_r1.experiment.report import _paired
from perception_r1.experiment.report_md import WINDOW, dynamics_table, paired_table, reading_line, split_line


def _run(perception: list[float | None], accuracy: list[float | None]) -> dict:
    n = len(perception)
    return {
        "steps": list(range(1, n + 1)),
        "components": {"accuracy": accuracy, "perception": perception, "format": [1.0] * n},
        "frac_reward_zero_std": [0.0] * n,
        "mean_timing_s": {},
    }


def test_dynamics_table_averages_the_first_and_last_window() -> None:
    rising = [0.0] * WINDOW + [1.0] * WINDOW  # the mean of each window is exact
    summary = {"training": {"rlvr": {"0": _run(rising, rising)}, "perception_r1": {}}}
    row = dynamics_table(summary).splitlines()[2]
    assert row.startswith("| rlvr | 0 | 0.00 → 1.00 | 0.00 → 1.00 |"), row
    header, rule = dynamics_table(summary).splitlines()[:2]
    # every row has as many columns as the header names
    assert row.count("|") == header.count("|") == rule.count("|")
    # a run logged before the repeated-tags metric existed says n/a in its column
    assert header.split(" | ")[5] == "repeated tags first→last"
    assert row.split(" | ")[5] == "n/a", row
    summary["training"]["rlvr"]["0"]["format_repeated_tags"] = [0.0] * WINDOW + [0.5] * WINDOW
    assert dynamics_table(summary).splitlines()[2].split(" | ")[5] == "0.00 → 0.50"


@pytest.mark.parametrize(
    ("pr", "rl", "expected"),
    [
        ([0.5, 0.7], [0.5, 0.5], "| 0 | 2 | +0.100 [-1.171, +1.371] | +0.200 |"),  # ahead in the second half
        ([0.4], [0.4], "| 0 | 1 | +0.000 | +0.000 |"),  # one step: no interval
    ],
)
def test_paired_table_subtracts_rlvr_step_by_step(pr, rl, expected) -> None:
    training = {"perception_r1": {"0": _run(pr, pr)}, "rlvr": {"0": _run(rl, rl)}}
    table = paired_table({"training_paired": _paired(training)})
    assert table.splitlines()[2].startswith(expected), table


def test_paired_table_is_empty_without_both_arms() -> None:
    training = {"perception_r1": {"0": _run([0.1], [0.1])}, "rlvr": {}}
    assert _paired(training) == {}
    assert len(paired_table({"training_paired": {}}).splitlines()) == 2  # header only


READING = {
    "steps": 2000, "figures": 3000, "val_figures": 154, "wall_s": 640.5,
    "val_read_before": {"cells": 0.0, "blank": 0.1}, "val_read_after": {"cells": 0.6779, "blank": 0.98},
}  # fmt: skip


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        (None, ""),  # no reading stage (reading.steps 0): nothing is said
        ({}, ""),  # an empty block, likewise
        (READING, "2000 steps on 3000 train figures"),  # its size
        (READING, "0.0% -> 67.8% of the labelled cells of 154 validation figures"),  # what it learnt, as percentages
    ],
)
def test_reading_line(reading, expected: str) -> None:
    line = reading_line(reading)
    assert (expected in line) if expected else line == ""


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        # held out by values: the twins are still stated, as counted
        ({"split_by": "key", "test": {"problems": 542, "keys": 77, "twins": 0}}, ["held out by values", "0 of 542"]),
        # an instance split says so, with its twins
        ({"split_by": "instance", "test": {"problems": 462, "keys": 262, "twins": 429}},
         ["**not held out by values**", "429 of 462", "262 distinct"]),
        # a summary made before splits were reported claims nothing
        (None, ["not recorded"]),
    ],
)  # fmt: skip
def test_split_line_states_how_the_test_was_held_out(split, expected: list) -> None:
    line = split_line(split)
    assert all(part in line for part in expected), line
