"""Benchmark summaries from scored per-item records: accuracy with breakdowns, WeMath's four-dimensional
metrics, MMMU-Pro's overall.

A record is a dict with at least ``id``, ``correct`` (bool; ``None`` for an error item), ``error`` (``None`` or a
reason) and ``metadata``. Error items (e.g. an image that failed to load) are counted under ``errors``. Every summary
reports two accuracies: ``accuracy_all`` divides by the whole set (error items count as wrong, as the official
scripts do: 1,500 for MMStar, 525 composite problems for WeMath) and ``accuracy_scored`` by the scored items only.
``denominator`` says which one the headline ``overall`` uses: ``"all"`` in ``official`` scoring mode, ``"scored"``
in ``corrected`` mode. Breakdowns use the same denominator as the headline. Accuracies are percentages.

Breakdown values that differ only in letter case ("Multiple choice" / "Multiple Choice", EMMA) are merged under the
lower-case name, as EMMA's official script does.

WeMath (docs/reference.md#wemath): items sharing ``ID`` and step count (``key`` ``2steps_*`` / ``3steps_*``) form a
composite problem with one-step sub-problems ``s_i`` and the multi-step problem ``m``:

* IK: some ``s_i`` wrong and ``m`` wrong; IG: all ``s_i`` right and ``m`` wrong;
* CM (strict): all ``s_i`` right and ``m`` right; RM (strict): some ``s_i`` wrong and ``m`` right;
* CM (loose): some ``s_i`` right and ``m`` right; RM (loose): all ``s_i`` wrong and ``m`` right;
* score = (N - 0.5 IG - RM - IK) / N, strict and loose; IK, IG and CM rates are over N, the RM rate is
  RM / (CM + RM) (We-Math's ``four_dimensional_metrics.py``).

With denominator ``"all"`` (official) N is every composite problem seen (the official 525) and an errored member
counts as wrong; with ``"scored"`` N is the complete composite problems, and those with a missing or errored member
are not classified and are counted as ``incomplete``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from perception_r1.eval.benchmarks import Benchmark
from perception_r1.eval.coverage import item_set_digest
from perception_r1.registry import lookup

Record = Mapping[str, Any]


def _pct(correct: float, n: int) -> float | None:
    return round(100.0 * correct / n, 2) if n else None


def _field(metadata: Mapping[str, Any], dotted: str) -> Any:
    value: Any = metadata
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


DENOMINATORS = {"official": "all", "corrected": "scored"}


def breakdown(records: Iterable[Record], dotted: str, errors_as_wrong: bool = False) -> dict[str, dict[str, Any]]:
    """Accuracy per value of metadata field ``dotted`` (a list value counts the item under each element).

    Args:
        errors_as_wrong: Count error items as wrong (denominator "all"); by default they are excluded.

    Returns:
        ``{value: {"accuracy": pct, "correct": k, "n": n}}`` sorted by value; values differing only in case are
        merged under the lower-case name.
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for rec in records:
        if rec.get("error") and not errors_as_wrong:
            continue
        value = _field(rec.get("metadata") or {}, dotted)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            counts[str(v)][0] += bool(rec.get("correct")) and not rec.get("error")
            counts[str(v)][1] += 1
    merged: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    folded: dict[str, int] = defaultdict(int)
    for key in counts:
        folded[key.lower()] += 1
    for key, (c, n) in counts.items():
        name = key.lower() if folded[key.lower()] > 1 else key
        merged[name][0] += c
        merged[name][1] += n
    return {k: {"accuracy": _pct(c, n), "correct": c, "n": n} for k, (c, n) in sorted(merged.items())}


def accuracy_summary(bench: Benchmark, records: Sequence[Record], denominator: str = "scored") -> dict[str, Any]:
    """Accuracy over the whole set and over the scored items, the headline ``overall`` by ``denominator``
    (``"all"`` or ``"scored"``), counts and one breakdown per ``bench.breakdowns`` field."""
    if denominator not in ("all", "scored"):
        raise ValueError(f"denominator must be 'all' or 'scored', got {denominator!r}")
    scored = [r for r in records if not r.get("error")]
    correct = sum(bool(r["correct"]) for r in scored)
    all_items = denominator == "all"
    return {
        "overall": _pct(correct, len(records) if all_items else len(scored)),
        "denominator": denominator,
        "accuracy_all": _pct(correct, len(records)),
        "accuracy_scored": _pct(correct, len(scored)),
        "correct": correct,
        "scored": len(scored),
        "errors": len(records) - len(scored),
        "no_answer": sum(1 for r in scored if r.get("extracted") is None),
        "breakdowns": {f: breakdown(records if all_items else scored, f, all_items) for f in bench.breakdowns},
    }


def mmmu_pro_summary(bench: Benchmark, records: Sequence[Record], denominator: str = "scored") -> dict[str, Any]:
    """Accuracy per setting (standard-10, vision) and ``overall`` = their mean, as MMMU-Pro reports it."""
    out = accuracy_summary(bench, records, denominator)
    out["pooled_accuracy"] = out["overall"]
    by_subset = breakdown(records, "subset", errors_as_wrong=denominator == "all")
    out["settings"] = {s.name: by_subset.get(s.name, {}).get("accuracy") for s in bench.subsets}
    raw = [by_subset[s.name]["correct"] / by_subset[s.name]["n"] for s in bench.subsets if s.name in by_subset]
    # The mean is only MMMU-Pro's overall when both settings were evaluated.
    out["overall"] = round(100.0 * sum(raw) / len(raw), 2) if len(raw) == len(bench.subsets) else None
    return out


