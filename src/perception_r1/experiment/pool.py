"""Pool several experiment folders at the level of their independent unit: the run (one warm-up each).

One experiment trains its arms from a single warm-up; its seeds vary only the GRPO runs, over the same test
problems. Whether a difference between arms survives another warm-up (another policy initialisation, reading and
warm-up seed, or just another float trajectory of the same recipe) needs several experiment folders. This module
reads their ``summary.json`` files and reports, for each comparison of ``stats.COMPARISONS`` between trained
policies:

- **the headline, run level**: per run, the mean over its seeds of the difference A - B of each test metric (the
  warm-up's single value stands for every seed of its run); then the mean, sd and 95% t-interval of those run
  values over the runs (n = runs, ``unit: "run"``). Each folder must hold its own warm-up: two folders copied from
  one would be one unit.
- for information, the per-(run, seed) differences, grouped by run;
- the exact McNemar test of the discordant counts summed over every run and seed (``mcnemar_summed``), labelled
  as what it is: it treats the (run, seed) pairs over the same problems as independent (pseudo-replication), so
  its p-value is not a test of the arms.

Example:
    >>> s = {"seeds": [0], "n_test": 2, "arms": {a: {"answer_accuracy": {"per_seed": [v]},
    ...      "perception_accuracy": {"per_seed": [v]}} for a, v in (("warmup", 0.5), ("rlvr", 0.5),
    ...      ("perception_r1", 1.0))}, "mcnemar": {"perception_r1_vs_rlvr": {"answer": {"b": 1, "c": 0},
    ...      "perception": {"b": 1, "c": 0}}}}
    >>> pooled = pool_summaries({"a": s, "b": s})
    >>> pooled["differences"]["perception_r1_vs_rlvr"]["answer_accuracy"]["per_run"]
    [0.5, 0.5]
    >>> pooled["mcnemar_summed"]["perception_r1_vs_rlvr"]["answer"]
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


SUMMED_LABEL = (
    "pseudo-replication: the discordant counts of every (run, seed) pair are summed as if independent, but every "
    "pair is tested on the same problems and the seeds of a run share its warm-up; not a test of the arms"
)


def pool_summaries(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Pool experiment summaries (see the module docstring).

    Args:
        summaries: ``{run name: summary.json contents}`` of independent runs (not one run given twice).

    Returns:
        ``{"runs": [{"name", "seeds", "n_test"}], "differences": {comparison: {metric: {"mean", "sd", "ci95",
        "unit": "run", "per_run" (each run's mean over its seeds), "per_run_seed" (each run's per-seed values),
        "positive", "negative" (runs)}}}, "mcnemar_summed": {comparison: {outcome: {"b", "c", "p_value"}}},
        "mcnemar_summed_label"}``. Comparisons with the image-blind baseline are left out of the differences (it
        has no per-seed metrics); a comparison missing from any summary is left out of the summed McNemar.
    """
    from perception_r1.analysis.mcnemar import exact_p_value

    differences: dict[str, Any] = {}
    for name, a, b in COMPARISONS:
        block = {}
        for metric in METRICS:
            per_run: list[list[float]] = []
            for summary in summaries.values():
                va, vb = _per_pair(summary, a, metric), _per_pair(summary, b, metric)
                if va is None or vb is None:
                    break
                per_run.append([round(x - y, 12) for x, y in zip(va, vb, strict=True)])
            else:
                means = [round(sum(d) / len(d), 12) for d in per_run]
                stats = across_seeds(means)
                block[metric] = {"mean": stats["mean"], "sd": stats["sd"], "ci95": stats["ci95"], "unit": "run",
                                 "per_run": means, "per_run_seed": per_run, "positive": sum(m > 0 for m in means),
                                 "negative": sum(m < 0 for m in means)}  # fmt: skip
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
    return {"runs": runs, "differences": differences, "mcnemar_summed": mcnemar, "mcnemar_summed_label": SUMMED_LABEL}


def pooled_markdown(pooled: Mapping[str, Any]) -> str:
    """Markdown of :func:`pool_summaries`' result: the run-level differences (the headline), then the summed
    McNemar counts under their pseudo-replication label."""
    n_pairs = sum(len(r["seeds"]) for r in pooled["runs"])
    lines = [
        f"Pooled over {len(pooled['runs'])} experiment runs (the independent unit: one warm-up each), {n_pairs} "
        "(run, seed) pairs: " + ", ".join(f"{r['name']} (seeds {r['seeds']})" for r in pooled["runs"]),
        "",
        "| comparison (A - B) | metric | mean over runs [95% t-interval, n = runs] | runs A > B / A < B | "
        "per run (mean over its seeds) | per (run, seed) |",
        "|---|---|---|---|---|---|",
    ]
    for name, block in pooled["differences"].items():
        for metric, s in block.items():
            ci = "" if s["ci95"] is None else f" [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"
            runs = " ".join(f"{v:+.3f}" for v in s["per_run"])
            pairs = " / ".join(" ".join(f"{v:+.3f}" for v in seeds) for seeds in s["per_run_seed"])
            lines.append(
                f"| {name} | {metric} | {s['mean']:+.3f}{ci} (n={len(s['per_run'])}) | {s['positive']} / "
                f"{s['negative']} | {runs} | {pairs} |"
            )
    lines += [
        "",
        f"Summed McNemar counts ({pooled['mcnemar_summed_label']}):",
        "",
        "| comparison (A vs B) | outcome | b (A only) | c (B only) | p (exact McNemar, pseudo-replicated) |",
        "|---|---|---|---|---|",
    ]
    for name, block in pooled["mcnemar_summed"].items():
        for outcome, t in block.items():
            lines.append(f"| {name} | {outcome} | {t['b']} | {t['c']} | {t['p_value']:.3g} |")
    return "\n".join(lines) + "\n"
