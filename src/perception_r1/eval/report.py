"""Reports over any number of evaluated models: a Markdown table (models as rows, benchmarks as columns, like the
paper's Table 1, optionally with the paper's rows for reference) and a grouped PNG bar chart.

Each model is an evaluation folder holding ``summary.json`` (:mod:`perception_r1.eval.runner`). A cell is the
benchmark's headline figure (``overall``; for WeMath the loose score, for MMMU-Pro the mean of its two settings)
and is empty when the benchmark was not evaluated. A second table gives the items scored and the error items.

A partial run (``--limit``, or a local copy that lacks items; :mod:`perception_r1.eval.coverage`) is marked in
every cell ("61.0 (50 of 1,000 items)"), in a note under the table and on its bars in the chart: its figures are
not the benchmark's and do not compare with the paper's full-benchmark rows. Runs over different item sets are
refused (:func:`write_reports`) unless ``allow_different_items`` is set; then the table says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perception_r1.eval.benchmarks import BENCHMARKS
from perception_r1.eval.coverage import check_same_items, coverage_text, different_item_sets, is_partial
from perception_r1.io_utils import atomic_open, atomic_write_text

# The paper's Table 1 (accuracy %, docs/reference.md#results-table-1), by benchmark name.
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "Qwen2.5-VL-7B (paper)": {
        "mathvista": 68.1, "mathverse": 47.4, "mathvision": 25.1, "wemath": 61.4,
        "mmmu": 55.2, "mmmu_pro": 37.0, "mmstar": 63.1, "emma": 24.9,
    },
    "Perception-R1-7B (paper)": {
        "mathvista": 74.2, "mathverse": 54.3, "mathvision": 28.6, "wemath": 72.0,
        "mmmu": 60.8, "mmmu_pro": 41.4, "mmstar": 64.5, "emma": 27.5,
    },
}  # fmt: skip


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    """``summary.json`` of an evaluation folder.

    Raises:
        FileNotFoundError: naming the folder when it has no summary.
    """
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no summary.json (not an evaluation folder?)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path}: not a valid summary ({exc})") from None
    benchmarks = summary.get("benchmarks") if isinstance(summary, dict) else None
    if (
        not isinstance(benchmarks, dict)
        or not all(isinstance(v, dict) for v in benchmarks.values())
        or not isinstance(summary.get("model_name"), str)
    ):
        raise ValueError(f"{path}: not a valid summary (expected an object with 'model_name' and 'benchmarks')")
    return summary


Row = tuple[str, dict[str, dict[str, Any]]]  # (label, {benchmark: summary entry with at least "overall"})


def _rows(summaries: Sequence[dict[str, Any]], with_paper: bool) -> tuple[list[str], list[Row]]:
    """Benchmark columns (registry order restricted to those present) and (label, {bench: entry}) rows."""
    rows: list[Row] = [(s["model_name"], dict(s["benchmarks"])) for s in summaries]
    # Columns are the evaluated benchmarks; the paper's rows alone show all eight.
    present = {b for _, vals in rows for b in vals}
    if with_paper:
        if not summaries:
            present = {b for vals in PAPER_TABLE1.values() for b in vals}
        rows += [(label, {b: {"overall": v} for b, v in vals.items()}) for label, vals in PAPER_TABLE1.items()]
    columns = [b for b in _ORDER if b in present] + sorted(present - set(_ORDER))
    return columns, rows


_ORDER = ["mathvista", "mathverse", "mathvision", "wemath", "mmmu", "mmmu_pro", "mmstar", "emma"]


def _title(bench: str) -> str:
    return BENCHMARKS.get(bench).title if bench in BENCHMARKS else bench


def scoring_label(summary: dict[str, Any]) -> str:
    """The scoring mode of a summary and the headline's denominator, e.g. "official (over all items)"."""
    mode = summary.get("scoring")
    if mode is None:  # a summary.json written before scoring modes existed
        return "unknown (scored before scoring modes; rerun `perception-r1 eval rescore`)"
    what = {"all": "over all items, errors counted wrong", "scored": "over scored items, errors left out"}
    denominators = {b.get("denominator") for b in summary.get("benchmarks", {}).values()} - {None}
    return f"{mode} ({', '.join(what.get(d, d) for d in sorted(denominators))})" if denominators else mode


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.1f}"


