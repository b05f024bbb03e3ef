"""The fast path decides only where math-verify decides the same: targeted traps and a randomised sweep.

The sweep draws answers over the fast path's whole grammar (integers, decimals, + - * / ^, \\cdot, \\times,
parentheses and \\left(, \\frac/\\dfrac/\\tfrac and \\frac12, \\sqrt and \\sqrt[n], \\pi, implicit products,
degree marks), pairs them with decimals of their value, respellings, near misses and the two known traps, and
compares every decided pair with math-verify itself. Set PERCEPTION_R1_FASTPATH_SEEDS=N to sweep more seeds.
"""

from __future__ import annotations

import os

import pytest

from perception_r1.rewards import fastpath
from support.latex_answers import make_pairs

SEEDS = int(os.environ.get("PERCEPTION_R1_FASTPATH_SEEDS", "30"))
PAIRS_PER_SEED = 12


def math_verify(gold: str, pred: str) -> bool | None:
    """math-verify's own verdict with the options the accuracy reward uses (None: the gold does not parse)."""
    from math_verify import parse, verify

    gold_parsed = parse(gold, parsing_timeout=None)
    if not gold_parsed:
        return None
    pred_parsed = parse(pred, parsing_timeout=None)
    if not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, float_rounding=6, numeric_precision=15, strict=True,
                       timeout_seconds=None))  # fmt: skip


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        # a division followed by an implicit product: math-verify reads 27/(18 sqrt 3); the fast path defers
        ("$27 / 18\\sqrt{3}$", "$\\frac{27}{18}\\sqrt{3}$", None),
        ("$27 / 18\\sqrt{3}$", "$\\frac{27}{18\\sqrt{3}}$", None),
        ("$2/3\\pi$", "$\\frac{2\\pi}{3}$", None),
        ("$2\\pi / 3$", "$\\frac{2\\pi}{3}$", True),  # an implicit product before the division reads one way
        # a value followed by a parenthesis: math-verify reads 2(3) as 5 and \pi(2) as a function call; defer
        ("$2(3)$", "$6$", None),
        ("$\\pi(2)$", "$2\\pi$", None),
        ("$(2)\\pi$", "$2\\pi$", True),  # a parenthesis before a command is still a product
        # a decimal against an exact sum of equal value: math-verify says no as gold, yes as prediction; defer
        ("$\\dfrac{31}{5} + \\dfrac{18}{10}$", "$8.000000$", None),
        ("$8.000000$", "$\\dfrac{31}{5} + \\dfrac{18}{10}$", None),
        # ... but a far-away decimal is still a sure "no"
        ("$\\dfrac{31}{5} + \\dfrac{18}{10}$", "$9.000000$", False),
        # simple forms are still decided
        ("$\\frac{1}{2}$", "$0.5$", True),  # one fraction against its decimal
        ("$-\\frac{3}{4}$", "$-0.75$", True),  # negated
        ("$\\frac{31}{5} + \\frac{9}{5}$", "$8$", True),  # exact against exact
        ("$2\\sqrt{3}$", "$\\sqrt{12}$", True),  # implicit product without a division
        # a near miss at a large magnitude is beyond a float's 15 digits: defer
        ("$12345678901$", "$12345678901.000003$", None),
    ],
)
def test_known_traps(gold, pred, expected):
    assert fastpath.decide(gold, pred) == expected
    if expected is not None:
        assert math_verify(gold, pred) == expected


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_answers_agree_with_math_verify(seed):
    pairs = make_pairs(seed, PAIRS_PER_SEED)
    decided = [(g, p, d) for g, p in pairs if (d := fastpath.decide(g, p)) is not None]
    disagreements = [(g, p, d) for g, p, d in decided if math_verify(g, p) != d]
    assert not disagreements, f"seed {seed}: fast path verdicts that math-verify does not give: {disagreements}"


def test_the_sweep_decides_a_useful_share_and_reaches_the_traps():
    # a sweep where the fast path always deferred would check nothing
    pairs = [pair for seed in range(SEEDS) for pair in make_pairs(seed, PAIRS_PER_SEED)]
    decided = sum(fastpath.decide(g, p) is not None for g, p in pairs)
    assert decided > len(pairs) // 4
    assert any("/ " in g and ("\\sqrt" in g or "\\pi" in g) for g, _ in pairs)  # divisions before a product
    assert any(" + \\" in g and p.strip("$").replace(".", "").isdigit() for g, p in pairs)  # sums vs decimals
    assert any(")(" in g or "}(" in g or g[1].isdigit() and "(" in g for g, _ in pairs)  # values before a parenthesis


def test_same_seed_same_pairs():
    assert make_pairs(5, 20) == make_pairs(5, 20) and make_pairs(5, 20) != make_pairs(6, 20)
