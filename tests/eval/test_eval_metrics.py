"""Summaries: WeMath's four-dimensional metrics (hand-computed), accuracy breakdowns, MMMU-Pro's overall."""

from __future__ import annotations

import pytest

from perception_r1.eval.benchmarks import get_benchmark
from perception_r1.eval.metrics import breakdown, summarize, wemath_four_dim


def _rec(item_id: str, correct: bool | None, error: str | None = None, extracted: str | None = "x", **meta) -> dict:
    return {"id": item_id, "correct": correct, "error": error, "extracted": extracted, "metadata": meta}


def _wemath(pid: str, steps: int, subs: list, multi) -> list[dict]:
    """Records of one composite problem; ``None`` leaves a member out, ``"err"`` makes it an error item."""
    out = []
    for i, v in [*((str(k + 1), s) for k, s in enumerate(subs)), ("multi", multi)]:
        if v is None:
            continue
        err = "image: broken" if v == "err" else None
        out.append(_rec(f"{pid}/{steps}steps_{i}", None if err else v, err, ID=pid, key=f"{steps}steps_{i}"))
    return out


T, F = True, False
WEMATH_RECORDS = (
    _wemath("1", 2, [T, T], T)  # CM strict, CM loose
    + _wemath("2", 2, [T, F], T)  # RM strict (a sub-problem wrong), CM loose (some right)
    + _wemath("3", 2, [F, F], T)  # RM strict, RM loose (all wrong)
    + _wemath("4", 2, [T, T], F)  # IG
    + _wemath("5", 3, [F, T, F], F)  # IK
    + _wemath("6", 3, [T, T, T], T)  # CM strict and loose
    + _wemath("7", 2, [T, T], None)  # multi-step row missing: incomplete
    + _wemath("8", 2, ["err", T], T)  # a member failed to load: incomplete
    + [_rec("stray", True)]  # no ID/key: ungrouped
)


def test_wemath_four_dim_hand_computed() -> None:
    res = wemath_four_dim(WEMATH_RECORDS)
    assert (res["n_problems"], res["incomplete"], res["ungrouped"]) == (6, 2, 1)
    strict, loose = res["strict"], res["loose"]
    assert {k: strict[k] for k in ("IK", "IG", "CM", "RM")} == {"IK": 1, "IG": 1, "CM": 2, "RM": 2}
    assert {k: loose[k] for k in ("IK", "IG", "CM", "RM")} == {"IK": 1, "IG": 1, "CM": 3, "RM": 1}
    # (N - 0.5 IG - RM - IK) / N = (6 - 0.5 - 2 - 1) / 6 strict, (6 - 0.5 - 1 - 1) / 6 loose
    assert strict["score"] == pytest.approx(41.67)
    assert loose["score"] == pytest.approx(58.33)
    assert strict["RM_pct"] == pytest.approx(50.0)  # RM / (CM + RM) = 2 / 4, as We-Math's script divides


def test_wemath_summary_has_accuracy_and_scores() -> None:
    s = summarize(get_benchmark("wemath"), WEMATH_RECORDS, "corrected")
    # 25 non-error items (24 grouped + the stray), 18 correct; the errored item is counted, not scored
    assert (s["scored"], s["correct"], s["errors"], s["n_items"]) == (25, 18, 1, 26)
    assert s["accuracy"] == pytest.approx(72.0)
    assert (s["score_strict"], s["score_loose"], s["overall"]) == (pytest.approx(41.67), pytest.approx(58.33), 58.33)
    assert s["headline"] == "score_loose"


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], {"n_problems": 0, "score": None}),  # nothing: no score rather than a division by zero
        (_wemath("1", 2, [F, F], F), {"n_problems": 1, "score": 0.0}),  # IK only
        (_wemath("1", 2, [T, T], F), {"n_problems": 1, "score": 50.0}),  # IG counts half
    ],
)
def test_wemath_edge_cases(records: list, expected: dict) -> None:
    res = wemath_four_dim(records)
    assert res["n_problems"] == expected["n_problems"]
    assert res["strict"]["score"] == expected["score"]


