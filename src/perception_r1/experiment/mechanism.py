"""A test of the paper's mechanism: does an accuracy-only reward keep correct answers reached with wrong perception?

The paper argues that RLVR rewards a correct answer whatever the perception behind it, so it reinforces lucky
answers, while the perception reward does not. On multiple-choice data (``data.multiple_choice``: four options, a
guess is right 1 time in 4) such answers happen, and each graded test item falls in one cell of answer x perception
(perception: :mod:`perception_r1.experiment.perception_metrics`'s per-problem grade, every needed fact right and no
shown value wrong):

==============================  ==============================================================================
``correct_right_perception``    right letter, figure read right
``correct_wrong_perception``    right letter, figure read wrong: a *lucky* answer (a guess, or wrong facts that
                                happen to land on the right option)
``wrong_right_perception``      figure read right, wrong letter (a reasoning or mapping error)
``wrong_wrong_perception``      both wrong
==============================  ==============================================================================

Per policy (image-blind baseline, warm-up, every arm and seed), on the test split: ``n``, the count of each cell,
``answer_correct``, ``perception_correct``, ``lucky_rate`` (lucky / n), ``lucky_share`` (lucky / correct answers:
how often a correct answer comes with wrong perception; None without correct answers) and ``right_rate``
(correct with right perception / n). Between policies (perception_r1 vs rlvr, each arm vs the warm-up): exact
McNemar, per seed and pooled over seeds (the paper's test, on the same problems), of the per-problem outcomes
"correct with right perception" and "lucky", and the per-seed differences of ``lucky_rate`` and ``lucky_share``
(A minus B; mean and 95% t-interval over seeds). From training: each GRPO run's logged per-step share of rollouts
with a correct answer and a perception reward below 1 (``rollouts/correct_wrong_perception``, written by
:class:`perception_r1.train.callbacks.MetricsCallback`), and with both right.

Example:
    >>> items = [{"id": "1", "answer_correct": 1.0, "perception_correct": False},
    ...          {"id": "2", "answer_correct": 1.0, "perception_correct": True},
    ...          {"id": "3", "answer_correct": 0.0, "perception_correct": False}]
    >>> f = policy_figures(items)
    >>> f["correct_wrong_perception"], f["lucky_share"], f["right_rate"]
    (1, 0.5, 0.333333)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perception_r1.experiment.config import ARMS
from perception_r1.train.run_logs import LUCKY_KEY, RIGHT_KEY

CELLS = ("correct_right_perception", "correct_wrong_perception", "wrong_right_perception", "wrong_wrong_perception")
# Per-problem outcomes tested with McNemar: the wanted one, and the lucky one the paper says RLVR reinforces.
OUTCOMES = ("correct_right_perception", "correct_wrong_perception")
# (name, policy A, policy B): b counts problems where A has the outcome and B has not.
COMPARISONS = (
    ("perception_r1_vs_rlvr", "perception_r1", "rlvr"),
    ("perception_r1_vs_warmup", "perception_r1", "warmup"),
    ("rlvr_vs_warmup", "rlvr", "warmup"),
)
RATES = ("lucky_rate", "lucky_share", "right_rate")
# Logged by perception_r1.train.callbacks per GRPO step (rollouts with both rewards scored).
ROLLOUT_KEYS = (LUCKY_KEY, RIGHT_KEY)
WINDOW = 10  # steps averaged at each end of a run's rollout series


def grade_cell(item: Mapping[str, Any]) -> str:
    """The answer x perception cell of one graded item (an ungradable answer, None, counts as wrong)."""
    answer = "correct" if item["answer_correct"] == 1.0 else "wrong"
    perception = "right" if item["perception_correct"] else "wrong"
    return f"{answer}_{perception}_perception"


def policy_figures(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of the four cells and the rates of one policy's graded test items (see the module docstring).

    Raises:
        ValueError: no items.
    """
    if not items:
        raise ValueError("no graded items: the mechanism needs a policy's evaluated test problems")
    n = len(items)
    counts = dict.fromkeys(CELLS, 0)
    for item in items:
        counts[grade_cell(item)] += 1
    correct = counts["correct_right_perception"] + counts["correct_wrong_perception"]
    lucky = counts["correct_wrong_perception"]
    return {
        "n": n,
        **counts,
        "answer_correct": correct,
        "perception_correct": counts["correct_right_perception"] + counts["wrong_right_perception"],
        "lucky_rate": round(lucky / n, 6),
        "lucky_share": round(lucky / correct, 6) if correct else None,
        "right_rate": round(counts["correct_right_perception"] / n, 6),
    }


def _outcome(items: Sequence[Mapping[str, Any]], outcome: str) -> dict[str, int]:
    return {str(i["id"]): int(grade_cell(i) == outcome) for i in items}


