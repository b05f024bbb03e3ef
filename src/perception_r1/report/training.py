"""Training sections of the report: a card per run (files and their state) and the metric charts."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from perception_r1.report.charts import Series, format_number, line_chart, run_colour, series_of
from perception_r1.report.load import RunData

# (metric key, title, note) charted first, in this order; reward components are inserted after the total.
JUDGE_CHARTS = (
    ("perception/judge_failure_rate", "judge failure rate", "fraction of judged completions without verdicts"),
    ("perception/judge_latency_s", "judge latency (s)", "slowest judgment of the step"),
)
SIGNAL_CHARTS = (
    ("frac_reward_zero_std", "zero-variance groups", "fraction of prompts whose rewards were all equal: no signal"),
)
# The first key present names the completion-length chart (TRL's name changed across versions).
LENGTH_KEYS = ("completions/mean_length", "completion_length", "completions/mean_terminated_length")
STEP_TIME_KEYS = ("step_time", "timing/step", "train/step_time")
SKIPPED_KEYS = {"step", "epoch"}
STATE_TEXT = {"ok": "ok", "missing": "missing", "corrupt": "corrupt", "partial": "being written"}


def std_key(key: str) -> str | None:
    """The metric holding ``key``'s standard deviation over completions (drawn as a band), if there is one."""
    if key == "reward":
        return "reward_std"
    if key.startswith("rewards/") and key.endswith("/mean"):
        return key[: -len("/mean")] + "/std"
    return None


def _series(runs: Sequence[tuple[int, RunData]], key: str) -> list[Series]:
    spread_key = std_key(key)
    return [
        Series(
            run.label,
            run_colour(i),
            series_of(run.metrics, key),
            dict(series_of(run.metrics, spread_key)) if spread_key else {},
        )
        for i, run in runs
    ]


def reward_names(runs: Sequence[RunData]) -> list[str]:
    """Reward component names in order of first appearance (``rewards/<name>/mean`` metric keys)."""
    names: dict[str, None] = {}
    for run in runs:
        for name in run.reward_weights():
            names.setdefault(name, None)
        for row in run.metrics:
            for key in row:
                if key.startswith("rewards/") and key.endswith("/mean"):
                    names.setdefault(key[len("rewards/") : -len("/mean")], None)
    return list(names)


