"""The experiment's outputs: ``summary.json``, ``report.md``, plots and ``report.html``.

``summary.json`` keys (stable; the committed results and tests read them): ``command``, ``seeds``, ``n_test``,
``wall_s``, ``machine``, ``arms.<policy>.<figure>`` (``mean``, ``sd``, ``ci95``, ``per_seed``; policies
``warmup``, ``rlvr``, ``perception_r1``), ``baselines.blind.<figure>`` (the image-blind chance level of
:mod:`perception_r1.experiment.baseline`), ``mcnemar.<comparison>.<answer|perception>`` (``per_seed`` exact tests;
``b``, ``c``, ``p_value`` summed over ``seeds_summed`` seeds, pseudo-replicated when that is more than one;
``warmup_vs_blind`` too), ``differences.<comparison>.<figure>`` (per-seed A - B, mean and t-interval over seeds),
``training.<arm>`` (per-step series of every logged reward component, loss, grad norm, learning rate, entropy,
completion length; zero-variance-group fraction, step-time split, peak memory; arms ``rlvr``, ``perception_r1`` and
the ``frozen`` control where it ran), ``training_compared.<a>_minus_<b>.<series>`` (per seed: the per-step
difference's mean over all and over the second half of the steps; ``second_half``: across seeds),
``findings`` (the report's first lines: :mod:`perception_r1.experiment.findings`), ``warmup``, ``reading`` (None
without a reading stage), ``timings_s``, ``split`` (``split_by`` and, per split, ``problems``, ``keys`` and for
val/test ``twins``: problems with a train problem of the same family, variant and values;
:func:`perception_r1.experiment.data.split_figures`) and ``test_ids``.
With ``data.multiple_choice``, ``mechanism`` (:mod:`perception_r1.experiment.mechanism`).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.experiment.config import ARMS, CONTROL, ExperimentConfig
from perception_r1.experiment.stats import (
    COMPARISONS,
    across_seeds,
    mcnemar_block,
    seed_differences,
    step_difference,
    wilson_interval,
)
from perception_r1.io_utils import iter_jsonl, jsonl_file

FIGURES = ("answer_accuracy", "perception_accuracy", "perception_recall", "format", "wrong_facts",
           "hallucinated_facts")  # fmt: skip
COMPONENTS = ("accuracy", "format", "perception", "repetition")
POLICIES = ("warmup", *ARMS)
# Per-step series kept from metrics.jsonl besides the reward components: summary key -> metrics.jsonl key.
SERIES = {
    "loss": "loss", "grad_norm": "grad_norm", "learning_rate": "learning_rate", "entropy": "entropy",
    "completion_length": "completions/mean_length", "clipped_ratio": "completions/clipped_ratio",
    "frac_reward_zero_std": "frac_reward_zero_std",
    # rollouts that repeat a think/answer tag: how the lenient reference format regex gets gamed
    "format_repeated_tags": "format/repeated_tags",
}  # fmt: skip
# Per-step comparisons of runs on the same prompts: (a, b); the series compared: the components and these.
RUN_PAIRS = (("rlvr", CONTROL), ("perception_r1", CONTROL), ("perception_r1", "rlvr"))
COMPARED = (*COMPONENTS, "format_repeated_tags", "completion_length", "entropy")
READING_KEYS = ("steps", "figures", "val_figures", "val_read_before", "val_read_after", "wall_s")


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "torch": torch.__version__, "gpu": gpu}  # fmt: skip


def policy_items(root: Path, name: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Graded test items of one policy, in ``ids`` order (the file may hold items of rows since deduplicated;
    ``items.jsonl.gz`` in a published folder)."""
    by_id = {r["id"]: r for _, r in iter_jsonl(root / "eval" / name / "items.jsonl") if isinstance(r, dict)}
    return [by_id[i] for i in ids if i in by_id]


def run_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The training rows (those with a ``reward``) of a run's ``metrics.jsonl`` (or ``.jsonl.gz``)."""
    path = jsonl_file(run_dir / "metrics.jsonl")
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
        **{name: series(key) for name, key in SERIES.items()},
        "mean_timing_s": {k: round(v, 3) for k, v in timing.items()},
        "mean_step_s": round(statistics.fmean(step_s), 2) if step_s else None,
    }
    return out


def _series(run: Mapping[str, Any], name: str) -> list[Any]:
    return run["components"][name] if name in COMPONENTS else run.get(name) or []


