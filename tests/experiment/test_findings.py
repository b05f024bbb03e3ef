"""The report's first lines: result cases -> the exact lines the fixed rules give."""

from __future__ import annotations

import pytest

from perception_r1.experiment.findings import RULES, blind_line, comparison_line, findings, training_line


def _tests(*tests: tuple[int, int, float]) -> dict:
    """A McNemar block from per-seed (b, c, p)."""
    return {"per_seed": [{"seed": i, "b": b, "c": c, "p_value": p} for i, (b, c, p) in enumerate(tests)]}


def _diff(mean: float, ci: list[float] | None, n: int) -> dict:
    return {"mean": mean, "ci95": ci, "per_seed": [mean] * n, "unit": "seed"}


def _summary(comparison: str, outcome: str, tests: dict, diff: dict) -> dict:
    figure = {"perception": "perception_accuracy", "answer": "answer_accuracy"}[outcome]
    return {"mcnemar": {comparison: {outcome: tests}}, "differences": {comparison: {figure: diff}}}


@pytest.mark.parametrize(
    ("comparison", "outcome", "tests", "diff", "expected"),
    [
        # the audit's case: three seeds, none significant, the mean's interval across 0
        ("perception_r1_vs_rlvr", "perception", _tests((10, 11, 0.94), (12, 9, 0.52), (8, 10, 0.61)),
         _diff(-0.003, [-0.020, 0.014], 3),
         "Not shown: Perception-R1 differs from RLVR in per-problem perception (per-seed exact McNemar p = 0.94, "
         "0.52, 0.61; mean difference -0.3 points [-2.0, +1.4] over 3 seeds)."),
        # every seed significant in the mean's direction and the interval clear of 0
        ("perception_r1_vs_rlvr", "perception", _tests((30, 5, 1e-5), (25, 6, 0.0005), (28, 9, 0.002)),
         _diff(0.051, [0.020, 0.082], 3),
         "Shown: Perception-R1 is above RLVR in per-problem perception (per-seed exact McNemar p = 1e-05, 0.0005, "
         "0.002; mean difference +5.1 points [+2.0, +8.2] over 3 seeds)."),
        # every seed significant, but one in the other direction: not shown
        ("rlvr_vs_warmup", "answer", _tests((30, 5, 1e-5), (5, 30, 1e-5), (28, 9, 0.002)),
         _diff(0.03, [0.001, 0.059], 3),
         "Not shown: RLVR differs from the warm-up in answer accuracy (per-seed exact McNemar p = 1e-05, 1e-05, "
         "0.002; mean difference +3.0 points [+0.1, +5.9] over 3 seeds)."),
        # every seed significant in one direction, but the seeds vary so much that the interval crosses 0
        ("rlvr_vs_warmup", "perception", _tests((2, 12, 0.01), (1, 40, 1e-9), (3, 90, 1e-20)),
         _diff(-0.137, [-0.504, 0.230], 3),
         "Not shown: RLVR differs from the warm-up in per-problem perception (per-seed exact McNemar p = 0.01, 1e-09, "
         "1e-20; mean difference -13.7 points [-50.4, +23.0] over 3 seeds)."),
        # one seed, significant: shown for that seed only, which says nothing about another seed
        ("perception_r1_vs_warmup", "perception", _tests((1, 12, 0.003)), _diff(-0.05, None, 1),
         "Shown for one seed only: Perception-R1 is below the warm-up in per-problem perception (per-seed exact "
         "McNemar p = 0.003; mean difference -5.0 points (one seed))."),
        # one seed, not significant
        ("perception_r1_vs_warmup", "answer", _tests((5, 6, 1.0)), _diff(-0.004, None, 1),
         "Not shown: Perception-R1 differs from the warm-up in answer accuracy (per-seed exact McNemar p = 1; mean "
         "difference -0.4 points (one seed))."),
        # significant tests but no difference in the means (impossible in practice; never "shown")
        ("perception_r1_vs_rlvr", "answer", _tests((20, 2, 1e-4), (2, 20, 1e-4)), _diff(0.0, [-0.1, 0.1], 2),
         "Not shown: Perception-R1 differs from RLVR in answer accuracy (per-seed exact McNemar p = 0.0001, 0.0001; "
         "mean difference +0.0 points [-10.0, +10.0] over 2 seeds)."),
    ],
)  # fmt: skip
def test_test_split_claims(comparison: str, outcome: str, tests: dict, diff: dict, expected: str) -> None:
    assert comparison_line(_summary(comparison, outcome, tests, diff), comparison, outcome) == expected


