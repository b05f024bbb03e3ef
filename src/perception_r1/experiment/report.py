"""The experiment's outputs: ``summary.json``, ``report.md``, plots and ``report.html``.

``summary.json`` keys (stable; the committed results and tests read them): ``command``, ``seeds``, ``n_test``,
``wall_s``, ``machine``, ``arms.<policy>.<figure>`` (``mean``, ``sd``, ``ci95``, ``per_seed``; policies
``warmup``, ``rlvr``, ``perception_r1``), ``baselines.blind.<figure>`` (the image-blind chance level of
:mod:`perception_r1.experiment.baseline`), ``mcnemar.<comparison>.<answer|perception>`` (``b``, ``c``,
``p_value``, ``per_seed``; ``warmup_vs_blind`` too), ``training.<arm>`` (reward trajectories, zero-variance-group
fraction, step-time split, peak memory), ``warmup``, ``reading`` (None without a reading stage), ``timings_s`` and
``split`` (``split_by`` and, per split, ``problems``, ``keys`` and for val/test ``twins``: problems with a train
problem of the same family, variant and values; :func:`perception_r1.experiment.data.split_figures`); with
``data.multiple_choice``, ``mechanism`` (:mod:`perception_r1.experiment.mechanism`).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.experiment.config import ARMS, ExperimentConfig
from perception_r1.experiment.stats import across_seeds, mcnemar_block, paired_step_difference, wilson_interval
from perception_r1.io_utils import atomic_write_json, atomic_write_text, iter_jsonl

FIGURES = ("answer_accuracy", "perception_accuracy", "perception_recall", "format", "wrong_facts",
           "hallucinated_facts")  # fmt: skip
COMPONENTS = ("accuracy", "format", "perception", "repetition")
POLICIES = ("warmup", *ARMS)
READING_KEYS = ("steps", "figures", "val_figures", "val_read_before", "val_read_after", "wall_s")


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "torch": torch.__version__, "gpu": gpu}  # fmt: skip


def policy_items(root: Path, name: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Graded test items of one policy, in ``ids`` order (the file may hold items of rows since deduplicated)."""
    by_id = {r["id"]: r for _, r in iter_jsonl(root / "eval" / name / "items.jsonl") if isinstance(r, dict)}
    return [by_id[i] for i in ids if i in by_id]


def _metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [r for _, r in iter_jsonl(path) if isinstance(r, dict) and "reward" in r]


def training_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Reward trajectories, zero-variance-group fraction and the step-time split of one GRPO run."""
    if not rows:
        return {}

    def series(key: str) -> list[float | None]:
        return [r.get(key) for r in rows]

    timing_keys = sorted({k for r in rows for k in r if k.startswith("timing/")})
    timing = {k.split("/", 1)[1]: statistics.fmean(r.get(k) or 0.0 for r in rows) for k in timing_keys}
    step_s = [t for t in (r.get("step_time") for r in rows) if t is not None]
    out = {
        "steps": [r["step"] for r in rows],
        "reward": series("reward"),
        "components": {c: series(f"rewards/{c}/mean") for c in COMPONENTS},
        "frac_reward_zero_std": series("frac_reward_zero_std"),
        # rollouts that repeat a think/answer tag: how the lenient reference format regex gets gamed
        "format_repeated_tags": series("format/repeated_tags"),
        "mean_timing_s": {k: round(v, 3) for k, v in timing.items()},
        "mean_step_s": round(statistics.fmean(step_s), 2) if step_s else None,
    }
    return out


def _paired(training: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Per seed and component: perception_r1 minus rlvr, step by step (both logged every component)."""
    out: dict[str, Any] = {}
    for seed, pr in training.get("perception_r1", {}).items():
        rl = training.get("rlvr", {}).get(seed) or {}
        if pr.get("components") and rl.get("components"):
            out[seed] = {
                c: paired_step_difference(pr["components"][c], rl["components"][c])
                for c in ("accuracy", "perception", "format")
            }
    return out


def _policy_block(evals: Mapping[str, Mapping[str, Any]], policy: str, seeds: Sequence[int], n: int) -> dict[str, Any]:
    names = ["warmup"] if policy == "warmup" else [f"{policy}-seed{s}" for s in seeds]
    block = {}
    for fig in FIGURES:
        block[fig] = across_seeds([evals[name][fig] for name in names])
    for fig in ("answer_accuracy", "perception_accuracy"):
        block[fig]["wilson95_per_seed"] = [list(wilson_interval(round(evals[x][fig] * n), n)) for x in names]
    block["per_family"] = {name: evals[name].get("per_family", {}) for name in names}
    return block


