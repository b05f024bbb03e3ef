"""Inline SVG charts: series extraction, number formatting, legends that state the last values."""

from __future__ import annotations

import re

import pytest

from perception_r1.report.charts import (
    BOTTOM,
    HEIGHT,
    TOP,
    Series,
    format_number,
    line_chart,
    run_colour,
    series_of,
)


@pytest.mark.parametrize(
    ("rows", "points"),
    [
        ([{"step": 2, "m": 0.5}, {"step": 1, "m": 0.25}], [(1, 0.25), (2, 0.5)]),  # sorted by step
        ([{"step": 1, "m": None}, {"step": 2, "m": float("nan")}, {"step": 3}], []),  # gaps are not points
        ([{"step": 1, "m": True}, {"step": "x", "m": 1}], []),  # a bool is not a value; a step must be a number
        ([{"step": 1, "m": 1}, {"step": 1, "m": 2}], [(1, 2)]),  # a resumed run re-logs a step: the later wins
    ],
)
def test_series_of(rows, points):
    assert series_of(rows, "m") == points


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.123456, "0.1235"), (1234.5678, "1235"), (1e-5, "1e-05"), (123456789.0, "1.23e+08"), (-2.5, "-2.5")],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_chart_draws_each_run_and_states_last_values():
    chart = line_chart(
        "reward",
        "total reward",
        [Series("a", run_colour(0), [(1, 0.2), (2, 0.4)]), Series("b", run_colour(1), [])],
    )
    assert chart.count("<polyline") == 1  # run b has no points: no line
    assert re.search(r'a: <b class="last" data-value="0.4">0.4</b> <span class=note>at step 2</span>', chart)
    assert 'b: <span class="empty">not logged</span>' in chart
    assert 'data-metric="reward"' in chart and run_colour(0) in chart


def test_std_band_is_drawn_and_fits_the_axis():
    chart = line_chart("reward", "r", [Series("a", "#000", [(1, 0.5), (2, 0.5)], {1: 0.25, 2: 0.25})])
    assert chart.count("<polygon") == 1
    # the axis covers the band (0.25 .. 0.75), not just the constant line: the band stays inside the plot
    points = re.search(r'<polygon[^>]*points="([^"]+)"', chart).group(1).split()
    ys = [float(p.split(",")[1]) for p in points]
    assert TOP <= min(ys) and max(ys) <= HEIGHT - BOTTOM


def test_chart_without_any_points_says_so():
    chart = line_chart("x", "x", [Series("a", "#000", [])])
    assert "<svg" not in chart and "not logged" in chart


def test_chart_with_a_single_point_and_constant_values_renders():
    chart = line_chart("x", "x", [Series("a", "#000", [(5, 1.0)])])
    assert "<circle" in chart and "nan" not in chart.lower()


def test_labels_are_escaped():
    chart = line_chart("k", "<t>", [Series("<script>", "#000", [(1, 1.0)])])
    assert "<script>" not in chart and "&lt;script&gt;" in chart
