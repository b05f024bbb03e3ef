"""Inline SVG line charts of ``metrics.jsonl`` series, several runs overlaid (no JavaScript, no network).

Each chart is a ``<figure class="chart" data-metric=KEY>`` holding the SVG and a legend that states every run's
last value as text, so the numbers are readable (and searchable) without hovering.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perception_r1.report.rollouts import finite

# Colour-blind-friendly palette (Okabe-Ito, then Tol); run i gets PALETTE[i % len(PALETTE)].
PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255",
    "#44AA99", "#999933", "#AA4499", "#6699CC",
)  # fmt: skip
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 10, 32
MARKER_LIMIT = 40  # points per series up to which each point gets a marker


def run_colour(index: int) -> str:
    """The colour of run ``index`` on every chart and in the rollout list."""
    return PALETTE[index % len(PALETTE)]


@dataclass
class Series:
    """One run's values of one metric: (step, value) points sorted by step, and an optional +-std band."""

    label: str
    colour: str
    points: list[tuple[float, float]]
    spread: dict[float, float] = field(default_factory=dict)  # step -> std, drawn as a band around the line


def series_of(rows: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    """(step, value) points of ``key`` (rows without a numeric step or value skipped; a later row for the same
    step, e.g. after a resume, wins)."""
    by_step: dict[float, float] = {}
    for row in rows:
        step, value = finite(row.get("step")), finite(row.get(key))
        if step is not None and value is not None:
            by_step[step] = value
    return sorted(by_step.items())


def format_number(value: float) -> str:
    """Short human format: 4 significant digits, no exponent for ordinary magnitudes."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        pad = abs(lo) * 0.1 or 0.5
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values within [lo, hi]."""
    span = hi - lo
    raw = span / count
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1) if first + i * step <= hi + 1e-12]


def line_chart(key: str, title: str, series: Sequence[Series], note: str = "") -> str:
    """A ``<figure>`` with an SVG line chart of ``series`` and a legend of last values.

    Args:
        key: Metric key (``data-metric`` attribute).
        title: Caption.
        series: One per run; runs without points are listed as "not logged".
        note: Extra caption text (units, meaning).

    Returns:
        HTML text.
    """
    drawn = [s for s in series if s.points]
    caption = f"<figcaption>{html.escape(title)}"
    caption += f' <span class="note">{html.escape(note)}</span></figcaption>' if note else "</figcaption>"
    legend = "".join(_legend_item(s) for s in series)
    if not drawn:
        body = '<p class="empty">not logged</p>'
        return f'<figure class="chart" data-metric="{html.escape(key)}">{caption}{body}<ul>{legend}</ul></figure>'
    xs = [x for s in drawn for x, _ in s.points]
    ys = [y for s in drawn for _, y in s.points]
    ys += [y + sign * s.spread[x] for s in drawn for x, y in s.points if x in s.spread for sign in (-1, 1)]
    x_lo, x_hi = (min(xs), max(xs)) if min(xs) != max(xs) else (min(xs) - 1, max(xs) + 1)
    y_lo, y_hi = _nice_range(min(ys), max(ys))

    def px(x: float) -> float:
        return LEFT + (x - x_lo) / (x_hi - x_lo) * (WIDTH - LEFT - RIGHT)

    def py(y: float) -> float:
        return TOP + (y_hi - y) / (y_hi - y_lo) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in _ticks(y_lo, y_hi):
        y = py(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{format_number(tick)}</text>'
        )
    for tick in _ticks(x_lo, x_hi):
        x = px(tick)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 18}" text-anchor="middle">{format_number(tick)}</text>'
        )
    parts.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">step</text>')
    for s in drawn:
        band = [(x, y, s.spread[x]) for x, y in s.points if x in s.spread]
        if len(band) > 1:
            outline = [(px(x), py(y + d)) for x, y, d in band] + [(px(x), py(y - d)) for x, y, d in reversed(band)]
            coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in outline)
            parts.append(f'<polygon class="band" fill="{s.colour}" fill-opacity="0.13" points="{coords}"/>')
    for s in drawn:
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        name = html.escape(s.label)
        parts.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="1.6" points="{coords}"><title>{name}'
                     "</title></polyline>")  # fmt: skip
        if len(s.points) <= MARKER_LIMIT:
            for x, y in s.points:
                parts.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.4" fill="{s.colour}"><title>{name} step '
                    f"{format_number(x)}: {format_number(y)}</title></circle>"
                )
    parts.append("</svg>")
    return (
        f'<figure class="chart" data-metric="{html.escape(key)}">{caption}{"".join(parts)}<ul>{legend}</ul></figure>'
    )


def _legend_item(s: Series) -> str:
    label = html.escape(s.label)
    swatch = f'<span class="swatch" style="background:{s.colour}"></span>'
    if not s.points:
        return f'<li>{swatch}{label}: <span class="empty">not logged</span></li>'
    step, value = s.points[-1]
    return (
        f'<li>{swatch}{label}: <b class="last" data-value="{value!r}">{format_number(value)}</b> '
        f"<span class=note>at step {format_number(step)}</span></li>"
    )