def compare_runs(training: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Run A minus run B step by step on the same prompts (:data:`RUN_PAIRS`), per seed and across seeds.

    Returns:
        ``{"<a>_minus_<b>": {series: {"per_seed": {seed: step_difference(...)}, "second_half": across_seeds of
        the per-seed second-half means (mean, sd, ci95 over seeds, unit "seed")}}}``; a pair is left out when
        no seed has both runs.
    """
    out: dict[str, Any] = {}
    for a, b in RUN_PAIRS:
        seeds = [s for s, run in training.get(a, {}).items() if run.get("steps") and training.get(b, {}).get(s)]
        if not seeds:
            continue
        block: dict[str, Any] = {}
        for name in COMPARED:
            per_seed = {}
            for s in seeds:
                ra, rb = training[a][s], training[b][s]
                per_seed[s] = step_difference(ra["steps"], _series(ra, name), rb["steps"], _series(rb, name))
            late = [d["second_half"] for d in per_seed.values() if d["second_half"] is not None]
            across = {**across_seeds(late), "unit": "seed"} if late else None
            block[name] = {"per_seed": per_seed, "second_half": across}
        out[f"{a}_minus_{b}"] = block
    return out


def _differences(evals: Mapping[str, Mapping[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """Per comparison and figure: per-seed A - B with its mean and t-interval over seeds (seedless ones: once)."""
    out: dict[str, Any] = {}
    for name, a, b in COMPARISONS:
        names = {p: ([p] if p in ("warmup", "blind") else [f"{p}-seed{s}" for s in seeds]) for p in (a, b)}
        if not all(n in evals for p in (a, b) for n in names[p]):
            continue
        out[name] = {
            fig: seed_differences([evals[n][fig] for n in names[a]], [evals[n][fig] for n in names[b]])
            for fig in FIGURES
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
    machine_info: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Everything the report shows, as one JSON-able dict (see the module docstring for its keys).

    Args:
        machine_info: Where the figures were measured (default: this machine, :func:`machine`); a summary rebuilt
            from a published folder keeps the original's.
        seeds: The seeds reported (default: the recipe's; a partial folder reports its finished seeds).
    """
    from perception_r1.experiment.findings import findings

    seeds = list(cfg.seeds if seeds is None else seeds)
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
    training, metric_rows = _training(root, seeds)
    summary = {
        "command": command,
        "seeds": seeds,
        "n_test": n_test,
        "wall_s": round(wall_s, 1),
        "machine": dict(machine_info) if machine_info is not None else machine(),
        "arms": {p: _policy_block(evals, p, seeds, n_test) for p in POLICIES},
        "baselines": baselines,
        "mcnemar": mcnemar_block(items, seeds),
        "differences": _differences(evals, seeds),
        "training": training,
        "training_compared": compare_runs(training),
        "warmup": {k: warm.get(k) for k in ("steps", "examples", "final_loss", "wall_s")},
        "reading": reading and {k: reading.get(k) for k in READING_KEYS},
        "timings_s": dict(timings),
        "split": dict(split) if split else None,
        "test_ids": list(test_ids),
    }
    if cfg.data.multiple_choice:  # the paper's mechanism: correct answers with wrong perception, per arm
        from perception_r1.experiment.mechanism import mechanism_block

        # the items and training rows read above, not read again
        summary["mechanism"] = mechanism_block(items, seeds, {arm: metric_rows[arm] for arm in ARMS})
    summary["findings"] = findings(summary)
    return summary


def _training(root: Path, seeds: Sequence[int]) -> tuple[dict[str, Any], dict[str, dict[int, list[dict[str, Any]]]]]:
    """Per arm and seed: :func:`training_figures` of the run and its peak memory; the frozen control where it ran.

    Returns:
        The figures, and the training rows they were computed from (``{arm: {seed: rows}}``), for other blocks.
    """
    training: dict[str, Any] = {}
    rows: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for arm in (*ARMS, CONTROL):
        runs = {}
        rows[arm] = {}
        for s in seeds:
            run = root / "runs" / f"{arm}-seed{s}"
            if arm == CONTROL and not jsonl_file(run / "metrics.jsonl").is_file():
                continue  # no control run (grpo.frozen off, or a folder made before it existed)
            memory = run / "memory.json"
            peak = json.loads(memory.read_text(encoding="utf-8")).get("peak_rss_mb") if memory.is_file() else None
            rows[arm][s] = run_metrics(run)
            runs[str(s)] = {**training_figures(rows[arm][s]), "peak_rss_mb": peak}
        if runs or arm != CONTROL:
            training[arm] = runs
    return training, rows


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
    """Markdown table of the exact McNemar tests (b: A right and B wrong; c: the reverse): per seed, the valid
    tests; then the counts summed over seeds, marked as pseudo-replicated where more than one seed is summed."""
    lines = [
        "| comparison (A vs B) | outcome | per seed: b, c, p (exact) | summed over seeds: b, c, p |",
        "|---|---|---|---|",
    ]
    for name, block in summary["mcnemar"].items():
        for outcome, r in block.items():
            seeds = "; ".join(
                f"seed {s.get('seed', '?')}: {s['b']}, {s['c']}, {s['p_value']:.3g}" for s in r["per_seed"]
            )
            summed = len(r["per_seed"]) if r.get("seeds_summed") is None else r["seeds_summed"]
            pooled = (
                f"{r['b']}, {r['c']}, {r['p_value']:.3g} (pseudo-replicated: {summed} seeds on the same problems)"
                if summed > 1
                else "(one seed: the test on its left)"
            )
            lines.append(f"| {name} | {outcome} | {seeds} | {pooled} |")
    return "\n".join(lines)


def differences_table(summary: Mapping[str, Any]) -> str:
    """Markdown table of per-seed test-metric differences A - B in points: mean [95% t-interval over seeds]."""
    lines = ["| comparison (A - B) | answer accuracy, points | perception accuracy, points | fact recall, points | "
             "per seed (perception) |", "|---|---|---|---|---|"]  # fmt: skip
    for name, block in (summary.get("differences") or {}).items():
        cells = [_points(block[fig]) for fig in ("answer_accuracy", "perception_accuracy", "perception_recall")]
        per_seed = " ".join(f"{100 * v:+.1f}" for v in block["perception_accuracy"]["per_seed"])
        lines.append(f"| {name} | {' | '.join(cells)} | {per_seed} |")
    return "\n".join(lines)


def _points(block: Mapping[str, Any]) -> str:
    text = f"{100 * block['mean']:+.1f}"
    if block.get("ci95"):
        text += f" [{100 * block['ci95'][0]:+.1f}, {100 * block['ci95'][1]:+.1f}]"
    return text + f" (n={len(block['per_seed'])})"
