"""The experiment report's Markdown tables: training dynamics windows and the paired per-step differences."""

from __future__ import annotations

import pytest

from perception_r1.experiment.report import compare_runs, mcnemar_table
from perception_r1.experiment.report_md import costs_table, reading_line, split_line, training_table


def _run(perception: list[float | None], accuracy: list[float | None], steps: list[int] | None = None) -> dict:
    n = len(perception)
    return {
        "steps": steps or list(range(1, n + 1)),
        "components": {"accuracy": accuracy, "perception": perception, "format": [1.0] * n, "repetition": [0.0] * n},
        "frac_reward_zero_std": [0.0] * n,
        "mean_timing_s": {"transformers.generate": 1.5, "compute_loss": 0.5, "_calculate_rewards": 0.25},
        "mean_step_s": 2.5,
    }


def test_arms_are_compared_with_the_frozen_control_step_by_step_and_across_seeds() -> None:
    frozen = _run([0.2, 0.2, 0.2, 0.2], [0.5] * 4)
    training = {
        "rlvr": {"0": _run([0.2, 0.2, 0.3, 0.5], [0.5] * 4), "1": _run([0.2, 0.2, 0.4, 0.4], [0.5] * 4)},
        "perception_r1": {"0": _run([0.2] * 4, [0.5] * 4), "1": _run([0.2] * 4, [0.5] * 4)},
        "frozen": {"0": frozen, "1": frozen},
    }
    compared = compare_runs(training)
    assert set(compared) == {"rlvr_minus_frozen", "perception_r1_minus_frozen", "perception_r1_minus_rlvr"}
    rl = compared["rlvr_minus_frozen"]["perception"]
    # per seed: the mean difference over the second half of the steps (steps 3 and 4)
    assert rl["per_seed"]["0"]["second_half"] == pytest.approx(0.2) and rl["per_seed"]["1"]["second_half"] == 0.2
    # across seeds: the mean and a t-interval over the two seeds (identical seeds: zero width)
    assert rl["second_half"]["mean"] == pytest.approx(0.2) and rl["second_half"]["ci95"] == pytest.approx([0.2, 0.2])
    assert rl["second_half"]["unit"] == "seed"
    row = next(r for r in training_table({"seeds": [0, 1], "training_compared": compared}).splitlines()
               if r.startswith("| rlvr_minus_frozen | perception |"))  # fmt: skip
    assert row == "| rlvr_minus_frozen | perception | +0.200 | +0.200 | +0.200 [+0.200, +0.200] (n=2) |"


@pytest.mark.parametrize(
    ("training", "pairs"),
    [
        # no frozen runs (grpo.frozen off, or a folder made before it): only the arms against each other
        ({"rlvr": {"0": _run([0.1], [0.1])}, "perception_r1": {"0": _run([0.2], [0.1])}},
         {"perception_r1_minus_rlvr"}),
        # an arm without runs: nothing to compare it with
        ({"rlvr": {}, "perception_r1": {"0": _run([0.2], [0.1])}, "frozen": {"0": _run([0.1], [0.1])}},
         {"perception_r1_minus_frozen"}),
    ],
)  # fmt: skip
def test_only_runs_that_exist_are_compared(training: dict, pairs: set) -> None:
    assert set(compare_runs(training)) == pairs


def test_costs_table_lists_every_run_with_its_step_split() -> None:
    summary = {
        "training": {"rlvr": {"0": _run([0.1], [0.1])}, "frozen": {"0": {**_run([0.1], [0.1]), "peak_rss_mb": 900}}}
    }
    rows = costs_table(summary).splitlines()
    assert rows[2] == "| rlvr | 0 | 1 | 2.5 | 1.5 | 0.5 | 0.25 | n/a |"
    assert rows[3].startswith("| frozen | 0 |") and rows[3].endswith("| 900 |")


@pytest.mark.parametrize(
    ("seeds_summed", "expected"),
    [
        (3, "pseudo-replicated: 3 seeds on the same problems"),  # summed counts are labelled as what they are
        (1, "(one seed: the test on its left)"),  # one seed: no sum, the per-seed test is all there is
    ],
)
def test_mcnemar_table_labels_counts_summed_over_seeds(seeds_summed: int, expected: str) -> None:
    per_seed = [{"seed": s, "b": 2, "c": 1, "p_value": 1.0} for s in range(seeds_summed)]
    block = {"b": 2 * seeds_summed, "c": seeds_summed, "p_value": 0.5, "seeds_summed": seeds_summed,
             "per_seed": per_seed}  # fmt: skip
    row = mcnemar_table({"mcnemar": {"rlvr_vs_warmup": {"answer": block}}}).splitlines()[2]
    assert "seed 0: 2, 1, 1" in row and expected in row


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