def mcnemar_tests(
    runs: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]], seeds: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """Exact McNemar of each comparison and outcome, per seed (the valid tests) and summed over seeds.

    Args:
        runs: ``{policy: {seed: graded items}}`` (the warm-up's items under every seed).
        seeds: The seeds.

    Returns:
        ``{comparison: {outcome: {"b", "c", "n_pairs", "p_value", "seeds_summed", "per_seed": [{"seed", "b", "c",
        "p_value"}]}}}``; b counts problems where A has the outcome and B has not. The top-level test sums the
        seeds' discordant pairs over the same problems: with more than one seed that is pseudo-replication, as in
        :func:`perception_r1.experiment.stats.mcnemar_block`. Comparisons missing a policy are left out.
    """
    from perception_r1.experiment.stats import mcnemar_over_seeds

    out: dict[str, dict[str, Any]] = {}
    for name, a, b in COMPARISONS:
        if a not in runs or b not in runs:
            continue
        out[name] = {
            outcome: mcnemar_over_seeds(
                (seed, _outcome(runs[a][seed], outcome), _outcome(runs[b][seed], outcome)) for seed in seeds
            )
            for outcome in OUTCOMES
        }
    return out


def rate_differences(figures: Mapping[str, Mapping[int, Mapping[str, Any]]], seeds: Sequence[int]) -> dict[str, Any]:
    """Per comparison and rate (``lucky_rate``, ``lucky_share``): A minus B per seed, their mean and t-interval.

    Args:
        figures: ``{policy: {seed: policy_figures(...)}}``.

    Returns:
        ``{comparison: {rate: {"per_seed": [{"seed", "a", "b", "difference"}], "mean", "sd", "ci95"}}}``; a seed
        where either rate is None (no correct answer) has difference None and is left out of the mean.
    """
    from perception_r1.experiment.stats import across_seeds

    out: dict[str, Any] = {}
    for name, a, b in COMPARISONS:
        if a not in figures or b not in figures:
            continue
        out[name] = {}
        for rate in ("lucky_rate", "lucky_share"):
            rows = []
            for seed in seeds:
                x, y = figures[a][seed][rate], figures[b][seed][rate]
                diff = None if x is None or y is None else round(x - y, 6)
                rows.append({"seed": seed, "a": x, "b": y, "difference": diff})
            present = [r["difference"] for r in rows if r["difference"] is not None]
            spread = across_seeds(present) if present else {"mean": None, "sd": None, "ci95": None}
            out[name][rate] = {"per_seed": rows, **{k: spread[k] for k in ("mean", "sd", "ci95")}}
    return out


def _window(values: Sequence[float | None], last: bool) -> float | None:
    present = [v for v in values if v is not None]
    part = present[-WINDOW:] if last else present[:WINDOW]
    return round(sum(part) / len(part), 6) if part else None


