"""Statistics of the experiment: per-arm figures across seeds and exact McNemar tests between policies.

McNemar pairs the same test problem under two policies. For each seed the arms are compared with each other and
with the warm-up policy they started from; the *pooled* test adds the discordant counts of all seeds (every
(seed, problem) pair counted once), which is what ``summary.json`` reports at the top level, with the per-seed
tests beside it.

Example:
    >>> across_seeds([0.5, 0.6, 0.7])["mean"]
    0.6
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from perception_r1.analysis.mcnemar import mcnemar, pair_counts

# (name in summary.json, policy A, policy B): b counts problems A got right and B wrong.
COMPARISONS = (
    ("perception_r1_vs_rlvr", "perception_r1", "rlvr"),
    ("perception_r1_vs_warmup", "perception_r1", "warmup"),
    ("rlvr_vs_warmup", "rlvr", "warmup"),
    # Does the warm-up read the figure better than the image-blind baseline (experiment/baseline.py)?
    ("warmup_vs_blind", "warmup", "blind"),
)
# Binary per-problem outcomes tested: item key in items.jsonl.
OUTCOMES = {"answer": "answer_correct", "perception": "perception_correct"}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def across_seeds(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation and 95% t-interval of per-seed values.

    With one seed the standard deviation and interval are ``None``: one run says nothing about seed variance.
    """
    from scipy import stats

    vals = [float(v) for v in values]
    mean = statistics.fmean(vals)
    if len(vals) < 2:
        return {"mean": round(mean, 6), "sd": None, "ci95": None, "per_seed": vals}
    sd = statistics.stdev(vals)
    half = float(stats.t.ppf(0.975, len(vals) - 1)) * sd / math.sqrt(len(vals))
    return {"mean": round(mean, 6), "sd": round(sd, 6), "ci95": [round(mean - half, 6), round(mean + half, 6)],
            "per_seed": vals}  # fmt: skip


def paired_step_difference(a: Sequence[float | None], b: Sequence[float | None]) -> dict[str, Any]:
    """Per-step ``a - b`` of two arms' logged rewards, over all steps and over the second half.

    Both arms see the same prompts in the same order, so subtracting step by step removes the swing that comes
    from how hard each step's prompts are; what remains is the arms' difference. Steps are not independent (the
    policy carries over), so the t-interval over steps describes the spread, not a test.

    Returns:
        ``{"n_steps", "mean", "ci95", "second_half_mean", "second_half_ci95"}`` (``None`` where too few steps).

    Example:
        >>> paired_step_difference([0.5, 0.6, 0.7, 0.8], [0.5, 0.5, 0.5, 0.5])["second_half_mean"]
        0.25
    """
    diffs = [x - y for x, y in zip(a, b, strict=False) if x is not None and y is not None]

    def mean_ci(values: list[float]) -> tuple[float | None, list[float] | None]:
        if not values:
            return None, None
        summary = across_seeds(values)
        return summary["mean"], summary["ci95"]

    mean, ci = mean_ci(diffs)
    late_mean, late_ci = mean_ci(diffs[len(diffs) // 2 :])
    return {
        "n_steps": len(diffs), "mean": mean, "ci95": ci, "second_half_mean": late_mean, "second_half_ci95": late_ci,
    }  # fmt: skip


def binary_outcomes(items: Sequence[Mapping[str, Any]], key: str) -> dict[str, int]:
    """``{item id: 0/1}``; an ungradable answer (None) counts as not correct."""
    return {str(i["id"]): int(bool(i[key]) and i[key] is not None) for i in items}


def mcnemar_block(
    runs: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]],
    seeds: Sequence[int],
    seedless: Collection[str] = ("warmup", "blind"),
) -> dict[str, Any]:
    """Exact McNemar for every comparison and outcome, per seed and pooled over seeds.

    Args:
        runs: ``{policy: {seed: graded items}}``; the warm-up's (and the blind baseline's) items are the same for
            every seed. A comparison whose policies are not both in ``runs`` is left out.
        seeds: The seeds to include.
        seedless: Policies whose items do not depend on the seed. A comparison of two of them is tested once (on
            the first seed): pooling the same pairs over seeds would count each problem several times.

    Returns:
        ``{comparison: {outcome: {"b", "c", "n_pairs", "p_value", "per_seed": [...]}}}``.
    """
    out: dict[str, Any] = {}
    for name, a, b in COMPARISONS:
        if a not in runs or b not in runs:
            continue
        block = {}
        tested = seeds[:1] if a in seedless and b in seedless else seeds
        for outcome, key in OUTCOMES.items():
            per_seed, total_b, total_c, pairs = [], 0, 0, 0
            for seed in tested:
                counts = pair_counts(binary_outcomes(runs[a][seed], key), binary_outcomes(runs[b][seed], key))
                result = mcnemar(counts["b"], counts["c"], n_pairs=counts["n_pairs"])
                per_seed.append({"seed": seed, "b": counts["b"], "c": counts["c"], "p_value": result.p_value})
                total_b, total_c, pairs = total_b + counts["b"], total_c + counts["c"], pairs + counts["n_pairs"]
            pooled = mcnemar(total_b, total_c, n_pairs=pairs)
            block[outcome] = {"b": total_b, "c": total_c, "n_pairs": pairs, "p_value": pooled.p_value,
                              "per_seed": per_seed}  # fmt: skip
        out[name] = block
    return out