def _cell(bench: str, entry: dict[str, Any] | None) -> str:
    """A table cell: the headline figure, with "(n of N items)" when the run covers part of the benchmark."""
    if entry is None:
        return ""
    value = _fmt(entry.get("overall"))
    return f"{value or 'n/a'} ({coverage_text(bench, entry)})" if is_partial(bench, entry) else value


def partial_note(summaries: Sequence[dict[str, Any]]) -> str | None:
    """The note under a table naming each partial run and its coverage, or None when every run is complete."""
    parts = []
    for s in summaries:
        partial = [f"{_title(b)} {coverage_text(b, v)}" for b, v in s["benchmarks"].items() if is_partial(b, v)]
        if partial:
            parts.append(f"{s['model_name']}: {', '.join(partial)}")
    if not parts:
        return None
    return (
        "Partial runs (evaluated on part of a benchmark, e.g. with --limit): " + "; ".join(parts) + ". Their "
        "figures are not the benchmarks' and do not compare with the paper's full-benchmark rows."
    )


def markdown_table(summaries: Sequence[dict[str, Any]], with_paper: bool = False) -> str:
    """The comparison table, plus a counts table for the evaluated models.

    Args:
        summaries: ``summary.json`` contents, one per model (any number, in column order).
        with_paper: Append the paper's Table 1 rows (docs/reference.md#results-table-1) for reference.
    """
    columns, rows = _rows(summaries, with_paper)
    lines = ["| model | " + " | ".join(_title(c) for c in columns) + " |", "|---|" + "---|" * len(columns)]
    for label, vals in rows:
        lines.append(f"| {label} | " + " | ".join(_cell(c, vals.get(c)) for c in columns) + " |")
    notes = ["", "Accuracy in %. WeMath: loose score (strict score and plain accuracy in summary.json); "
             "MMMU-Pro: mean of standard-10 and vision."]  # fmt: skip
    partial = partial_note(summaries)
    if partial:
        notes += ["", partial]
    mixed = different_item_sets(summaries)
    if mixed:  # only reachable when the caller allowed it (write_reports refuses otherwise)
        detail = "; ".join(f"{_title(b)}: {', '.join(runs)}" for b, runs in mixed.items())
        notes += ["", f"Not comparable: the runs were evaluated on different item sets ({detail})."]
    if summaries and any("protocols" in s for s in summaries):
        from perception_r1.eval.llm_grading import protocols_note

        notes += ["", protocols_note(list(summaries), with_paper)]
    if summaries:
        notes += ["", "Scoring: " + "; ".join(f"{s['model_name']}: {scoring_label(s)}" for s in summaries) + "."]
        notes += ["", "| model | benchmark | items | scored | errors | no answer |", "|---|---|---|---|---|---|"]
        for s in summaries:
            for bench, v in s["benchmarks"].items():
                notes.append(
                    f"| {s['model_name']} | {bench} | {coverage_text(bench, v)} | {v.get('scored', '')} | "
                    f"{v.get('errors', '')} | {v.get('no_answer', '')} |"
                )
    return "\n".join(lines + notes) + "\n"


