"""Statistics of the experiment: per-arm figures across seeds, exact McNemar tests between policies, and the
per-step comparison of training runs on the same prompts.

The independent unit is the seed (one GRPO run per arm; every seed of a folder shares one warm-up and the same test
problems). So:

- McNemar pairs the same test problem under two policies, **per seed** (exact): that is the valid test.
- Across seeds, each test metric's **per-seed difference** A - B gets its mean and 95% t-interval over the seeds
  (n = seeds): :func:`seed_differences`.
- The discordant counts summed over seeds (``b``, ``c``, ``p_value`` at the top of a comparison, with
  ``seeds_summed``) treat the same problems under each seed as independent: **pseudo-replication** when more than
  one seed is summed (the warm-up's answers are reused for every seed); kept for continuity and labelled so.
- Training rewards: per step, run A minus run B on the same prompts (:func:`step_difference`), the mean over the
  second half of the steps per seed, then a t-interval over seeds. Steps are never the unit (the policy carries
  over from step to step).

Example:
    >>> across_seeds([0.5, 0.6, 0.7])["mean"]
    0.6
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
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


def matched_differences(
    steps_a: Sequence[int], a: Sequence[float | None], steps_b: Sequence[int], b: Sequence[float | None]
) -> list[tuple[int, float]]:
    """``(step, a - b)`` at every step both runs logged a value, in step order.

    Example:
        >>> matched_differences([1, 2, 3], [0.5, None, 0.9], [2, 3], [0.1, 0.4])
        [(3, 0.5)]
    """
    of_b = {s: v for s, v in zip(steps_b, b, strict=False) if v is not None}
    return [(s, v - of_b[s]) for s, v in sorted(zip(steps_a, a, strict=False)) if v is not None and s in of_b]


def step_difference(
    steps_a: Sequence[int], a: Sequence[float | None], steps_b: Sequence[int], b: Sequence[float | None]
) -> dict[str, Any]:
    """Per-step ``a - b`` of two runs' logged values, matched by step number, and its means.

    Runs with the same seed see the same prompts at the same step, so subtracting step by step removes the swing
    that comes from how hard each step's prompts are. Steps are not independent (the policy carries over), so no
    interval is given over steps: the unit is the seed (:func:`across_seeds` of the per-seed second-half means).

    Args:
        steps_a, a: Run A's logged steps and its values at them (None: not logged at that step).
        steps_b, b: The same for run B.

    Returns:
        ``{"n_steps", "all_steps", "second_half"}``: the steps both logged, the mean difference over them and over
        their second half (the later ``n_steps - n_steps // 2`` steps); means are None without a common step.

    Example:
        >>> step_difference([1, 2, 3, 4], [0.5, 0.6, 0.7, 0.8], [1, 2, 3, 4], [0.5, 0.5, 0.5, 0.5])["second_half"]
        0.25
    """
    diffs = [d for _, d in matched_differences(steps_a, a, steps_b, b)]
    late = diffs[len(diffs) // 2 :]
    return {
        "n_steps": len(diffs),
        "all_steps": round(statistics.fmean(diffs), 6) if diffs else None,
        "second_half": round(statistics.fmean(late), 6) if late else None,
    }


def seed_differences(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Per-seed ``a - b`` of a test metric (a one-value side, e.g. the warm-up, stands for every seed), with
    :func:`across_seeds`' mean, sd and 95% t-interval over the seeds (``unit: "seed"``).

    Example:
        >>> seed_differences([0.5, 0.7], [0.4])["per_seed"]
        [0.1, 0.3]
    """
    n = max(len(a), len(b))
    a = list(a) * n if len(a) == 1 else list(a)
    b = list(b) * n if len(b) == 1 else list(b)
    return {**across_seeds([round(x - y, 12) for x, y in zip(a, b, strict=True)]), "unit": "seed"}


def binary_outcomes(items: Sequence[Mapping[str, Any]], key: str) -> dict[str, int]:
    """``{item id: 0/1}``; an ungradable answer (None) counts as not correct."""
    return {str(i["id"]): int(bool(i[key]) and i[key] is not None) for i in items}


def mcnemar_block(
    runs: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]],
    seeds: Sequence[int],
    seedless: Collection[str] = ("warmup", "blind"),
) -> dict[str, Any]:
    """Exact McNemar for every comparison and outcome, per seed and summed over seeds.

    Args:
        runs: ``{policy: {seed: graded items}}``; the warm-up's (and the blind baseline's) items are the same for
            every seed. A comparison whose policies are not both in ``runs`` is left out.
        seeds: The seeds to include.
        seedless: Policies whose items do not depend on the seed. A comparison of two of them is tested once (on
            the first seed): pooling the same pairs over seeds would count each problem several times.

    Returns:
        ``{comparison: {outcome: {"b", "c", "n_pairs", "p_value", "seeds_summed", "per_seed": [...]}}}``: the
        top-level counts and p-value sum the ``seeds_summed`` seeds' discordant pairs; with more than one that is
        pseudo-replication (the same problems counted once per seed), and the per-seed tests are the valid ones.
    """
    out: dict[str, Any] = {}
    for name, a, b in COMPARISONS:
        if a not in runs or b not in runs:
            continue
        block = {}
        tested = seeds[:1] if a in seedless and b in seedless else seeds
        for outcome, key in OUTCOMES.items():
            block[outcome] = mcnemar_over_seeds(
                (seed, binary_outcomes(runs[a][seed], key), binary_outcomes(runs[b][seed], key)) for seed in tested
            )
        out[name] = block
    return out


def mcnemar_over_seeds(outcomes: Iterable[tuple[int, Mapping[str, int], Mapping[str, int]]]) -> dict[str, Any]:
    """Exact McNemar per seed, and of the discordant pairs summed over the seeds.

    Args:
        outcomes: ``(seed, A's 0/1 outcome by item id, B's)`` per seed.

    Returns:
        ``{"b", "c", "n_pairs", "p_value", "seeds_summed", "per_seed": [{"seed", "b", "c", "p_value"}]}``; b counts
        the items where A has the outcome and B has not. With more than one seed the summed test is
        pseudo-replication (the same items once per seed); the per-seed tests are the valid ones.
    """
    per_seed, total_b, total_c, pairs = [], 0, 0, 0
    for seed, a, b in outcomes:
        counts = pair_counts(a, b)
        result = mcnemar(counts["b"], counts["c"], n_pairs=counts["n_pairs"])
        per_seed.append({"seed": seed, "b": counts["b"], "c": counts["c"], "p_value": result.p_value})
        total_b, total_c, pairs = total_b + counts["b"], total_c + counts["c"], pairs + counts["n_pairs"]
    pooled = mcnemar(total_b, total_c, n_pairs=pairs)
    return {"b": total_b, "c": total_c, "n_pairs": pairs, "p_value": pooled.p_value,
            "seeds_summed": len(per_seed), "per_seed": per_seed}  # fmt: skip