def rollout_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Per-step rollout shares of one GRPO run's ``metrics.jsonl`` rows, with first and last ``WINDOW``-step means.

    Returns:
        ``{"steps", "<key>": series, "first": {key: mean}, "last": {key: mean}}`` with keys without the
        ``rollouts/`` prefix; None when the run logged none (a run trained before the metric existed).
    """
    logged = [r for r in rows if any(k in r for k in ROLLOUT_KEYS)]
    if not logged:
        return None
    out: dict[str, Any] = {"steps": [r.get("step") for r in logged]}
    first, last = {}, {}
    for key in ROLLOUT_KEYS:
        name = key.split("/", 1)[1]
        series = [r.get(key) for r in logged]
        out[name] = series
        first[name], last[name] = _window(series, last=False), _window(series, last=True)
    return {**out, "first": first, "last": last}


def mechanism_block(
    runs: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]],
    seeds: Sequence[int],
    training: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]] | None = None,
) -> dict[str, Any]:
    """The ``mechanism`` block of ``summary.json``.

    Args:
        runs: ``{policy: {seed: graded test items}}`` for ``warmup``, the arms and optionally ``blind`` (the
            seedless policies' items under every seed).
        seeds: The seeds.
        training: ``{arm: {seed: metrics.jsonl rows}}`` (optional).

    Returns:
        ``{"policies": {name: figures}, "arms": {arm: {rate: across seeds}}, "mcnemar", "differences",
        "training": {arm: {seed: rollout figures}}}``; policy names ``blind``, ``warmup``, ``<arm>-seed<k>``.
    """
    from perception_r1.experiment.stats import across_seeds

    figures: dict[str, dict[int, dict[str, Any]]] = {}
    for p in runs:
        figures[p] = {}
        for s in seeds:
            if not runs[p][s]:
                raise ValueError(f"mechanism: no graded test items of {p!r} (seed {s}); its evaluation did not finish")
            figures[p][s] = policy_figures(runs[p][s])
    policies: dict[str, Any] = {}
    for p in ("blind", "warmup"):
        if p in figures:
            policies[p] = figures[p][seeds[0]]
    for arm in ARMS:
        for s in seeds:
            if arm in figures:
                policies[f"{arm}-seed{s}"] = figures[arm][s]
    arms: dict[str, Any] = {}
    for arm in ARMS:
        if arm in figures:
            arms[arm] = {}
            for rate in RATES:
                present = [figures[arm][s][rate] for s in seeds if figures[arm][s][rate] is not None]
                arms[arm][rate] = across_seeds(present) if present else None
    return {
        "policies": policies,
        "arms": arms,
        "mcnemar": mcnemar_tests(runs, seeds),
        "differences": rate_differences(figures, seeds),
        "training": {
            arm: {str(s): rollout_figures(rows) for s, rows in by_seed.items()}
            for arm, by_seed in (training or {}).items()
        },
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _policy_rows(block: Mapping[str, Any]) -> list[str]:
    lines = [
        "| policy | n | answer correct | perception correct | correct, right perception | correct, wrong "
        "perception (lucky) | lucky share of correct answers |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in block["policies"].items():
        label = "image-blind baseline (chance)" if name == "blind" else name
        lines.append(
            f"| {label} | {f['n']} | {f['answer_correct']} | {f['perception_correct']} | "
            f"{f['correct_right_perception']} ({_pct(f['right_rate'])}) | "
            f"{f['correct_wrong_perception']} ({_pct(f['lucky_rate'])}) | {_pct(f['lucky_share'])} |"
        )
    return lines


def _test_rows(block: Mapping[str, Any]) -> list[str]:
    lines = ["| comparison (A vs B) | outcome | b | c | p (exact) | per seed (b, c, p) |", "|---|---|---|---|---|---|"]
    for name, outcomes in block["mcnemar"].items():
        for outcome, r in outcomes.items():
            seeds = "; ".join(f"{s['b']}, {s['c']}, {s['p_value']:.3g}" for s in r["per_seed"])
            lines.append(f"| {name} | {outcome} | {r['b']} | {r['c']} | {r['p_value']:.3g} | {seeds} |")
    return lines


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}"


def _difference_rows(block: Mapping[str, Any]) -> list[str]:
    lines = ["| comparison (A - B) | rate | per seed (points) | mean [95% CI] |", "|---|---|---|---|"]
    for name, rates in block["differences"].items():
        for rate, d in rates.items():
            seeds = "; ".join(f"seed {r['seed']}: {_signed(r['difference'])}" for r in d["per_seed"])
            ci = f" [{_signed(d['ci95'][0])}, {_signed(d['ci95'][1])}]" if d.get("ci95") else ""
            lines.append(f"| {name} | {rate} | {seeds} | {_signed(d['mean'])}{ci} |")
    return lines


def _training_rows(block: Mapping[str, Any]) -> list[str]:
    lines = [
        f"| arm | seed | lucky rollouts first→last {WINDOW} steps | correct with perception reward 1, first→last |",
        "|---|---|---|---|",
    ]
    for arm, by_seed in block["training"].items():
        for seed, fig in by_seed.items():
            if not fig:
                lines.append(f"| {arm} | {seed} | not logged | not logged |")
                continue
            first, last = fig["first"], fig["last"]
            lucky, right = "correct_wrong_perception", "correct_right_perception"
            lines.append(
                f"| {arm} | {seed} | {_pct(first[lucky])} → {_pct(last[lucky])} | "
                f"{_pct(first[right])} → {_pct(last[right])} |"
            )
    return lines


def mechanism_markdown(block: Mapping[str, Any]) -> str:
    """The report's section on the mechanism (tables of the block, what each number means)."""
    parts = [
        "## The paper's mechanism: correct answers with wrong perception (multiple choice)",
        "",
        "Each test question lists four options and a guess is right 1 time in 4, so a policy can answer right "
        "without reading the figure. *Lucky*: the right letter with wrong perception (not every needed fact "
        "stated with the figure's value, or a shown value stated wrong); lucky share: lucky answers among the "
        "correct ones. The paper's claim is that an accuracy-only reward (rlvr) keeps lucky answers and the "
        "perception reward does not.",
        "",
        *_policy_rows(block),
        "",
        "Exact McNemar on the same test problems (b = A has the outcome and B has not), per seed; the summed "
        "counts treat the same problems under each seed as independent (pseudo-replication) and are shown for "
        "reference only:",
        "",
        *_test_rows(block),
        "",
        "Per-seed differences of the lucky rates (percentage points; lucky_rate: lucky / all problems, "
        "lucky_share: lucky / correct answers):",
        "",
        *_difference_rows(block),
        "",
        "Training rollouts (logged every step): the share of completions with a correct answer and a perception "
        "reward below 1 (lucky), and with a correct answer and perception reward 1; mean of the first and last "
        f"{WINDOW} steps.",
        "",
        *_training_rows(block),
    ]
    return "\n".join(parts) + "\n"
