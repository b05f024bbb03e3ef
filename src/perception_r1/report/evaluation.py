"""Evaluation sections of the report: the per-benchmark table across runs and each run's breakdown tables.

Figures come from ``summary.json`` (:mod:`perception_r1.eval.metrics`); a folder whose summary is missing or
damaged (an evaluation still running) gets plain accuracies counted from its ``items/<bench>.jsonl``, marked as
such.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from perception_r1.report.load import RunData
from perception_r1.report.rollouts import finite

ORDER = ("mathvista", "mathverse", "mathvision", "wemath", "mmmu", "mmmu_pro", "mmstar", "emma")


def _title(bench: str) -> str:
    from perception_r1.eval.benchmarks import BENCHMARKS

    return BENCHMARKS.get(bench).title if bench in BENCHMARKS else bench


def _pct(value: Any) -> str:
    number = finite(value)
    return "" if number is None else f"{number:.1f}"


def benchmark_summaries(run: RunData) -> tuple[dict[str, dict[str, Any]], bool]:
    """Per-benchmark summaries and whether they were counted from items (no usable ``summary.json``)."""
    summary = run.summary if isinstance(run.summary, dict) else {}
    benchmarks = summary.get("benchmarks")
    if isinstance(benchmarks, dict) and benchmarks:
        return {str(k): v for k, v in benchmarks.items() if isinstance(v, dict)}, False
    out = {}
    for bench, rows in run.items.items():
        scored = [r for r in rows if not r.get("error")]
        correct = sum(1 for r in scored if r.get("correct") is True)
        out[bench] = {
            "overall": round(100.0 * correct / len(scored), 2) if scored else None,
            "correct": correct,
            "scored": len(scored),
            "errors": len(rows) - len(scored),
            "no_answer": sum(1 for r in scored if r.get("extracted") is None),
            "n_items": len(rows),
        }
    return out, True


def _columns(tables: Sequence[dict[str, dict[str, Any]]]) -> list[str]:
    present = {b for t in tables for b in t}
    return [b for b in ORDER if b in present] + sorted(present - set(ORDER))


def evaluation_section(indexed: Sequence[tuple[int, RunData]]) -> str:
    """The evaluation section (empty string when no run is an evaluation)."""
    evals = [(i, run) for i, run in indexed if run.is_eval]
    if not evals:
        return ""
    summaries = [(i, run, *benchmark_summaries(run)) for i, run in evals]
    columns = _columns([s for _, _, s, _ in summaries])
    head = "".join(f"<th>{html.escape(_title(c))}</th>" for c in columns)
    rows = []
    for i, run, table, counted in summaries:
        name = (run.summary or {}).get("model_name") if isinstance(run.summary, dict) else None
        label = html.escape(run.label + (f" ({name})" if name and name != run.label else ""))
        mark = ' <span class="badge live" title="no usable summary.json">counted from items</span>' if counted else ""
        cells = "".join(_cell(c, table.get(c)) for c in columns)
        rows.append(f'<tr data-run="{i}"><th scope="row">{label}{mark}</th>{cells}</tr>')
    parts = [
        '<section id="evaluation"><h2>Evaluation</h2>',
        '<div class="table-wrap"><table class="eval-table"><thead><tr><th>run</th>',
        head,
        "</tr></thead><tbody>",
        *rows,
        "</tbody></table></div>",
        '<p class="note">Accuracy in %; scored items / errors under each figure; "partial" marks a run evaluated on '
        "part of a benchmark (not comparable with full-benchmark figures). WeMath: loose score; MMMU-Pro: mean of "
        "its two settings.</p>",
    ]
    for i, run, table, _ in summaries:
        parts.append(_breakdowns(i, run, table))
    parts.append("</section>")
    return "".join(parts)


def _cell(bench: str, summary: dict[str, Any] | None) -> str:
    from perception_r1.eval.coverage import coverage_text, is_partial

    if not summary:
        return '<td class="empty">-</td>'
    counts = f"{summary.get('scored', '?')} scored / {summary.get('errors', 0)} errors"
    value = _pct(summary.get("overall"))
    partial = ""
    if is_partial(bench, summary):  # --limit or an incomplete copy: not the benchmark's figure
        coverage = html.escape(coverage_text(bench, summary))
        partial = f'<br><span class="badge live" title="evaluated on part of the benchmark">partial: {coverage}</span>'
    return (
        f'<td><span class="figure">{value or "n/a"}</span><br><span class="note">{html.escape(counts)}</span>'
        f"{partial}</td>"
    )


def _breakdowns(index: int, run: RunData, table: dict[str, dict[str, Any]]) -> str:
    parts = [f'<details class="breakdowns" data-run="{index}"><summary>{html.escape(run.label)}: per-benchmark '
             "breakdowns</summary>"]  # fmt: skip
    for bench in _columns([table]):
        s = table[bench]
        parts.append(
            f"<h4>{html.escape(_title(bench))}</h4><p>overall {_pct(s.get('overall')) or 'n/a'} "
            f"({s.get('scored', '?')} scored, {s.get('errors', 0)} errors, {s.get('no_answer', 0)} without an "
            "answer)</p>"
        )
        settings = s.get("settings")
        if isinstance(settings, dict) and settings:  # MMMU-Pro: overall is the mean of its settings
            body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_pct(v)}</td></tr>" for k, v in settings.items())
            parts.append(
                '<table class="breakdown"><thead><tr><th>setting</th><th>accuracy</th></tr></thead>'
                f"<tbody>{body}</tbody></table>"
            )
        four_dim = s.get("four_dim")
        if isinstance(four_dim, dict):
            parts.append(_four_dim(four_dim))
        breakdowns = s.get("breakdowns")
        for field_name, values in (breakdowns or {}).items() if isinstance(breakdowns, dict) else []:
            if not isinstance(values, dict):
                continue
            body = "".join(
                f"<tr><td>{html.escape(str(v))}</td><td>{_pct(r.get('accuracy'))}</td><td>{r.get('n', '')}</td></tr>"
                for v, r in values.items()
                if isinstance(r, dict)
            )
            parts.append(
                f'<table class="breakdown"><thead><tr><th>{html.escape(str(field_name))}</th><th>accuracy</th>'
                f"<th>n</th></tr></thead><tbody>{body}</tbody></table>"
            )
    parts.append("</details>")
    return "".join(parts)


def _four_dim(four_dim: dict[str, Any]) -> str:
    rows = []
    for mode in ("strict", "loose"):
        m = four_dim.get(mode)
        if not isinstance(m, dict):
            continue
        cells = "".join(f"<td>{_pct(m.get(f'{k}_pct'))}</td>" for k in ("IK", "IG", "CM", "RM"))
        rows.append(f"<tr><td>{mode}</td>{cells}<td>{_pct(m.get('score'))}</td></tr>")
    return (
        '<table class="breakdown"><thead><tr><th>WeMath</th><th>IK</th><th>IG</th><th>CM</th><th>RM</th>'
        f"<th>score</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
