"""Pool several experiment folders: the arms compared over every (run, seed) pair and McNemar over all of them.

One experiment trains its arms from a single warm-up; its seeds vary only the GRPO runs. Whether a difference
between arms survives another warm-up (another policy initialisation, reading and warm-up seed, or just another
float trajectory of the same recipe) needs several experiment folders. This module reads their ``summary.json``
files and reports, for each comparison of ``stats.COMPARISONS`` between trained policies:

- the per-(run, seed) difference of each test metric (A minus B; the warm-up's single value stands for every seed
  of its run), with mean, sd and 95% t-interval across all pairs;
- the exact McNemar test of the discordant counts summed over every run and seed (each run's own pooled counts).

The t-interval treats the (run, seed) pairs as independent; the seeds of one run share its warm-up, so where
warm-ups matter more than GRPO seeds the interval is too narrow. The per-pair values are listed so that a reader
can see how they group by run.

Example:
    >>> s = {"seeds": [0], "n_test": 2, "arms": {a: {"answer_accuracy": {"per_seed": [v]},
    ...      "perception_accuracy": {"per_seed": [v]}} for a, v in (("warmup", 0.5), ("rlvr", 0.5),
    ...      ("perception_r1", 1.0))}, "mcnemar": {"perception_r1_vs_rlvr": {"answer": {"b": 1, "c": 0},
    ...      "perception": {"b": 1, "c": 0}}}}
    >>> pool_summaries({"a": s, "b": s})["mcnemar"]["perception_r1_vs_rlvr"]["answer"]
    {'b': 2, 'c': 0, 'p_value': 0.5}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.experiment.report import POLICIES
from perception_r1.experiment.stats import COMPARISONS, OUTCOMES, across_seeds

# Test metrics compared per (run, seed): key under summary["arms"][policy].
METRICS = ("answer_accuracy", "perception_accuracy", "perception_recall")


def load_summaries(folders: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Read ``summary.json`` of each experiment folder.

    Args:
        folders: Experiment output folders (or their ``summary.json`` files), at least two, each once.

    Returns:
        ``{folder as given: summary}`` in the order given.

    Raises:
        ValueError: naming the folder, for a missing or unreadable summary, a folder given twice, or fewer than two.
    """
    if len(folders) < 2:
        raise ValueError(f"pooling needs at least two experiment folders, got {len(folders)}")
    out: dict[str, dict[str, Any]] = {}
    seen: dict[Path, str] = {}
    for folder in folders:
        path = folder if folder.name == "summary.json" else folder / "summary.json"
        if not path.is_file():
            raise ValueError(f"{path}: no such file (is {folder} a finished experiment folder?)")
        resolved = path.resolve()
        if resolved in seen:
            raise ValueError(f"{folder}: given twice (also as {seen[resolved]}); each run may be pooled once")
        seen[resolved] = str(folder)
        try:
            summary = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        _check_summary(path, summary)
        out[str(folder)] = summary
    return out


def _check_summary(path: Path, summary: Any) -> None:
    if not isinstance(summary, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(summary).__name__}")
    for key in ("seeds", "arms", "mcnemar"):
        if key not in summary:
            raise ValueError(f"{path}: missing key {key!r} (not an experiment summary)")
    for policy in POLICIES:
        for metric in ("answer_accuracy", "perception_accuracy"):
            try:
                values = summary["arms"][policy][metric]["per_seed"]
            except (KeyError, TypeError):
                raise ValueError(f"{path}: missing arms.{policy}.{metric}.per_seed") from None
            # one warm-up per run: its single value stands for every seed (_per_pair)
            if len(values) != len(summary["seeds"]) and not (policy == "warmup" and len(values) == 1):
                raise ValueError(
                    f"{path}: arms.{policy}.{metric}.per_seed has {len(values)} values for "
                    f"{len(summary['seeds'])} seeds"
                )