def _wemath_group(rec: Record) -> tuple[str, str, str] | None:
    meta = rec.get("metadata") or {}
    key = str(meta.get("key") or "")
    steps, _, part = key.partition("_")
    if not steps or not part or meta.get("ID") is None:
        return None
    return str(meta["ID"]), steps, part


def wemath_four_dim(records: Sequence[Record], denominator: str = "scored") -> dict[str, Any]:
    """IK/IG/CM/RM counts and rates, strict and loose scores (module docstring).

    Args:
        denominator: ``"all"``: N is every composite problem (errored members count as wrong); ``"scored"``: N is
            the complete composite problems.

    Returns:
        ``{"n_problems", "n_all", "n_complete", "denominator", "incomplete", "ungrouped", "strict": {...},
        "loose": {...}}`` where each of ``strict`` / ``loose`` holds counts ``IK, IG, CM, RM``, their percentages
        ``IK_pct, ...`` (``RM_pct`` = RM / (CM + RM)) and ``score`` (percent).
    """
    groups: dict[tuple[str, str], dict[str, Record]] = defaultdict(dict)
    ungrouped = 0
    for rec in records:
        g = _wemath_group(rec)
        if g is None:
            ungrouped += 1
            continue
        groups[g[:2]][g[2]] = rec
    everyone = denominator == "all"
    n = incomplete = complete = 0
    strict = dict.fromkeys(("IK", "IG", "CM", "RM"), 0)
    loose = dict(strict)
    for (_, steps), members in sorted(groups.items()):
        expected = int(steps[0]) if steps[0].isdigit() else 0
        subs = [members.get(str(i)) for i in range(1, expected + 1)]
        found = [s for s in subs if s is not None]
        multi = members.get("multi")
        errored = any(s is not None and s.get("error") for s in [*found, multi])
        if multi is None or not subs or len(found) < len(subs) or (errored and not everyone):
            incomplete += 1
            continue
        n += 1
        complete += not errored
        right = [bool(s["correct"]) and not s.get("error") for s in found]
        m_right = bool(multi["correct"]) and not multi.get("error")
        if not m_right:
            name = "IG" if all(right) else "IK"
            strict[name] += 1
            loose[name] += 1
        else:
            strict["CM" if all(right) else "RM"] += 1
            loose["CM" if any(right) else "RM"] += 1
    # The official N counts every composite problem, classified or not (525 on the full set).
    n_denominator = len(groups) if everyone else n
    out: dict[str, Any] = {
        "n_problems": n_denominator,
        "n_all": len(groups),
        "n_complete": complete,
        "denominator": denominator,
        "incomplete": incomplete,
        "ungrouped": ungrouped,
    }
    for name, counts in (("strict", strict), ("loose", loose)):
        block: dict[str, Any] = dict(counts)
        block.update({f"{k}_pct": _pct(v, n_denominator) for k, v in counts.items() if k != "RM"})
        block["RM_pct"] = _pct(counts["RM"], counts["CM"] + counts["RM"])  # official: RM / (CM + RM)
        score = n_denominator - 0.5 * counts["IG"] - counts["RM"] - counts["IK"]
        block["score"] = _pct(score, n_denominator) if n_denominator else None
        out[name] = block
    return out


def wemath_summary(bench: Benchmark, records: Sequence[Record], denominator: str = "scored") -> dict[str, Any]:
    """Plain accuracy plus the four-dimensional metrics; ``overall`` is the loose score (see ``headline``)."""
    out = accuracy_summary(bench, records, denominator)
    out["accuracy"] = out["overall"]
    out["four_dim"] = wemath_four_dim(records, denominator)
    out["score_strict"] = out["four_dim"]["strict"]["score"]
    out["score_loose"] = out["four_dim"]["loose"]["score"]
    # Which WeMath figure the paper's Table 1 reports is not stated; we headline the loose score and keep the
    # strict score and plain accuracy beside it.
    out["overall"] = out["score_loose"]
    out["headline"] = "score_loose"
    return out


# A benchmark's summary, by the name its definition gives (perception_r1.eval.benchmarks).
AGGREGATORS: dict[str, Callable[[Benchmark, Sequence[Record], str], dict[str, Any]]] = {
    "accuracy": accuracy_summary,
    "mmmu_pro": mmmu_pro_summary,
    "wemath": wemath_summary,
}


def summarize(bench: Benchmark, records: Sequence[Record], scoring: str = "official") -> dict[str, Any]:
    """Summary of one benchmark by its aggregator.

    Args:
        scoring: The scoring mode the records were scored in (``official`` or ``corrected``); it picks the
            headline denominator (:data:`DENOMINATORS`) and is named in the summary.

    Returns:
        Always has ``overall`` (percent or ``None``), ``n_items``, ``full_size`` (items of the whole benchmark, or
        ``None``), ``items_digest`` (:func:`perception_r1.eval.coverage.item_set_digest` of the ids), ``scoring``
        and ``denominator``.

    Raises:
        ValueError: for an unknown scoring mode.
    """
    if scoring not in DENOMINATORS:
        raise ValueError(f"unknown scoring mode {scoring!r}; known: {', '.join(DENOMINATORS)}")
    out = lookup(AGGREGATORS, bench.aggregator, "aggregator")(bench, records, DENOMINATORS[scoring])
    out["n_items"] = len(records)
    out["full_size"] = bench.size
    out["items_digest"] = item_set_digest(r["id"] for r in records)
    out["scoring"] = scoring
    out.setdefault("headline", "overall")
    return out
