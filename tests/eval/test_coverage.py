"""Partial runs and item sets: marked in every table and chart, compared only when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app
from perception_r1.eval.coverage import check_same_items, coverage_text, different_item_sets, is_partial
from perception_r1.eval.report import chart_figure, markdown_table, write_reports


def _entry(n: int, overall: float = 60.0, digest: str | None = None, full: int | None = 1000) -> dict:
    entry = {"overall": overall, "n_items": n, "scored": n, "errors": 0, "no_answer": 0, "scoring": "official"}
    if full is not None:
        entry["full_size"] = full
    if digest is not None:
        entry["items_digest"] = digest
    return entry


def _summary(name: str, **benchmarks: dict) -> dict:
    return {"model_name": name, "model": name, "scoring": "official", "benchmarks": benchmarks}


@pytest.mark.parametrize(
    ("bench", "entry", "partial", "text"),
    [
        ("mathvista", _entry(50), True, "50 of 1,000 items"),  # --limit 50
        ("mathvista", _entry(1000), False, "1,000 of 1,000 items"),  # the whole benchmark
        ("mathvista", _entry(50, full=None), True, "50 of 1,000 items"),  # older summary: the registry's size
        ("wemath", _entry(1740, full=None), False, "1,740 of 1,740 items"),  # registry size of another benchmark
        ("mybench", _entry(50, full=None), False, "50 items"),  # unknown benchmark: size unknown, not marked
    ],
)
def test_coverage(bench, entry, partial, text) -> None:
    assert is_partial(bench, entry) is partial
    assert coverage_text(bench, entry) == text


def test_a_partial_run_is_marked_next_to_the_paper_rows() -> None:
    table = markdown_table([_summary("mine", mathvista=_entry(50, 61.0), mmstar=_entry(1500, 64.0, full=1500))], True)
    assert "| mine | 61.0 (50 of 1,000 items) | 64.0 |" in table  # the complete benchmark stays unmarked
    assert (
        "Partial runs (evaluated on part of a benchmark, e.g. with --limit): mine: MathVista testmini 50 of" in table
    )
    assert "| mine | mathvista | 50 of 1,000 items |" in table  # the counts table too
    assert "| Perception-R1-7B (paper) | 74.2 | 64.5 |" in table  # paper rows are never marked
    full = markdown_table([_summary("mine", mathvista=_entry(1000, 61.0))], True)
    assert "| mine | 61.0 |" in full and "Partial" not in full


def test_the_chart_marks_partial_bars() -> None:
    fig = chart_figure([_summary("mine", mathvista=_entry(50, 61.0)), _summary("full", mathvista=_entry(1000))])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mine (partial)", "full"]
    assert [t.get_text() for t in ax.texts] == ["50/1,000"]  # the partial bar's coverage, above it
    assert "partial" in ax.get_title()
    bars = ax.patches
    assert bars[0].get_alpha() == pytest.approx(0.45) and bars[1].get_alpha() is None


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        (_entry(50, digest="d1"), _entry(50, digest="d1"), False),  # the same items: comparable
        (_entry(50, digest="d1"), _entry(1000, digest="d2"), True),  # --limit 50 against the whole benchmark
        (_entry(50, digest="d1"), _entry(50, digest="d3"), True),  # as many items, but other ones
        (_entry(50), _entry(60), True),  # older summaries without digests: the counts differ
    ],
)
def test_runs_over_different_item_sets_are_refused(a, b, differ) -> None:
    summaries = [_summary("A", mathvista=a), _summary("B", mathvista=b, mmstar=_entry(10))]
    assert bool(different_item_sets(summaries)) is differ  # mmstar: only one run has it, nothing to compare
    if differ:
        with pytest.raises(ValueError, match=r"different item sets.*mathvista: A: \d+ of 1,000 items, B: "):
            check_same_items(summaries)
    else:
        check_same_items(summaries)


def _run_dir(path: Path, summary: dict) -> Path:
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_eval_table_refuses_different_item_sets_unless_asked(tmp_path) -> None:
    a = _run_dir(tmp_path / "a", _summary("limited", mathvista=_entry(50, 61.0, "d1")))
    b = _run_dir(tmp_path / "b", _summary("full", mathvista=_entry(1000, 70.0, "d2")))
    with pytest.raises(ValueError, match="--allow-different-items"):
        write_reports([a, b], tmp_path / "r")
    runner = CliRunner()
    res = runner.invoke(build_app(), ["eval", "table", str(a), str(b), "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "different item sets" in res.output
    assert not (tmp_path / "r" / "table.md").exists()
    res = runner.invoke(
        build_app(), ["eval", "table", str(a), str(b), "-o", str(tmp_path / "r"), "--allow-different-items"]
    )
    assert res.exit_code == 0, res.output
    text = (tmp_path / "r" / "table.md").read_text()
    assert "| limited | 61.0 (50 of 1,000 items) |" in text and "| full | 70.0 |" in text
    assert "Not comparable: the runs were evaluated on different item sets" in text


def test_the_html_report_marks_partial_cells() -> None:
    from perception_r1.report.evaluation import _cell

    assert "partial: 50 of 1,000 items" in _cell("mathvista", _entry(50))
    assert "partial" not in _cell("mathvista", _entry(1000))