def breakdown_markdown(summary: dict[str, Any]) -> str:
    """One model's per-benchmark details: each official breakdown as a table, plus WeMath's and MMMU-Pro's extras."""
    lines = [f"# {summary['model_name']}: breakdowns", "", f"Scoring: {scoring_label(summary)}.", ""]
    for bench, s in summary["benchmarks"].items():
        lines += [f"## {_title(bench)}", "", f"overall: {_fmt(s.get('overall'))} ({s.get('scored')} scored, "
                  f"{s.get('errors')} errors, {s.get('no_answer')} without an answer)", ""]  # fmt: skip
        if "accuracy_all" in s:
            lines += [f"accuracy over all {s.get('n_items')} items: {_fmt(s.get('accuracy_all'))}; over the "
                      f"{s.get('scored')} scored items: {_fmt(s.get('accuracy_scored'))}; the headline uses "
                      f"{s.get('denominator')}", ""]  # fmt: skip
        if "four_dim" in s:
            fd = s["four_dim"]
            lines += ["| WeMath | IK | IG | CM | RM | score |", "|---|---|---|---|---|---|"]
            for mode in ("strict", "loose"):
                m = fd[mode]
                lines.append(f"| {mode} | " + " | ".join(_fmt(m[f"{k}_pct"]) for k in ("IK", "IG", "CM", "RM"))
                             + f" | {_fmt(m['score'])} |")  # fmt: skip
            lines += ["", f"plain accuracy: {_fmt(s.get('accuracy'))}; composite problems: {fd['n_problems']} "
                      f"(incomplete: {fd['incomplete']}); RM rate = RM / (CM + RM)", ""]  # fmt: skip
        for field_name, values in s.get("breakdowns", {}).items():
            lines += [f"| {field_name} | accuracy | n |", "|---|---|---|"]
            lines += [f"| {v} | {_fmt(r['accuracy'])} | {r['n']} |" for v, r in values.items()]
            lines.append("")
    return "\n".join(lines)


def bar_chart(summaries: Sequence[dict[str, Any]], path: str | Path, with_paper: bool = False) -> None:
    """Grouped bars: one group per benchmark, one bar per model (paper rows hatched, partial runs faded and
    labelled "n/N")."""
    fig = chart_figure(summaries, with_paper)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)


def chart_figure(summaries: Sequence[dict[str, Any]], with_paper: bool = False) -> Any:
    """The matplotlib ``Figure`` of :func:`bar_chart`."""
    # The object-oriented API with an Agg canvas: headless, and no pyplot/backend global state is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns, rows = _rows(summaries, with_paper)
    width = 0.8 / max(len(rows), 1)
    fig = Figure(figsize=(max(6.0, 1.3 * len(columns) + 2), 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    any_partial = False
    for i, (label, vals) in enumerate(rows):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(columns))]
        heights = [(vals.get(c) or {}).get("overall") or 0.0 for c in columns]
        partial = [c in vals and is_partial(c, vals[c]) for c in columns]
        bars = ax.bar(
            xs, heights, width, label=label + (" (partial)" if any(partial) else ""),
            hatch="//" if label in PAPER_TABLE1 else None,
        )  # fmt: skip
        for bar, bench, is_part in zip(bars, columns, partial, strict=True):
            if is_part:  # faded, outlined, and labelled with its coverage
                any_partial = True
                bar.set_alpha(0.45)
                bar.set_edgecolor("black")
                bar.set_linestyle("--")
                n_of = coverage_text(bench, vals[bench]).removesuffix(" items").replace(" of ", "/")
                top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
                ax.annotate(n_of, top, ha="center", va="bottom", fontsize=6, rotation=90, xytext=(0, 2),
                            textcoords="offset points")  # fmt: skip
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([_title(c) for c in columns], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7)
    if any_partial:
        ax.set_title("faded bars: partial runs (items evaluated / benchmark items)", fontsize=8)
    fig.tight_layout()
    return fig


def write_reports(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    with_paper: bool = True,
    allow_different_items: bool = False,
) -> tuple[Path, Path]:
    """Write ``table.md`` and ``chart.png`` comparing the models in ``run_dirs`` into ``out_dir``.

    Args:
        run_dirs: Evaluation folders, one per model (row order).
        out_dir: Where the two files go.
        with_paper: Add the paper's Table 1 rows.
        allow_different_items: Compare runs evaluated on different item sets (the table then says they are not
            comparable); by default that is refused.

    Returns:
        The two paths.

    Raises:
        ValueError: the runs cover different item sets of a benchmark (unless ``allow_different_items``).
    """
    from perception_r1.eval.llm_grading import run_protocols

    # which protocol (rule or the paper's LLM grading) produced each column, read from the stored items
    summaries = [{**load_summary(d), "protocols": run_protocols(d)} for d in run_dirs]
    if not allow_different_items:
        check_same_items(summaries)
    out = Path(out_dir)
    table, chart = out / "table.md", out / "chart.png"
    atomic_write_text(table, markdown_table(summaries, with_paper))
    bar_chart(summaries, chart, with_paper)
    return table, chart
