"""McNemar's test: the paper's three figures, agreement with scipy, pairing from JSONL files, bad input."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import binomtest, chi2

from perception_r1.analysis.mcnemar import (
    as_binary,
    chi2_p_value,
    exact_p_value,
    load_binary,
    mcnemar,
    mcnemar_files,
    pair_counts,
)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (1, 5, 0.219),  # paper: RLVR Qwen2-VL-7B vs base, reported p = 0.22
        (2, 4, 0.688),  # paper: RLVR Qwen2.5-VL-7B vs base, reported p = 0.69
        (2, 10, 0.039),  # paper: Perception-R1 vs base, reported p = 0.04
    ],
)
def test_exact_reproduces_paper(b: int, c: int, expected: float) -> None:
    assert round(mcnemar(b, c).p_value, 3) == expected
    assert round(mcnemar(c, b).p_value, 3) == expected  # two-sided: the order of the models does not matter


@pytest.mark.parametrize(
    ("b", "c"),
    [
        (0, 1),  # smallest non-trivial case: p = 1
        (0, 7),  # one-sided extreme: 2 / 2^7
        (3, 3),  # balanced: capped at 1
        (5, 20),  # moderate imbalance
        (40, 61),  # larger n
        (300, 240),  # large n, exercises big integers
    ],
)
def test_exact_matches_scipy_binomtest(b: int, c: int) -> None:
    expected = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert math.isclose(exact_p_value(b, c), expected, rel_tol=1e-9, abs_tol=1e-15)


@pytest.mark.parametrize(
    ("b", "c"),
    [
        (10_000, 10_000),  # the case: 18 s with the former quadratic sum
        (10_000, 10_250),  # large and unbalanced: a small but non-trivial p
        (10_000_000, 10_000_000),  # 10^7: never finished before
        (10_000_000, 10_012_000),  # 10^7, a small p (about 0.007)
        (4_000_000_000, 3_999_000_000),  # billions, far tail (p about 1e-28): accuracy where terms are tiny
        (1, 10**12),  # extreme imbalance
    ],
)
def test_exact_is_instant_and_matches_scipy_at_any_count(b: int, c: int) -> None:
    import time

    start = time.perf_counter()
    p = exact_p_value(b, c)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"exact McNemar took {elapsed:.2f}s at b={b}, c={c}"
    expected = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert math.isclose(p, expected, rel_tol=1e-9, abs_tol=1e-300)
    assert exact_p_value(c, b) == p  # symmetric in the two models


@pytest.mark.parametrize(
    ("b", "c"),
    [
        (1, 5),  # paper case 1
        (2, 10),  # paper case 3
        (30, 12),  # larger counts
    ],
)
def test_chi2_matches_scipy_distribution(b: int, c: int) -> None:
    stat, p = chi2_p_value(b, c)
    assert math.isclose(stat, (abs(b - c) - 1) ** 2 / (b + c))
    assert math.isclose(p, chi2.sf(stat, df=1), rel_tol=1e-12)
    assert mcnemar(b, c, method="chi2").method == "chi2"


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),  # no discordant pair: nothing to test
        (4, 4, 1.0),  # balanced: the correction must not push the statistic above 0
    ],
)
def test_degenerate_counts(b: int, c: int, p: float) -> None:
    assert exact_p_value(b, c) == p
    assert chi2_p_value(b, c)[1] == p


@pytest.mark.parametrize(
    ("b", "c", "method", "match"),
    [
        (-1, 2, "exact", "non-negative"),  # negative count
        (1.5, 2, "exact", "non-negative integer"),  # fractional count
        (True, 2, "exact", "non-negative integer"),  # a bool is not a count
        (1, 2, "fisher", "unknown McNemar method"),  # unknown method names the known ones
    ],
)
def test_bad_counts(b, c, method: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mcnemar(b, c, method=method)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, 1),  # JSON true
        (False, 0),  # JSON false
        (1, 1),  # integer flag
        (0.0, 0),  # float flag
    ],
)
def test_as_binary_accepts(value, expected: int) -> None:
    assert as_binary(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "yes",  # strings are ambiguous: refuse
        None,  # missing verdict must not count as 0
        0.5,  # a score, not a binary label
        2,  # not binary
    ],
)
def test_as_binary_rejects(value) -> None:
    with pytest.raises(ValueError, match="binary"):
        as_binary(value)


def _write(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_files_pairing_counts_and_unpaired(tmp_path) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    # ids 1-4 shared; "x" only in A; "y", "z" only in B. Nested key exercises dotted paths.
    _write(
        a,
        [
            {"id": 1, "m": {"ok": 1}},
            {"id": 2, "m": {"ok": 1}},
            {"id": 3, "m": {"ok": 0}},
            {"id": 4, "m": {"ok": 0}},
            {"id": "x", "m": {"ok": 1}},
        ],
    )
    _write(
        b,
        [
            {"id": 1, "m": {"ok": True}},
            {"id": 2, "m": {"ok": False}},
            {"id": 3, "m": {"ok": True}},
            {"id": 4, "m": {"ok": False}},
            {"id": "y", "m": {"ok": 1}},
            {"id": "z", "m": {"ok": 0}},
        ],
    )
    res = mcnemar_files(a, b, "m.ok")
    assert (res.b, res.c, res.n_pairs) == (1, 1, 4)
    assert res.extra == {
        "both_positive": 1,
        "both_negative": 1,
        "unpaired_a": 1,
        "unpaired_b": 2,
        "null_a": 0,
        "null_b": 0,
    }
    assert res.to_json()["p_value"] == 1.0


def test_pair_counts_paper_shape() -> None:
    # 50 items as in the paper: 2 discordant one way, 10 the other -> p = 0.039
    a = {str(i): 1 for i in range(50)}
    b = {str(i): 1 for i in range(50)}
    for i in range(2):
        b[str(i)] = 0
    for i in range(2, 12):
        a[str(i)] = 0
    counts = pair_counts(a, b)
    assert (counts["b"], counts["c"], counts["n_pairs"]) == (2, 10, 50)
    assert round(mcnemar(counts["b"], counts["c"]).p_value, 3) == 0.039


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([{"id": 1, "ok": 1}, {"ok": 0}], r"a.jsonl:2: no id field 'id'"),  # missing id names file and line
        ([{"id": 1}], r"a.jsonl:1: item '1' has no field 'ok'"),  # missing key
        ([{"id": 1, "ok": "yes"}], r"a.jsonl:1: item '1', field 'ok'.*binary"),  # non-binary value
        ([{"id": 1, "ok": 1}, {"id": 1, "ok": 0}], r"a.jsonl:2: duplicate id '1'"),  # duplicate id
    ],
)
def test_load_binary_errors(tmp_path, rows, match: str) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, rows)
    with pytest.raises(ValueError, match=match):
        load_binary(path, "ok")


def test_malformed_json_and_no_shared_ids(tmp_path) -> None:
    bad = tmp_path / "a.jsonl"
    bad.write_text('{"id": 1, "ok": 1}\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"a.jsonl:2: not valid JSON"):
        load_binary(bad, "ok")
    a, b = tmp_path / "x.jsonl", tmp_path / "y.jsonl"
    _write(a, [{"id": 1, "ok": 1}])
    _write(b, [{"id": 2, "ok": 1}])
    with pytest.raises(ValueError, match="share no 'id'"):
        mcnemar_files(a, b, "ok")
