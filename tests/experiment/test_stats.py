"""Across-seed figures, Wilson intervals and the McNemar block of the experiment."""

from __future__ import annotations

import pytest

from perception_r1.experiment.stats import (
    across_seeds,
    binary_outcomes,
    mcnemar_block,
    seed_differences,
    step_difference,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("values", "mean", "sd", "has_ci"),
    [
        # three seeds: sample sd and a t-interval
        ([0.5, 0.6, 0.7], 0.6, 0.1, True),
        # one seed: no spread can be claimed
        ([0.42], 0.42, None, False),
        # identical seeds: zero-width interval
        ([0.3, 0.3], 0.3, 0.0, True),
    ],
)
def test_across_seeds(values: list, mean: float, sd: float | None, has_ci: bool) -> None:
    out = across_seeds(values)
    assert out["mean"] == pytest.approx(mean)
    assert (out["sd"] is None) == (sd is None)
    if sd is not None:
        assert out["sd"] == pytest.approx(sd)
    assert (out["ci95"] is not None) == has_ci
    if has_ci:
        lo, hi = out["ci95"]
        assert lo <= mean <= hi
    assert out["per_seed"] == values


def test_t_interval_matches_scipy() -> None:
    from scipy import stats

    vals = [0.31, 0.35, 0.44]
    lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=sum(vals) / 3, scale=stats.sem(vals))
    assert across_seeds(vals)["ci95"] == pytest.approx([lo, hi], abs=1e-6)


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.2775),  # no successes: the interval still has width
        (5, 10, 0.2366, 0.7634),  # symmetric
        (10, 10, 0.7225, 1.0),
        (0, 0, 0.0, 1.0),  # nothing observed: nothing known
    ],
)
def test_wilson_interval(k: int, n: int, lo: float, hi: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-3)


def test_binary_outcomes_treats_none_as_wrong() -> None:
    # an ungradable answer (None) is not a correct one
    items = [{"id": "a", "x": 1.0}, {"id": "b", "x": 0.0}, {"id": "c", "x": None}, {"id": "d", "x": True}]
    assert binary_outcomes(items, "x") == {"a": 1, "b": 0, "c": 0, "d": 1}


def _items(outcomes: list[int]) -> list[dict]:
    return [{"id": str(i), "answer_correct": float(o), "perception_correct": bool(o)} for i, o in enumerate(outcomes)]


def test_mcnemar_block_counts_and_pools_over_seeds() -> None:
    warm = _items([0, 0, 0, 0, 1, 1])
    runs = {
        "warmup": {0: warm, 1: warm},
        "rlvr": {0: _items([1, 0, 0, 0, 1, 1]), 1: _items([0, 0, 0, 0, 1, 0])},
        "perception_r1": {0: _items([1, 1, 1, 0, 1, 1]), 1: _items([1, 1, 0, 0, 1, 1])},
    }
    block = mcnemar_block(runs, [0, 1])
    vs_warm = block["perception_r1_vs_warmup"]["perception"]
    # seed 0: 3 problems gained, none lost; seed 1: 2 gained; pooled b=5, c=0
    assert [(s["b"], s["c"]) for s in vs_warm["per_seed"]] == [(3, 0), (2, 0)]
    assert (vs_warm["b"], vs_warm["c"], vs_warm["n_pairs"], vs_warm["seeds_summed"]) == (5, 0, 12, 2)
    assert vs_warm["p_value"] == pytest.approx(0.0625)  # exact two-sided: 2 * 0.5**5
    rl = block["perception_r1_vs_rlvr"]["answer"]
    assert [(s["b"], s["c"]) for s in rl["per_seed"]] == [(2, 0), (3, 0)]
    assert set(block) == {"perception_r1_vs_rlvr", "perception_r1_vs_warmup", "rlvr_vs_warmup"}


def test_mcnemar_block_tests_the_warmup_against_the_blind_baseline() -> None:
    # with the image-blind baseline's items present, the warm-up is tested against it on every seed
    warm, blind = _items([1, 1, 1, 0, 1, 0]), _items([0, 0, 1, 0, 0, 1])
    runs = {"warmup": {0: warm}, "rlvr": {0: warm}, "perception_r1": {0: warm}, "blind": {0: blind}}
    test = mcnemar_block(runs, [0])["warmup_vs_blind"]["perception"]
    assert (test["b"], test["c"], test["n_pairs"]) == (3, 1, 6)  # warm-up right where blind is wrong on 3, reverse 1
    assert test["p_value"] == pytest.approx(0.625)  # exact two-sided: 2 * P(X <= 1 | n=4)


def test_seedless_comparison_is_not_pooled_over_seeds() -> None:
    # warm-up and blind items are the same for every seed: three seeds must not triple the evidence
    warm, blind = _items([1, 1, 1, 0, 1, 0]), _items([0, 0, 1, 0, 0, 1])
    arm = {s: warm for s in (0, 1, 2)}
    runs = {"warmup": arm, "rlvr": arm, "perception_r1": arm, "blind": {s: blind for s in (0, 1, 2)}}
    block = mcnemar_block(runs, [0, 1, 2])
    test = block["warmup_vs_blind"]["perception"]
    assert (test["b"], test["c"], test["n_pairs"], len(test["per_seed"])) == (3, 1, 6, 1)
    # an arm (seed-dependent) against the warm-up still pools every seed
    assert block["rlvr_vs_warmup"]["answer"]["n_pairs"] == 18


@pytest.mark.parametrize(
    ("a", "b", "n", "mean", "late"),
    [
        # a pulls ahead in the second half
        (([1, 2, 3, 4], [0.5, 0.6, 0.7, 0.8]), ([1, 2, 3, 4], [0.5] * 4), 4, 0.15, 0.25),
        # identical runs: no difference
        (([1, 2], [0.2, 0.4]), ([1, 2], [0.2, 0.4]), 2, 0.0, 0.0),
        # steps missing in either run are skipped
        (([1, 2, 3], [0.3, None, 0.5]), ([1, 2, 3], [0.1, 0.2, None]), 1, 0.2, 0.2),
        # matched by step number, not position: b resumed and lacks step 2; a logged in another order
        (([3, 1, 2], [0.9, 0.5, 0.7]), ([1, 3], [0.4, 0.4]), 2, 0.3, 0.5),
        # nothing to compare
        (([1], [None]), ([1], [0.1]), 0, None, None),
    ],
)
def test_step_difference(a, b, n, mean, late) -> None:
    d = step_difference(*a, *b)
    assert d["n_steps"] == n
    assert d["all_steps"] == (pytest.approx(mean) if mean is not None else None)
    assert d["second_half"] == (pytest.approx(late) if late is not None else None)
    assert "ci95" not in d  # steps are not independent: no interval over them


@pytest.mark.parametrize(
    ("a", "b", "per_seed", "has_ci"),
    [
        ([0.5, 0.7, 0.6], [0.4], [0.1, 0.3, 0.2], True),  # an arm against the one warm-up: its value for each seed
        ([0.5, 0.7], [0.5, 0.6], [0.0, 0.1], True),  # two arms, seed by seed
        ([0.5], [0.4], [0.1], False),  # one seed: a difference, no interval
    ],
)
def test_seed_differences(a, b, per_seed, has_ci) -> None:
    d = seed_differences(a, b)
    assert d["per_seed"] == pytest.approx(per_seed) and d["unit"] == "seed"
    assert (d["ci95"] is not None) == has_ci
