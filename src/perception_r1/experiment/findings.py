"""The report's first lines: what the experiment showed and what it did not, from the summary by fixed rules.

Each claim is checked at the level of its independent unit and written as one line, ``Shown:``, ``Shown for one
seed only:``, ``Not shown:`` or ``Not tested:``, followed by the figures that decided it:

- **the warm-up reads the figure** (warm-up vs the image-blind baseline, per-problem perception): one warm-up, one
  exact McNemar test over the test problems; shown when p < :data:`ALPHA` and the warm-up is above the baseline.
- **a policy differs from another on the test split** (Perception-R1 vs RLVR, each arm vs the warm-up; perception
  and answer accuracy): shown when every seed's exact McNemar test has p < :data:`ALPHA` in the direction of the
  mean per-seed difference, and, with two seeds or more, the 95% t-interval of that mean over seeds excludes 0.
  With one seed a significant test is "shown for one seed only": one seed says nothing about another.
- **GRPO moves a training reward against the frozen control** (the same prompts at learning rate 0): shown when the
  95% t-interval over seeds of the per-seed mean difference over the second half of the steps excludes 0 (two
  seeds or more); "not tested" without frozen runs.

Claims are tested one by one at :data:`ALPHA`, with no correction for their number (:data:`RULES` says so in the
report).

Example:
    >>> findings({"seeds": [0], "arms": {}, "mcnemar": {}, "training_compared": {}})[-1].startswith("Rules:")
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ALPHA = 0.05
NAMES = {"warmup": "the warm-up", "rlvr": "RLVR", "perception_r1": "Perception-R1",
         "blind": "the image-blind baseline"}  # fmt: skip
OUTCOME_TEXT = {"perception": "per-problem perception", "answer": "answer accuracy"}
FIGURE = {"perception": "perception_accuracy", "answer": "answer_accuracy"}
# (comparison, outcome) claims on the test split, in report order.
TEST_CLAIMS = (
    ("perception_r1_vs_rlvr", "perception"),
    ("perception_r1_vs_rlvr", "answer"),
    ("rlvr_vs_warmup", "perception"),
    ("perception_r1_vs_warmup", "perception"),
    ("rlvr_vs_warmup", "answer"),
    ("perception_r1_vs_warmup", "answer"),
)
# (arm, component) claims on the training rewards against the frozen control.
TRAINING_CLAIMS = (("rlvr", "perception"), ("perception_r1", "perception"), ("rlvr", "accuracy"),
                   ("perception_r1", "accuracy"))  # fmt: skip
RULES = (
    f"Rules: each claim at p < {ALPHA} with no correction for the number of claims. Test split: shown when every "
    "seed's exact McNemar test agrees in direction with the mean per-seed difference and, with 2+ seeds, the 95% "
    "t-interval of that mean over seeds excludes 0 (the unit is the seed; summed McNemar counts over seeds are "
    "pseudo-replicated and decide nothing). Training: the arm minus the frozen control on the same prompts, mean "
    "over the second half of the steps per seed, 95% t-interval over seeds."
)
ORDER = ("Shown:", "Shown for one seed only:", "Not shown:", "Not tested:")


def _ci(block: Mapping[str, Any], scale: float, unit: str) -> str:
    """``+1.2 points [-0.3, +2.7] over 3 seeds`` (no interval with one seed)."""
    n = len(block["per_seed"])
    text = f"{scale * block['mean']:+.{1 if scale == 100 else 3}f}{unit}"
    if block.get("ci95"):
        lo, hi = (scale * v for v in block["ci95"])
        text += f" [{lo:+.{1 if scale == 100 else 3}f}, {hi:+.{1 if scale == 100 else 3}f}]"
    return text + (f" over {n} seeds" if n > 1 else " (one seed)")


def _excludes_zero(block: Mapping[str, Any]) -> bool:
    ci = block.get("ci95")
    return ci is not None and (ci[0] > 0 or ci[1] < 0)


def blind_line(summary: Mapping[str, Any]) -> str | None:
    """Warm-up vs the image-blind baseline on per-problem perception (None without a baseline)."""
    blind = (summary.get("baselines") or {}).get("blind")
    test = summary.get("mcnemar", {}).get("warmup_vs_blind", {}).get("perception")
    if not blind or not test:
        return None
    wu, bl = summary["arms"]["warmup"]["perception_accuracy"]["mean"], blind["perception_accuracy"]
    shown = test["p_value"] < ALPHA and wu > bl
    figures = (
        f"perception {100 * wu:.1f}% vs {100 * bl:.1f}% of {summary.get('n_test')} test problems, exact McNemar "
        f"b={test['b']}, c={test['c']}, p={test['p_value']:.2g}; one warm-up"
    )
    claim = "the warm-up reads the figure above the image-blind baseline"
    return f"{'Shown' if shown else 'Not shown'}: {claim} ({figures})."


def comparison_line(summary: Mapping[str, Any], comparison: str, outcome: str) -> str | None:
    """One comparison of two policies on the test split (None when the summary lacks it)."""
    tests = summary.get("mcnemar", {}).get(comparison, {}).get(outcome)
    diff = (summary.get("differences") or {}).get(comparison, {}).get(FIGURE[outcome])
    if not tests or not diff:
        return None
    a, b = (NAMES[p] for p in comparison.split("_vs_"))
    per_seed: Sequence[Mapping[str, Any]] = tests["per_seed"]
    sign = (diff["mean"] > 0) - (diff["mean"] < 0)
    agree = sign != 0 and all(t["p_value"] < ALPHA and (t["b"] > t["c"]) == (sign > 0) for t in per_seed)
    n = len(diff["per_seed"])
    if agree and n == 1:
        verdict = "Shown for one seed only"
    elif agree and _excludes_zero(diff):
        verdict = "Shown"
    else:
        verdict = "Not shown"
    ps = ", ".join(f"{t['p_value']:.2g}" for t in per_seed)
    figures = f"per-seed exact McNemar p = {ps}; mean difference {_ci(diff, 100, ' points')}"
    if verdict == "Not shown":
        return f"Not shown: {a} differs from {b} in {OUTCOME_TEXT[outcome]} ({figures})."
    where = "above" if sign > 0 else "below"
    return f"{verdict}: {a} is {where} {b} in {OUTCOME_TEXT[outcome]} ({figures})."


def training_line(summary: Mapping[str, Any], arm: str, component: str) -> str:
    """One arm's training reward against the frozen control on the same prompts."""
    claim = f"{NAMES[arm]} moves the training {component} reward away from the frozen control on the same prompts"
    block = (summary.get("training_compared") or {}).get(f"{arm}_minus_frozen", {}).get(component)
    late = block and block.get("second_half")
    if not late:
        return f"Not tested: {claim} (no frozen control runs: grpo.frozen was off or the folder predates it)."
    figures = f"second half of the steps: {_ci(late, 1, '')}"
    if not _excludes_zero(late):
        return f"Not shown: {claim} ({figures})."
    where = "raises" if late["mean"] > 0 else "lowers"
    return f"Shown: {NAMES[arm]} {where} the training {component} reward against the frozen control ({figures})."


def findings(summary: Mapping[str, Any]) -> list[str]:
    """The report's first lines: shown claims, then the ones shown for one seed only, not shown, not tested; then
    :data:`RULES`. Claims the summary has no figures for (e.g. a policy not evaluated) are left out."""
    lines = [blind_line(summary)]
    lines += [comparison_line(summary, c, o) for c, o in TEST_CLAIMS]
    lines += [training_line(summary, a, c) for a, c in TRAINING_CLAIMS]
    kept = [line for line in lines if line]
    kept.sort(key=lambda line: next(i for i, p in enumerate(ORDER) if line.startswith(p)))
    return [*kept, RULES]
