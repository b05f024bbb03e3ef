"""Assemble the self-contained report page and write it (:func:`write_report`, :func:`build_report`).

The page is one HTML file: CSS and JavaScript inline (``assets/``), charts and tables pre-rendered as SVG/HTML,
rollouts and evaluation items embedded as JSON and listed by ``assets/report.js`` with filters, a search box and
paging (so 10,000 rollouts open quickly). Nothing is fetched: it reads the same offline, on a laptop or a phone.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from perception_r1.io_utils import atomic_write_text
from perception_r1.redact import redact, redact_obj
from perception_r1.report.charts import run_colour
from perception_r1.report.evaluation import evaluation_section
from perception_r1.report.load import SUMMARY_FILE, RunData, expand_run_dirs, is_experiment, load_run, read_json
from perception_r1.report.rollouts import ImageTable, PromptTable, item_record, rollout_record
from perception_r1.report.training import charts_section, json_block, run_cards

DEFAULT_TITLE = "Perception-R1 report"


def _asset(name: str) -> str:
    return resources.files("perception_r1.report").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def _json_safe(value: Any) -> Any:
    """NaN/inf -> None (``JSON.parse`` rejects them), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def embed_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<`` escaped so no text can close the block."""
    text = json.dumps(_json_safe(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c")


def page_data(runs: Sequence[RunData]) -> dict[str, Any]:
    """The JSON the page script reads: runs, distinct prompts, images, rollout and item records."""
    prompts, images = PromptTable(), ImageTable()
    rollouts: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for i, run in enumerate(runs):
        weights = run.reward_weights()
        records = [rollout_record(row, i, weights, prompts, images, run.path) for row in run.samples]
        first_seen: dict[tuple[Any, str], int] = {}
        for n, rec in enumerate(records):
            first_seen.setdefault((rec["s"], rec["g"]), n)
        # Rollouts of one step and prompt form a GRPO group: listed together, groups in logging order.
        records.sort(key=lambda rec: (rec["s"] if rec["s"] is not None else -1, first_seen[(rec["s"], rec["g"])]))
        rollouts += records
        for bench, rows in run.items.items():
            items += [item_record(row, i, bench, prompts) for row in rows]
    return {
        "runs": [{"label": run.label, "colour": run_colour(i)} for i, run in enumerate(runs)],
        "prompts": prompts.texts,
        "images": images.entries,
        "rollouts": rollouts,
        "items": items,
    }


def _filters(kind: str, data: dict[str, Any]) -> str:
    """The filter bar of the rollout (``kind`` = "rollouts") or item list."""
    runs = "".join(f'<option value="{i}">{html.escape(r["label"])}</option>' for i, r in enumerate(data["runs"]))
    parts = [
        f'<form class="filters" id="{kind}-filters" onsubmit="return false">',
        f'<label>run <select name="run"><option value="">all</option>{runs}</select></label>',
        '<label>search <input type="search" name="q" placeholder="text in prompt, answer, facts"></label>',
        f'<label>{"problem" if kind == "rollouts" else "item"} <input type="search" name="problem" '
        'placeholder="id (click one to pin)"></label>',
    ]
    if kind == "rollouts":
        parts += [
            '<label>step ≥ <input type="number" name="smin" inputmode="numeric"></label>',
            '<label>step ≤ <input type="number" name="smax" inputmode="numeric"></label>',
            '<label>reward ≥ <input type="number" name="rmin" step="any"></label>',
            '<label>reward ≤ <input type="number" name="rmax" step="any"></label>',
            '<label class="check"><input type="checkbox" name="failed"> failed judgments only</label>',
        ]
    else:
        benches = sorted({rec["b"] for rec in data["items"]})
        options = "".join(f'<option value="{html.escape(b)}">{html.escape(b)}</option>' for b in benches)
        parts += [
            f'<label>benchmark <select name="bench"><option value="">all</option>{options}</select></label>',
            '<label>verdict <select name="verdict"><option value="">any</option><option value="right">correct'
            '</option><option value="wrong">wrong</option><option value="error">error</option></select></label>',
        ]
    parts.append('<button type="button" name="clear">reset</button></form>')
    return "".join(parts)


def _lists(data: dict[str, Any]) -> str:
    parts = []
    if data["rollouts"]:
        parts.append(
            '<section id="rollouts"><h2>Rollouts</h2><p class="note">Grouped by step and prompt. Verdicts per '
            'annotation: <span class="fact fact-accepted">accepted</span> <span class="fact fact-rejected">rejected'
            '</span> <span class="fact fact-failed">judge failed</span></p>'
            + _filters("rollouts", data)
            + '<p class="count" id="rollouts-count"></p><div id="rollouts-list"></div>'
            '<button type="button" class="more" id="rollouts-more" hidden>show more</button></section>'
        )
    if data["items"]:
        parts.append(
            '<section id="items"><h2>Evaluation items</h2>'
            + _filters("items", data)
            + '<p class="count" id="items-count"></p><div id="items-list"></div>'
            '<button type="button" class="more" id="items-more" hidden>show more</button></section>'
        )
    return "".join(parts)


def build_report(
    runs: Sequence[RunData], *, title: str = DEFAULT_TITLE, extra_html: str | None = None, notes: str = ""
) -> str:
    """The page's HTML for already loaded runs.

    Args:
        runs: Loaded runs, in page order (run i gets colour i everywhere).
        title: Page title.
        extra_html: Trusted, pre-rendered HTML inserted at the top (e.g. an experiment's result tables).
        notes: Trusted HTML added after the run cards (e.g. an experiment's summary.json block).

    Returns:
        The HTML text.
    """
    indexed = list(enumerate(runs))
    data = page_data(runs)
    groups = {i: run.group for i, run in indexed if run.group}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = [("runs", "Runs")]
    nav += [("charts", "Metrics")] if any(r.metrics for r in runs) else []
    nav += [("evaluation", "Evaluation")] if any(r.is_eval for r in runs) else []
    nav += [("rollouts", "Rollouts")] if data["rollouts"] else []
    nav += [("items", "Items")] if data["items"] else []
    links = " ".join(f'<a href="#{a}">{t}</a>' for a, t in nav)
    body = [
        f'<header><h1>{html.escape(title)}</h1><p class="note">{len(runs)} run(s) · generated {stamp}</p>'
        f"<nav>{links}</nav></header>",
        '<div id="js-errors" class="js-errors" hidden></div>',
        '<noscript><p class="js-errors">JavaScript is off: charts and tables show, the rollout list needs it.'
        "</p></noscript>",
        f'<section id="extra">{extra_html}</section>' if extra_html else "",
        run_cards(indexed, groups),
        notes,
        charts_section(indexed),
        evaluation_section(indexed),
        _lists(data),
    ]
    if not runs:
        body.append('<p class="empty">No run folders given.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_asset('report.css')}</style></head><body>"
        + redact("".join(body))  # run texts quote servers' error texts, which may hold our key (perception_r1.redact)
        + f'<script type="application/json" id="report-data">{embed_json(redact_obj(data))}</script>'
        + f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def collect_runs(run_dirs: Sequence[str | Path], labels: Sequence[str] | None = None) -> tuple[list[RunData], str]:
    """Load the runs behind ``run_dirs`` (experiments expanded) and the notes on experiment folders.

    Returns:
        The runs, and HTML showing each experiment's own ``summary.json`` (or why it is not shown).

    Raises:
        ValueError: when ``labels`` does not have one entry per run folder.
    """
    runs = []
    for path, label, group in expand_run_dirs(run_dirs, labels):
        run = load_run(path, label)
        run.group = group
        runs.append(run)
    notes = []
    for run_dir, label in zip(run_dirs, labels or [Path(p).name for p in run_dirs], strict=True):
        folder = Path(run_dir)
        if folder.is_dir() and is_experiment(folder):
            summary, status = read_json(folder, SUMMARY_FILE)
            if summary is not None:
                notes.append(json_block(f"{label}: experiment summary.json", summary))
            else:
                notes.append(
                    f'<p class="file file-{status.state}">{html.escape(str(label))}: experiment {SUMMARY_FILE} '
                    f"{html.escape(status.state)} ({html.escape(status.detail)})</p>"
                )
    return runs, "".join(notes)


def write_report(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    title: str = DEFAULT_TITLE,
    labels: Sequence[str] | None = None,
    extra_html: str | None = None,
) -> Path:
    """Write the self-contained HTML report of training, evaluation and experiment folders.

    Missing folders and missing, damaged or half-written files are shown as such on the page; they never make
    this fail. An experiment folder (``runs/<arm>-seed<k>/``) contributes each of its runs, and its own
    ``summary.json`` as a collapsed block.

    Args:
        run_dirs: Run or experiment folders, in page order.
        out: HTML file to write (atomically; parent folders are created).
        title: Page title.
        labels: One label per entry of ``run_dirs`` (default: folder names).
        extra_html: Trusted, pre-rendered HTML section (e.g. result tables) inserted at the top of the page.

    Returns:
        ``out`` as a Path.

    Raises:
        ValueError: when ``labels`` does not have one entry per run folder.
    """
    runs, notes = collect_runs(run_dirs, labels)
    text = build_report(runs, title=title, extra_html=extra_html, notes=notes)
    atomic_write_text(out, text)
    return Path(out)