def _blind_summary(warmup: float, blind: float, b: int, c: int, p: float) -> dict:
    return {
        "n_test": 462,
        "arms": {"warmup": {"perception_accuracy": {"mean": warmup}}},
        "baselines": {"blind": {"perception_accuracy": blind}},
        "mcnemar": {"warmup_vs_blind": {"perception": {"b": b, "c": c, "p_value": p}}},
    }


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # the warm-up reads the figure: well above chance
        (_blind_summary(0.158, 0.022, 68, 5, 3.5e-14),
         "Shown: the warm-up reads the figure above the image-blind baseline (perception 15.8% vs 2.2% of 462 test "
         "problems, exact McNemar b=68, c=5, p=3.5e-14; one warm-up)."),
        # above, but not significantly
        (_blind_summary(0.04, 0.03, 9, 5, 0.42),
         "Not shown: the warm-up reads the figure above the image-blind baseline (perception 4.0% vs 3.0% of 462 "
         "test problems, exact McNemar b=9, c=5, p=0.42; one warm-up)."),
        # significantly different, but below the baseline: not reading
        (_blind_summary(0.01, 0.06, 1, 24, 1.5e-6),
         "Not shown: the warm-up reads the figure above the image-blind baseline (perception 1.0% vs 6.0% of 462 "
         "test problems, exact McNemar b=1, c=24, p=1.5e-06; one warm-up)."),
        # no baseline in the summary (made before it existed): no line
        ({"arms": {}, "mcnemar": {}}, None),
    ],
)  # fmt: skip
def test_the_warmup_against_the_blind_baseline(summary: dict, expected: str | None) -> None:
    assert blind_line(summary) == expected


def _training(mean: float, ci: list[float] | None, n: int) -> dict:
    late = _diff(mean, ci, n)
    return {"training_compared": {"rlvr_minus_frozen": {"accuracy": {"per_seed": {}, "second_half": late}}}}


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # the interval over seeds is clear of 0
        (_training(0.05, [0.01, 0.09], 3),
         "Shown: RLVR raises the training accuracy reward against the frozen control (second half of the steps: "
         "+0.050 [+0.010, +0.090] over 3 seeds)."),
        (_training(-0.05, [-0.09, -0.01], 3),
         "Shown: RLVR lowers the training accuracy reward against the frozen control (second half of the steps: "
         "-0.050 [-0.090, -0.010] over 3 seeds)."),
        # the interval crosses 0
        (_training(0.02, [-0.01, 0.05], 3),
         "Not shown: RLVR moves the training accuracy reward away from the frozen control on the same prompts "
         "(second half of the steps: +0.020 [-0.010, +0.050] over 3 seeds)."),
        # one seed: no interval, nothing shown, however large the difference
        (_training(0.3, None, 1),
         "Not shown: RLVR moves the training accuracy reward away from the frozen control on the same prompts "
         "(second half of the steps: +0.300 (one seed))."),
        # no frozen control runs
        ({"training_compared": {"perception_r1_minus_rlvr": {}}},
         "Not tested: RLVR moves the training accuracy reward away from the frozen control on the same prompts (no "
         "frozen control runs: grpo.frozen was off or the folder predates it)."),
    ],
)  # fmt: skip
def test_training_rewards_against_the_frozen_control(summary: dict, expected: str) -> None:
    assert training_line(summary, "rlvr", "accuracy") == expected


def test_findings_list_shown_claims_first_and_end_with_the_rules() -> None:
    blind = _blind_summary(0.04, 0.03, 9, 5, 0.42)
    arm = _summary("rlvr_vs_warmup", "perception", _tests((1, 12, 0.003)), _diff(-0.05, None, 1))
    summary = {**blind, **arm, **_training(0.05, [0.01, 0.09], 3), "mcnemar": {**blind["mcnemar"], **arm["mcnemar"]}}
    lines = findings(summary)
    prefixes = [line.split(":")[0] for line in lines]
    # shown, then for one seed only, then not shown, then not tested; claims without figures are left out
    assert prefixes == ["Shown", "Shown for one seed only", "Not shown", "Not tested", "Not tested", "Not tested",
                        "Rules"]  # fmt: skip
    assert lines[0].startswith("Shown: RLVR raises the training accuracy") and lines[-1] == RULES