def _per_pair(summary: Mapping[str, Any], policy: str, metric: str) -> list[float] | None:
    """One value per seed; the warm-up's single value stands for each seed of its run."""
    block = summary["arms"].get(policy, {}).get(metric)
    if block is None:
        return None
    values = [float(v) for v in block["per_seed"]]
    n = len(summary["seeds"])
    return values * n if len(values) == 1 and n > 1 else values


def pool_summaries(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Pool experiment summaries (see the module docstring).

    Args:
        summaries: ``{run name: summary.json contents}`` of independent runs (not one run given twice).

    Returns:
        ``{"runs": [{"name", "seeds", "n_test"}], "differences": {comparison: {metric: {"mean", "sd", "ci95",
        "per_seed" (one per (run, seed)), "positive", "negative"}}}, "mcnemar": {comparison: {outcome: {"b", "c",
        "p_value"}}}}``. Comparisons with the image-blind baseline are left out of the differences (it has no
        per-seed metrics); a comparison missing from any summary is left out of the McNemar tests.
    """
    from perception_r1.analysis.mcnemar import exact_p_value

    differences: dict[str, Any] = {}
    for name, a, b in COMPARISONS:
        block = {}
        for metric in METRICS:
            diffs: list[float] = []
            for summary in summaries.values():
                va, vb = _per_pair(summary, a, metric), _per_pair(summary, b, metric)
                if va is None or vb is None:
                    break
                diffs += [x - y for x, y in zip(va, vb, strict=True)]
            else:
                stats = across_seeds(diffs)
                stats["positive"] = sum(d > 0 for d in diffs)
                stats["negative"] = sum(d < 0 for d in diffs)
                block[metric] = stats
        if block:
            differences[name] = block
    mcnemar: dict[str, Any] = {}
    for name, _, _ in COMPARISONS:
        if not all(name in s["mcnemar"] for s in summaries.values()):
            continue
        mcnemar[name] = {}
        for outcome in OUTCOMES:
            only_a = sum(int(s["mcnemar"][name][outcome]["b"]) for s in summaries.values())
            only_b = sum(int(s["mcnemar"][name][outcome]["c"]) for s in summaries.values())
            mcnemar[name][outcome] = {"b": only_a, "c": only_b, "p_value": exact_p_value(only_a, only_b)}
    runs = [{"name": k, "seeds": list(s["seeds"]), "n_test": s.get("n_test")} for k, s in summaries.items()]
    return {"runs": runs, "differences": differences, "mcnemar": mcnemar}


def pooled_markdown(pooled: Mapping[str, Any]) -> str:
    """Two Markdown tables of :func:`pool_summaries`'s result: differences per (run, seed), pooled McNemar."""
    n_pairs = sum(len(r["seeds"]) for r in pooled["runs"])
    lines = [
        f"Pooled over {len(pooled['runs'])} experiment runs, {n_pairs} (run, seed) pairs: "
        + ", ".join(f"{r['name']} (seeds {r['seeds']})" for r in pooled["runs"]),
        "",
        "| comparison (A - B) | metric | mean [95% t-interval] | pairs A > B / A < B | per (run, seed) |",
        "|---|---|---|---|---|",
    ]
    for name, block in pooled["differences"].items():
        for metric, s in block.items():
            ci = "" if s["ci95"] is None else f" [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"
            values = " ".join(f"{v:+.3f}" for v in s["per_seed"])
            lines.append(
                f"| {name} | {metric} | {s['mean']:+.3f}{ci} | {s['positive']} / {s['negative']} | {values} |"
            )
    lines += [
        "",
        "| comparison (A vs B) | outcome | b (A only) | c (B only) | p (exact McNemar) |",
        "|---|---|---|---|---|",
    ]
    for name, block in pooled["mcnemar"].items():
        for outcome, t in block.items():
            lines.append(f"| {name} | {outcome} | {t['b']} | {t['c']} | {t['p_value']:.3g} |")
    return "\n".join(lines) + "\n"
