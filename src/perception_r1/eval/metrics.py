"""Benchmark summaries from scored per-item records: accuracy with breakdowns, WeMath's four-dimensional
metrics, MMMU-Pro's overall.

A record is a dict with at least ``id``, ``correct`` (bool; ``None`` for an error item), ``error`` (``None`` or a
reason) and ``metadata``. Error items (e.g. an image that failed to load) are counted under ``errors`` and left out
of every accuracy: they are neither scored as wrong nor dropped silently. Accuracies are percentages.

WeMath (reference section 8): items sharing ``ID`` and step count (``key`` ``2steps_*`` / ``3steps_*``) form a
composite problem with one-step sub-problems ``s_i`` and the multi-step problem ``m``:

* IK: some ``s_i`` wrong and ``m`` wrong; IG: all ``s_i`` right and ``m`` wrong;
* CM (strict): all ``s_i`` right and ``m`` right; RM (strict): some ``s_i`` wrong and ``m`` right;
* CM (loose): some ``s_i`` right and ``m`` right; RM (loose): all ``s_i`` wrong and ``m`` right;
* score = (N - 0.5 IG - RM - IK) / N over the N complete composite problems, strict and loose.

Composite problems with a missing or errored member are not classified and are counted as ``incomplete``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from perception_r1.eval.benchmarks import Benchmark
from perception_r1.registry import Registry

Record = Mapping[str, Any]
AGGREGATORS: Registry[Callable[[Benchmark, Sequence[Record]], dict[str, Any]]] = Registry("aggregator")


def _pct(correct: int, n: int) -> float | None:
    return round(100.0 * correct / n, 2) if n else None


def _field(metadata: Mapping[str, Any], dotted: str) -> Any:
    value: Any = metadata
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def breakdown(records: Iterable[Record], dotted: str) -> dict[str, dict[str, Any]]:
    """Accuracy per value of metadata field ``dotted`` (a list value counts the item under each element).

    Returns:
        ``{value: {"accuracy": pct, "correct": k, "n": n}}`` sorted by value; error items are excluded.
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for rec in records:
        if rec.get("error"):
            continue
        value = _field(rec.get("metadata") or {}, dotted)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            counts[str(v)][0] += bool(rec["correct"])
            counts[str(v)][1] += 1
    return {k: {"accuracy": _pct(c, n), "correct": c, "n": n} for k, (c, n) in sorted(counts.items())}


@AGGREGATORS.register("accuracy")
def accuracy_summary(bench: Benchmark, records: Sequence[Record]) -> dict[str, Any]:
    """Overall accuracy (``overall``), counts and one breakdown per ``bench.breakdowns`` field."""
    scored = [r for r in records if not r.get("error")]
    correct = sum(bool(r["correct"]) for r in scored)
    return {
        "overall": _pct(correct, len(scored)),
        "correct": correct,
        "scored": len(scored),
        "errors": len(records) - len(scored),
        "no_answer": sum(1 for r in scored if r.get("extracted") is None),
        "breakdowns": {f: breakdown(scored, f) for f in bench.breakdowns},
    }


@AGGREGATORS.register("mmmu_pro")
def mmmu_pro_summary(bench: Benchmark, records: Sequence[Record]) -> dict[str, Any]:
    """Accuracy per setting (standard-10, vision) and ``overall`` = their mean, as MMMU-Pro reports it."""
    out = accuracy_summary(bench, records)
    out["pooled_accuracy"] = out["overall"]
    by_subset = breakdown(records, "subset")
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


def wemath_four_dim(records: Sequence[Record]) -> dict[str, Any]:
    """IK/IG/CM/RM counts and rates, strict and loose scores (module docstring).

    Returns:
        ``{"n_problems", "incomplete", "ungrouped", "strict": {...}, "loose": {...}}`` where each of ``strict`` /
        ``loose`` holds counts ``IK, IG, CM, RM``, their percentages ``IK_pct, ...`` and ``score`` (percent).
    """
    groups: dict[tuple[str, str], dict[str, Record]] = defaultdict(dict)
    ungrouped = 0
    for rec in records:
        g = _wemath_group(rec)
        if g is None:
            ungrouped += 1
            continue
        groups[g[:2]][g[2]] = rec
    n = incomplete = 0
    strict = dict.fromkeys(("IK", "IG", "CM", "RM"), 0)
    loose = dict(strict)
    for (_, steps), members in sorted(groups.items()):
        expected = int(steps[0]) if steps[0].isdigit() else 0
        subs = [members.get(str(i)) for i in range(1, expected + 1)]
        multi = members.get("multi")
        if multi is None or not subs or any(s is None or s.get("error") for s in subs) or multi.get("error"):
            incomplete += 1
            continue
        n += 1
        right = [bool(s["correct"]) for s in subs]
        m_right = bool(multi["correct"])
        if not m_right:
            name = "IG" if all(right) else "IK"
            strict[name] += 1
            loose[name] += 1
        else:
            strict["CM" if all(right) else "RM"] += 1
            loose["CM" if any(right) else "RM"] += 1
    out: dict[str, Any] = {"n_problems": n, "incomplete": incomplete, "ungrouped": ungrouped}
    for name, counts in (("strict", strict), ("loose", loose)):
        block: dict[str, Any] = dict(counts)
        block.update({f"{k}_pct": _pct(v, n) for k, v in counts.items()})
        block["score"] = _pct(n - 0.5 * counts["IG"] - counts["RM"] - counts["IK"], n) if n else None
        out[name] = block
    return out


@AGGREGATORS.register("wemath")
def wemath_summary(bench: Benchmark, records: Sequence[Record]) -> dict[str, Any]:
    """Plain accuracy plus the four-dimensional metrics; ``overall`` is the loose score (see ``headline``)."""
    out = accuracy_summary(bench, records)
    out["accuracy"] = out["overall"]
    out["four_dim"] = wemath_four_dim(records)
    out["score_strict"] = out["four_dim"]["strict"]["score"]
    out["score_loose"] = out["four_dim"]["loose"]["score"]
    # Which WeMath figure the paper's Table 1 reports is not stated; we headline the loose score and keep the
    # strict score and plain accuracy beside it.
    out["overall"] = out["score_loose"]
    out["headline"] = "score_loose"
    return out


def summarize(bench: Benchmark, records: Sequence[Record]) -> dict[str, Any]:
    """Summary of one benchmark by its aggregator; always has ``overall`` (percent or ``None``) and ``n_items``."""
    out = AGGREGATORS.get(bench.aggregator)(bench, records)
    out["n_items"] = len(records)
    out.setdefault("headline", "overall")
    return out
