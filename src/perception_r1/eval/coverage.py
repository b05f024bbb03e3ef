"""Which items an evaluation covers: partial runs ("n of N items") and comparisons over different item sets.

A run made with ``--limit N``, or on a local copy that lacks items, scores fewer items than the benchmark has; its
figures are not the benchmark's and cannot stand beside the paper's full-benchmark rows unmarked. Two runs over
different item sets (another ``--limit``, another copy) cannot be compared either. Each benchmark summary
(:func:`perception_r1.eval.metrics.summarize`) therefore records ``n_items``, the benchmark's ``full_size``
(:attr:`perception_r1.eval.benchmarks.Benchmark.size`) and ``items_digest`` (a digest of the sorted item ids); the
reports (:mod:`perception_r1.eval.report`, :mod:`perception_r1.report.evaluation`) mark partial cells and refuse to
put runs over different item sets side by side unless asked.

Example:
    >>> entry = {"n_items": 50, "full_size": 1000, "overall": 61.0}
    >>> is_partial("mathvista", entry), coverage_text("mathvista", entry)
    (True, '50 of 1,000 items')
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def item_set_digest(ids: Iterable[Any]) -> str:
    """A short digest of a set of item ids (order does not matter).

    Example:
        >>> item_set_digest(["b", "a"]) == item_set_digest(["a", "b"]) != item_set_digest(["a"])
        True
    """
    joined = "\n".join(sorted(str(i) for i in ids))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def full_size(bench: str, entry: Mapping[str, Any]) -> int | None:
    """Items of the whole benchmark: the summary's ``full_size``, else the registry's (summaries written before
    ``full_size`` existed), else None."""
    size = entry.get("full_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    from perception_r1.eval.benchmarks import BENCHMARKS

    return BENCHMARKS.get(bench).size if bench in BENCHMARKS else None


def is_partial(bench: str, entry: Mapping[str, Any]) -> bool:
    """Whether a benchmark summary covers fewer items than the whole benchmark."""
    n, size = entry.get("n_items"), full_size(bench, entry)
    return isinstance(n, int) and size is not None and n < size


def coverage_text(bench: str, entry: Mapping[str, Any]) -> str:
    """``"50 of 1,000 items"`` (``"50 items"`` when the benchmark's size is unknown)."""
    n, size = entry.get("n_items"), full_size(bench, entry)
    shown = f"{n:,}" if isinstance(n, int) else "?"
    return f"{shown} of {size:,} items" if size is not None else f"{shown} items"


def _item_set(entry: Mapping[str, Any]) -> str:
    """What identifies a summary's item set: its digest, or (older summaries) its item count."""
    return str(entry.get("items_digest") or f"{entry.get('n_items')} items")


def different_item_sets(summaries: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Benchmarks that several runs evaluated on different item sets.

    Args:
        summaries: ``summary.json`` contents (``model_name`` and ``benchmarks``), one per run.

    Returns:
        ``{benchmark: ["<model>: <n> of <N> items", ...]}`` for each benchmark whose runs do not share one item
        set; empty when every benchmark is compared over the same items.
    """
    found: dict[str, list[str]] = {}
    benches = {b for s in summaries for b in s.get("benchmarks", {})}
    for bench in sorted(benches):
        entries = [(s["model_name"], s["benchmarks"][bench]) for s in summaries if bench in s.get("benchmarks", {})]
        if len({_item_set(e) for _, e in entries}) > 1:
            found[bench] = [f"{name}: {coverage_text(bench, e)}" for name, e in entries]
    return found


def check_same_items(summaries: Sequence[Mapping[str, Any]]) -> None:
    """Refuse to compare runs over different item sets.

    Raises:
        ValueError: naming each benchmark and each run's item count, and how to compare anyway.
    """
    found = different_item_sets(summaries)
    if found:
        detail = "; ".join(f"{bench}: {', '.join(runs)}" for bench, runs in found.items())
        raise ValueError(
            f"the runs were evaluated on different item sets, so their figures are not comparable ({detail}); "
            "evaluate the same items (the same --limit and data) or pass --allow-different-items to compare anyway"
        )