def test_accuracy_breakdowns_and_errors() -> None:
    records = [
        _rec("1", True, question_type="multi_choice", metadata={"task": "geo", "skills": ["a", "b"]}),
        _rec("2", False, question_type="free_form", metadata={"task": "geo", "skills": ["a"]}),
        _rec("3", True, extracted=None, question_type="free_form", metadata={"task": "fqa", "skills": []}),
        _rec("4", None, error="image: cannot load image", question_type="free_form", metadata={"task": "fqa"}),
    ]
    s = summarize(get_benchmark("mathvista"), records, "corrected")
    assert (s["overall"], s["scored"], s["errors"], s["no_answer"], s["n_items"]) == (66.67, 3, 1, 1, 4)
    bd = s["breakdowns"]
    assert bd["question_type"] == {
        "free_form": {"accuracy": 50.0, "correct": 1, "n": 2},  # the error item is not counted as wrong
        "multi_choice": {"accuracy": 100.0, "correct": 1, "n": 1},
    }
    assert bd["metadata.task"]["geo"]["accuracy"] == 50.0
    assert bd["metadata.skills"] == {  # list values: counted under each element
        "a": {"accuracy": 50.0, "correct": 1, "n": 2},
        "b": {"accuracy": 100.0, "correct": 1, "n": 1},
    }
    assert breakdown(records, "metadata.missing") == {}


def test_mmmu_pro_overall_is_mean_of_settings() -> None:
    bench = get_benchmark("mmmu_pro")
    records = [
        _rec("s1", True, subset="standard-10"),
        _rec("s2", True, subset="standard-10"),
        _rec("s3", False, subset="standard-10"),
        _rec("v1", True, subset="vision"),
        _rec("v2", False, subset="vision"),
    ]
    s = summarize(bench, records)
    assert s["settings"] == {"standard-10": 66.67, "vision": 50.0}
    assert s["overall"] == pytest.approx(58.33)  # (2/3 + 1/2) / 2
    assert s["pooled_accuracy"] == 60.0
    # one setting alone is not MMMU-Pro's overall
    assert summarize(bench, records[:3])["overall"] is None


def test_wemath_official_denominator_counts_every_problem() -> None:
    # official: N is every composite problem seen (525 on the full set); an errored member counts as wrong
    res = wemath_four_dim(WEMATH_RECORDS, denominator="all")
    assert (res["n_problems"], res["n_all"], res["n_complete"], res["incomplete"]) == (8, 8, 6, 1)
    strict, loose = res["strict"], res["loose"]
    # problem 8 ([err, T], T) is classified with the errored member wrong: RM strict, CM loose
    assert {k: strict[k] for k in ("IK", "IG", "CM", "RM")} == {"IK": 1, "IG": 1, "CM": 2, "RM": 3}
    assert {k: loose[k] for k in ("IK", "IG", "CM", "RM")} == {"IK": 1, "IG": 1, "CM": 4, "RM": 1}
    # (8 - 0.5 - 3 - 1) / 8 strict, (8 - 0.5 - 1 - 1) / 8 loose; problem 7 (missing) counts in N only
    assert (strict["score"], loose["score"]) == (43.75, 68.75)
    # rates: IK, IG, CM over N; RM over CM + RM (We-Math's four_dimensional_metrics.py)
    assert (strict["IK_pct"], strict["CM_pct"], strict["RM_pct"], loose["RM_pct"]) == (12.5, 25.0, 60.0, 20.0)


@pytest.mark.parametrize(
    ("scoring", "overall", "denominator"),
    [
        ("official", 50.0, "all"),  # 2 right of 4 items: the error item counts as wrong
        ("corrected", 66.67, "scored"),  # 2 right of the 3 scored items
    ],
)
def test_headline_denominator_follows_scoring_mode(scoring: str, overall: float, denominator: str) -> None:
    records = [_rec("1", True), _rec("2", True), _rec("3", False), _rec("4", None, error="image: broken")]
    s = summarize(get_benchmark("mmstar"), records, scoring)
    assert (s["overall"], s["denominator"], s["scoring"]) == (overall, denominator, scoring)
    assert (s["accuracy_all"], s["accuracy_scored"]) == (50.0, 66.67)  # both are always reported


def test_unknown_scoring_mode_in_summary() -> None:
    with pytest.raises(ValueError, match="unknown scoring mode 'strict'; known: official, corrected"):
        summarize(get_benchmark("mmstar"), [], "strict")


def test_breakdown_merges_values_differing_in_case() -> None:
    # EMMA writes "Multiple choice" and "Multiple Choice"; its official script lower-cases the type
    records = [
        _rec("1", True, type="Multiple Choice"),
        _rec("2", False, type="Multiple choice"),
        _rec("3", True, type="Open-ended"),
    ]
    assert breakdown(records, "type") == {
        "Open-ended": {"accuracy": 100.0, "correct": 1, "n": 1},  # no case variant: name kept
        "multiple choice": {"accuracy": 50.0, "correct": 1, "n": 2},
    }


def test_breakdown_errors_as_wrong() -> None:
    records = [_rec("1", True, subset="s"), _rec("2", None, error="image: broken", subset="s")]
    assert breakdown(records, "subset")["s"]["n"] == 1  # excluded by default
    assert breakdown(records, "subset", errors_as_wrong=True)["s"] == {"accuracy": 50.0, "correct": 1, "n": 2}