def build_summary(
    root: Path, cfg: ExperimentConfig, evals: Mapping[str, Mapping[str, Any]], timings: Mapping[str, float],
    wall_s: float, command: str, test_ids: Sequence[str], split: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Everything the report shows, as one JSON-able dict (see the module docstring for its keys)."""
    seeds = list(cfg.seeds)
    warmup_items = policy_items(root, "warmup", test_ids)  # one warm-up policy, compared with every seed's arms
    items = {"warmup": {s: warmup_items for s in seeds}}
    for arm in ARMS:
        items[arm] = {s: policy_items(root, f"{arm}-seed{s}", test_ids) for s in seeds}
    baselines = {}
    if "blind" in evals:
        blind_items = policy_items(root, "blind", test_ids)
        items["blind"] = {s: blind_items for s in seeds}
        baselines["blind"] = {fig: evals["blind"][fig] for fig in FIGURES}
    n_test = evals["warmup"]["n"]
    warm = json.loads((root / "warmup" / "summary.json").read_text(encoding="utf-8"))
    reading_marker = root / "reading" / "summary.json"
    reading = json.loads(reading_marker.read_text(encoding="utf-8")) if reading_marker.is_file() else None
    training: dict[str, Any] = {}
    for arm in ARMS:
        training[arm] = {}
        for s in seeds:
            run = root / "runs" / f"{arm}-seed{s}"
            memory = run / "memory.json"
            peak = json.loads(memory.read_text(encoding="utf-8")).get("peak_rss_mb") if memory.is_file() else None
            training[arm][str(s)] = {**training_figures(_metrics(run)), "peak_rss_mb": peak}
    return {
        "command": command,
        "seeds": seeds,
        "n_test": n_test,
        "wall_s": round(wall_s, 1),
        "machine": machine(),
        "arms": {p: _policy_block(evals, p, seeds, n_test) for p in POLICIES},
        "baselines": baselines,
        "mcnemar": mcnemar_block(items, seeds),
        "training": training,
        "training_paired": _paired(training),
        "warmup": {k: warm.get(k) for k in ("steps", "examples", "final_loss", "wall_s")},
        "reading": reading and {k: reading.get(k) for k in READING_KEYS},
        "timings_s": dict(timings),
        "split": dict(split) if split else None,
        "test_ids": list(test_ids),
    }


def _fmt(block: Mapping[str, Any], pct: bool = True) -> str:
    scale = 100 if pct else 1
    text = f"{block['mean'] * scale:.1f}"
    if block.get("ci95"):
        lo, hi = block["ci95"]
        text += f" [{lo * scale:.1f}, {hi * scale:.1f}]"
    return text


def results_table(summary: Mapping[str, Any]) -> str:
    """Markdown table: one row per policy, mean [95% CI over seeds]."""
    head = (
        "| policy | answer accuracy % | perception accuracy % | fact recall % | format % | wrong facts | "
        "hallucinated |"
    )
    lines = [head, "|---|---|---|---|---|---|---|"]
    for p in POLICIES:
        a = summary["arms"][p]
        lines.append(
            f"| {p} | {_fmt(a['answer_accuracy'])} | {_fmt(a['perception_accuracy'])} | "
            f"{_fmt(a['perception_recall'])} | {_fmt(a['format'])} | {_fmt(a['wrong_facts'], False)} | "
            f"{_fmt(a['hallucinated_facts'], False)} |"
        )
    blind = summary.get("baselines", {}).get("blind")
    if blind:
        lines.append(
            f"| image-blind baseline (chance) | {100 * blind['answer_accuracy']:.1f} | "
            f"{100 * blind['perception_accuracy']:.1f} | {100 * blind['perception_recall']:.1f} | "
            f"{100 * blind['format']:.1f} | {blind['wrong_facts']} | {blind['hallucinated_facts']} |"
        )
    return "\n".join(lines)


def mcnemar_table(summary: Mapping[str, Any]) -> str:
    """Markdown table of the pooled exact McNemar tests (b: A right and B wrong; c: the reverse)."""
    lines = ["| comparison (A vs B) | outcome | b | c | p (exact) | per seed (b, c, p) |", "|---|---|---|---|---|---|"]
    for name, block in summary["mcnemar"].items():
        for outcome, r in block.items():
            seeds = "; ".join(f"{s['b']}, {s['c']}, {s['p_value']:.3g}" for s in r["per_seed"])
            lines.append(f"| {name} | {outcome} | {r['b']} | {r['c']} | {r['p_value']:.3g} | {seeds} |")
    return "\n".join(lines)


def write_report(
    root: Path, cfg: ExperimentConfig, evals: Mapping[str, Mapping[str, Any]], timings: Mapping[str, float],
    wall_s: float, command: str | None = None, test_ids: Sequence[str] = (), split: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Write ``summary.json``, the plots, ``report.md`` and ``report.html`` into ``root``; return the summary.

    ``test_ids`` are the evaluated test problems (each distinct problem once); ``split`` what
    :func:`perception_r1.experiment.data.split_figures` says about the splits (the report states the twin count).
    """
    from perception_r1.experiment.mechanism import add_mechanism
    from perception_r1.experiment.plots import write_plots
    from perception_r1.experiment.report_md import render_html, render_markdown, sample_rollouts

    command = command or "perception-r1 experiment"
    summary = build_summary(root, cfg, evals, timings, wall_s, command, test_ids, split)
    mechanism_md = add_mechanism(root, cfg, summary, test_ids)  # multiple-choice data only: "" otherwise
    plots = write_plots(root / "plots", summary)
    atomic_write_json(root / "summary.json", summary)
    samples = sample_rollouts(root, cfg, cfg.eval.samples, test_ids)
    atomic_write_text(root / "report.md", render_markdown(cfg, summary, plots, samples) + mechanism_md)
    render_html(root, summary, plots, samples)
    return summary
