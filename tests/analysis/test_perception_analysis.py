"""Perception analysis with the rule judge: labels, seeded subset, McNemar on the paper's shape, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.analysis.perception import (
    analyze_perception,
    load_annotations,
    markdown_report,
    select_items,
)
from perception_r1.judge.judges import RuleJudge

ANNS = ["AB = 5", "angle ABC = 40°"]
RIGHT = "<think>\nWe see $AB = 5$ and $\\angle ABC = 40^\\circ$.\n</think>\n<answer>\n\\boxed{3}\n</answer>"
HALF = "<think>\nWe see AB = 6 and angle ABC = 40°.\n</think>\n<answer>\n\\boxed{3}\n</answer>"  # 1 of 2 facts


def paper_shape() -> tuple[dict, dict, dict]:
    """50 geometry items (30 both right, 2 A only, 10 B only, 8 neither), one with a non-canonical annotation,
    and 5 non-geometry items."""
    anns, a, b = {}, {}, {}
    for i in range(50):
        a_ok, b_ok = i < 32, i < 30 or 32 <= i < 42
        anns[f"g{i}"] = ANNS
        a[f"g{i}"] = {"id": f"g{i}", "response": RIGHT if a_ok else HALF, "metadata": {"task": "geometry"}}
        b[f"g{i}"] = {"id": f"g{i}", "response": RIGHT if b_ok else HALF, "metadata": {"task": "geometry"}}
    anns["odd"] = ["a fact the rule judge cannot read"]  # judge fails: left out, listed
    for rec in (a, b):
        rec["odd"] = {"id": "odd", "response": RIGHT, "metadata": {"task": "geometry"}}
    for i in range(5):
        anns[f"x{i}"] = ANNS
        for rec in (a, b):
            rec[f"x{i}"] = {"id": f"x{i}", "response": RIGHT, "metadata": {"task": "chart"}}
    return anns, a, b


def test_paper_shape_reproduces_p_value() -> None:
    anns, a, b = paper_shape()
    ids = select_items(anns, a, b, None, 0, {"metadata.task": "geometry"})
    assert len(ids) == 51 and not any(i.startswith("x") for i in ids)
    rep = analyze_perception(anns, {"base": a, "perception-r1": b}, ids, RuleJudge)
    t = rep.test
    assert (t["b"], t["c"], t["n_pairs"]) == (2, 10, 50)
    assert round(t["p_value"], 3) == 0.039
    assert rep.discordant == {"base only": ["g30", "g31"], "perception-r1 only": [f"g{i}" for i in range(32, 42)]}
    assert rep.failed == {"base": ["odd"], "perception-r1": ["odd"]}  # failed, not "incorrect"
    assert rep.labels["base"]["g40"] == {
        "correct": False, "score": 0.5, "verdicts": [0, 1], "status": "ok", "error": None, "reason": None
    }  # fmt: skip
    assert rep.failure_reasons() == {"base": {"other": 1}, "perception-r1": {"other": 1}}  # counted by reason
    md = markdown_report(rep, anns)
    assert "McNemar (exact): p = 0.03857" in md and "`g31`: base [1, 1], perception-r1 [0, 1]" in md


def test_threshold_changes_labels() -> None:
    anns, a, b = paper_shape()
    ids = [f"g{i}" for i in range(50)]
    rep = analyze_perception(anns, {"A": a, "B": b}, ids, RuleJudge, threshold=0.5)
    assert (rep.test["b"], rep.test["c"], rep.test["p_value"]) == (0, 0, 1.0)  # half the facts now suffices


@pytest.mark.parametrize(
    ("n", "seed"),
    [
        (10, 0),  # seeded subset
        (10, 1),  # another seed
        (200, 0),  # larger than the pool: everything
    ],
)
def test_seeded_subset_is_reproducible(n: int, seed: int) -> None:
    anns, a, b = paper_shape()
    first = select_items(anns, a, b, n, seed)
    assert first == select_items(anns, a, b, n, seed)
    assert len(first) == min(n, 56) and first == sorted(first)
    if n == 10:
        assert first != select_items(anns, a, b, n, seed + 7)


def test_select_skips_items_without_both_responses() -> None:
    anns, a, b = paper_shape()
    del b["g0"]
    a["g1"]["response"] = None
    assert not {"g0", "g1"} & set(select_items(anns, a, b, None, 0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 1.5}, "threshold"),  # out of range
        ({"responses": {"only": {}}}, "two models"),  # one model
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"annotations": {}, "responses": {"A": {}, "B": {}}, "ids": [], "judge_factory": RuleJudge, **kwargs}
    with pytest.raises(ValueError, match=match):
        analyze_perception(**args)


@pytest.mark.parametrize(
    ("row", "expected_or_error"),
    [
        ({"id": 1, "annotations": ["AB = 5"]}, {"1": ["AB = 5"]}),  # list
        ({"id": 1, "visual_annotations": ["AB = 5"]}, {"1": ["AB = 5"]}),  # the schema's column (data annotate)
        ({"id": 1, "visual_annotations": "AB = 5"}, "'visual_annotations' must be a list of strings, got one"),
        ({"id": 1, "visual_key_info": "<info1>AB = 5</info1>\n<info2>AB ∥ CD</info2>"}, {"1": ["AB = 5", "AB ∥ CD"]}),
        ({"id": 1, "visual_key_info": "<info1>AB = 5"}, "a.jsonl:1: item '1'"),  # malformed reference string
        ({"id": 1}, "neither 'annotations' nor 'visual_key_info'"),  # nothing
        ({"annotations": []}, "no id field"),  # no id
    ],
)
def test_load_annotations(tmp_path: Path, row: dict, expected_or_error) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    if isinstance(expected_or_error, dict):
        assert load_annotations(path) == expected_or_error
    else:
        with pytest.raises(ValueError, match=expected_or_error):
            load_annotations(path)


def test_annotations_from_the_annotate_step_output(tmp_path: Path) -> None:
    # `perception-r1 data annotate -o OUT` writes OUT/data.parquet (schema rows with visual_annotations): the
    # analysis reads it as it is.
    from perception_r1.data.io import write_parquet

    rows = [
        {"id": "7", "images": [], "problem": "Find x.", "answer": "3", "visual_annotations": ["AB = 5", "AB ∥ CD"]},
        {"id": "8", "images": [], "problem": "Find y.", "answer": "4", "visual_annotations": ["OA = OB"]},
    ]
    write_parquet(rows, tmp_path / "data.parquet")
    assert load_annotations(tmp_path / "data.parquet") == {"7": ["AB = 5", "AB ∥ CD"], "8": ["OA = OB"]}