def chart_plan(runs: Sequence[RunData]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The main charts ``(key, title, note)`` and the remaining numeric keys (charted under "other metrics")."""
    keys: dict[str, None] = {}
    for run in runs:
        for row in run.metrics:
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in SKIPPED_KEYS:
                    keys.setdefault(key, None)
    main: list[tuple[str, str, str]] = [("reward", "total reward", "mean, weighted; band: +-std")]
    for name in reward_names(runs):
        main.append((f"rewards/{name}/mean", f"reward: {name}", "mean; band: +-std over completions"))
    main += [*JUDGE_CHARTS, *SIGNAL_CHARTS]
    length_key = next((k for k in LENGTH_KEYS if k in keys), LENGTH_KEYS[0])
    main.append((length_key, "completion length (tokens)", "mean"))
    step_key = next((k for k in STEP_TIME_KEYS if k in keys), None)
    if step_key:
        main.append((step_key, "step time (s)", ""))
    timing = sorted(k for k in keys if k.startswith("timing/") and k != step_key)
    main += [(k, f"time: {k[len('timing/') :]} (s)", "seconds per logged step") for k in timing]
    shown = {key for key, _, _ in main} | {std_key(key) for key, _, _ in main}
    return main, [k for k in keys if k not in shown]


def charts_section(indexed: Sequence[tuple[int, RunData]]) -> str:
    """The "metrics over steps" section (empty string when no run logged metrics)."""
    # Evaluation folders have no step metrics: a "not logged" line for each would only add noise.
    indexed = [(i, run) for i, run in indexed if run.is_train]
    runs = [run for _, run in indexed]
    if not any(run.metrics for run in runs):
        return ""
    main, other = chart_plan(runs)
    parts = ['<section id="charts"><h2>Metrics over steps</h2><div class="charts">']
    parts += [line_chart(key, title, _series(indexed, key), note) for key, title, note in main]
    parts.append("</div>")
    if other:
        parts.append(f'<details class="other-metrics"><summary>Other metrics ({len(other)})</summary>'
                     '<div class="charts">')  # fmt: skip
        parts += [line_chart(key, key, _series(indexed, key)) for key in other]
        parts.append("</div></details>")
    parts.append("</section>")
    return "".join(parts)


def _status_badge(state: str, name: str, detail: str, rows: int) -> str:
    text = f"{name}: {STATE_TEXT.get(state, state)}"
    if state in ("ok", "partial", "corrupt") and name.endswith(".jsonl"):
        text += f" ({rows} row{'s' if rows != 1 else ''})"
    title = f' title="{html.escape(detail)}"' if detail else ""
    extra = f' <span class="detail">{html.escape(detail)}</span>' if detail and state != "ok" else ""
    return f'<li class="file file-{state}"{title}>{html.escape(text)}{extra}</li>'


def _facts(run: RunData) -> list[tuple[str, str]]:
    """(name, value) pairs worth a glance: steps, time, model, weights, last total reward."""
    facts: list[tuple[str, str]] = []
    steps = [row["step"] for row in run.metrics if isinstance(row.get("step"), (int, float))]
    if steps:
        facts.append(("last logged step", format_number(max(steps))))
    last = series_of(run.metrics, "reward")
    if last:
        facts.append(("last total reward", format_number(last[-1][1])))
    if run.samples:
        facts.append(("rollouts logged", str(len(run.samples))))
    summary = run.summary or {}
    for key in ("model_name", "model", "steps", "examples", "wall_s"):
        value = summary.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
            facts.append((key.replace("_", " "), str(value)))
    weights = run.reward_weights()
    if weights:
        facts.append(("reward weights", ", ".join(f"{k} {format_number(v)}" for k, v in weights.items())))
    return facts


def run_cards(indexed: Sequence[tuple[int, RunData]], groups: dict[int, str]) -> str:
    """One card per run: its kind, state (in progress, damaged files) and key facts.

    Args:
        indexed: ``(run index, run)`` pairs (the index picks the colour).
        groups: Run index -> experiment label, for runs that belong to an experiment.
    """
    cards = []
    for i, run in indexed:
        kinds = [k for k, flag in (("training", run.is_train), ("evaluation", run.is_eval)) if flag] or ["unknown"]
        badges = [f'<span class="badge kind">{k}</span>' for k in kinds]
        if not run.exists:
            badges.append('<span class="badge bad">folder missing</span>')
        elif any(f.state == "corrupt" for f in run.files):
            badges.append('<span class="badge bad">damaged files</span>')
        if run.exists and run.in_progress:
            badges.append('<span class="badge live">in progress</span>')
        if i in groups:
            badges.append(f'<span class="badge">{html.escape(groups[i])}</span>')
        facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in _facts(run))
        files = "".join(_status_badge(f.state, f.name, f.detail, f.rows) for f in run.files)
        cards.append(
            f'<article class="run-card" data-run="{i}"><h3><span class="swatch" style="background:{run_colour(i)}">'
            f'</span>{html.escape(run.label)}</h3><p class="path">{html.escape(str(run.path))}</p>'
            f'<p>{" ".join(badges)}</p><dl>{facts}</dl><ul class="files">{files}</ul></article>'
        )
    return f'<section id="runs"><h2>Runs</h2><div class="cards">{"".join(cards)}</div></section>'


def json_block(title: str, value: Any) -> str:
    """A collapsed block showing a JSON document (e.g. an experiment's summary.json)."""
    import json

    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return f'<details class="json"><summary>{html.escape(title)}</summary><pre>{html.escape(text)}</pre></details>'
