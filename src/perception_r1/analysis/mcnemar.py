"""McNemar's test for paired binary outcomes (e.g. "is model A's perception correct" vs model B's).

Only the discordant pairs matter: ``b`` = items where A is 1 and B is 0, ``c`` = items where A is 0 and B is 1.
The paper (docs/reference.md#perception-analysis-mcnemar) used the *exact* two-sided test: under the null
hypothesis each discordant pair goes either way with probability 1/2, so ``b ~ Binomial(b + c, 1/2)`` and

    p = min(1, 2 * P(X <= min(b, c))),   X ~ Binomial(b + c, 1/2).

The chi-square variant with Edwards' continuity correction is available as ``method="chi2"``; on small counts
it is only an approximation, and the paper's figures are the exact ones.

Example:
    >>> round(mcnemar(2, 10).p_value, 3)
    0.039
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.io_utils import JsonlError, iter_jsonl

METHODS = ("exact", "chi2")
# A record filter: {field: value}, or (field, value) pairs where a field may repeat; every one must hold.
Where = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class McNemarResult:
    """Outcome of a McNemar test.

    Attributes:
        b: Discordant pairs where A is positive and B negative.
        c: Discordant pairs where A is negative and B positive.
        n_pairs: All paired items (concordant ones included); equals ``b + c`` when only counts were given.
        p_value: Two-sided p-value.
        method: ``"exact"`` or ``"chi2"``.
        statistic: The chi-square statistic (``None`` for the exact test).
        extra: Pairing details when computed from files (both_positive, both_negative, unpaired counts).
    """

    b: int
    c: int
    n_pairs: int
    p_value: float
    method: str
    statistic: float | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` payload: ``b``, ``c``, ``n_pairs``, ``p_value``, ``method`` plus pairing details."""
        out = {k: v for k, v in asdict(self).items() if k not in ("extra", "statistic")}
        if self.statistic is not None:
            out["statistic"] = self.statistic
        out.update(self.extra)
        return out


def exact_p_value(b: int, c: int) -> float:
    """Exact two-sided binomial McNemar p-value, in constant time at any count.

    Args:
        b, c: Discordant counts (non-negative integers).

    Returns:
        ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1.0 when ``b + c == 0``. This is
        the value of ``scipy.stats.binomtest(b, b + c, 0.5).pvalue`` (its "minlike" two-sided definition equals
        the doubled smaller tail for p = 1/2, by symmetry).
    """
    _check_counts(b, c)
    n = b + c
    if n == 0 or b == c:
        return 1.0
    from scipy.stats import binom

    # scipy's binomial CDF is the regularised incomplete beta function: O(1) at any n, accurate in the far
    # tail (where the former sum of n-choose-k terms was quadratic: 18 s at b = c = 10^4).
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), n, 0.5)))


def chi2_p_value(b: int, c: int) -> tuple[float, float]:
    """Chi-square McNemar test with Edwards' continuity correction.

    Returns:
        ``(statistic, p_value)`` where ``statistic = max(0, |b - c| - 1)^2 / (b + c)`` and the p-value is the
        upper tail of a chi-square with one degree of freedom. The ``max(0, .)`` keeps ``b == c`` at
        statistic 0 (p = 1) instead of letting the correction overshoot. ``(0.0, 1.0)`` when ``b + c == 0``.
    """
    _check_counts(b, c)
    n = b + c
    if n == 0:
        return 0.0, 1.0
    stat = max(0.0, abs(b - c) - 1.0) ** 2 / n
    # Survival function of chi2(df=1): P(Z^2 > x) = erfc(sqrt(x / 2)).
    return stat, math.erfc(math.sqrt(stat / 2.0))


def mcnemar(b: int, c: int, method: str = "exact", n_pairs: int | None = None) -> McNemarResult:
    """Run McNemar's test on discordant counts.

    Args:
        b, c: Discordant counts.
        method: ``"exact"`` (default, as in the paper) or ``"chi2"`` (continuity-corrected).
        n_pairs: Total number of pairs if known (defaults to ``b + c``).

    Raises:
        ValueError: for negative/non-integer counts or an unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown McNemar method {method!r}; known: {', '.join(METHODS)}")
    if method == "exact":
        return McNemarResult(b, c, b + c if n_pairs is None else n_pairs, exact_p_value(b, c), method)
    stat, p = chi2_p_value(b, c)
    return McNemarResult(b, c, b + c if n_pairs is None else n_pairs, p, method, statistic=stat)


def _check_counts(b: Any, c: Any) -> None:
    for name, v in (("b", b), ("c", c)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"discordant count {name} must be a non-negative integer, got {v!r}")


def get_field(row: Mapping[str, Any], key: str) -> Any:
    """Read ``key`` from ``row``; a dotted key (``metadata.correct``) descends into nested mappings.

    Raises:
        KeyError: naming the missing part of the path.
    """
    if key in row:
        return row[key]
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(part)
        value = value[part]
    return value


def parse_where(pairs: list[str]) -> list[tuple[str, str]]:
    """``FIELD=VALUE`` filters (``--where``; dotted fields descend into objects) as ``(field, value)`` pairs, all
    of which must hold: a field given twice keeps both (a list field then needs both values).

    Raises:
        ValueError: a pair without ``=`` or without a field.

    Example:
        >>> parse_where(["meta.tags=geo", "meta.tags=easy"])
        [('meta.tags', 'geo'), ('meta.tags', 'easy')]
    """
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--where expects FIELD=VALUE (dotted fields descend into objects), got {pair!r}")
        out.append((key.strip(), value))
    return out


def matches_where(row: Mapping[str, Any], where: Where) -> bool:
    """Whether every ``where`` field of ``row`` (:func:`get_field`) is its value, compared as text; a list field
    matches when one element does, a missing field never.

    Args:
        where: ``{field: value}`` or ``(field, value)`` pairs (:func:`parse_where`), all of which must hold.

    Example:
        >>> matches_where({"meta": {"tags": ["a", 2]}}, {"meta.tags": "2"}), matches_where({}, {"x": ""})
        (True, False)
        >>> matches_where({"tags": ["a", "b"]}, [("tags", "a"), ("tags", "c")])
        False
    """
    for key, wanted in where.items() if isinstance(where, Mapping) else where:
        try:
            value = get_field(row, key)
        except KeyError:
            return False
        values = value if isinstance(value, (list, tuple)) else [value]
        if wanted not in [str(v) for v in values]:
            return False
    return True


def as_binary(value: Any) -> int:
    """Map ``True/False``, ``1/0`` (int or float) to 1/0.

    Raises:
        ValueError: for anything else (strings, None, other numbers), so a mis-chosen field fails loudly.
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    raise ValueError(f"expected a binary value (true/false or 0/1), got {value!r}")


def load_binary(path: str | Path, key: str, id_field: str = "id", nulls: list[str] | None = None) -> dict[str, int]:
    """Read ``{id: 0/1}`` from a JSONL file.

    Args:
        nulls: When a list is given, items whose value is ``null`` (e.g. ``correct: null``: not scored) are left
            out and their ids appended to it; otherwise a null is an error like any non-binary value.

    Raises:
        ValueError: naming the file and line for malformed JSON, a missing id or key, a non-binary value or a
            duplicate id.
    """
    out: dict[str, int] = {}
    for line_no, row in iter_jsonl(path):
        if isinstance(row, JsonlError):
            raise ValueError(str(row))
        try:
            item_id = str(get_field(row, id_field))
        except KeyError:
            raise ValueError(f"{path}:{line_no}: no id field {id_field!r} (use --id-field)") from None
        try:
            raw = get_field(row, key)
        except KeyError:
            raise ValueError(f"{path}:{line_no}: item {item_id!r} has no field {key!r}") from None
        if raw is None and nulls is not None:
            if item_id in nulls:
                raise ValueError(f"{path}:{line_no}: duplicate id {item_id!r}")
            nulls.append(item_id)
            continue
        try:
            value = as_binary(raw)
        except ValueError as exc:
            raise ValueError(f"{path}:{line_no}: item {item_id!r}, field {key!r}: {exc}") from None
        if item_id in out or (nulls is not None and item_id in nulls):
            raise ValueError(f"{path}:{line_no}: duplicate id {item_id!r}")
        out[item_id] = value
    return out


def pair_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Contingency counts of two ``{id: 0/1}`` maps over their shared ids.

    Returns:
        ``b`` (A=1, B=0), ``c`` (A=0, B=1), ``both_positive``, ``both_negative``, ``n_pairs``, ``unpaired_a``
        (ids only in A) and ``unpaired_b`` (ids only in B).
    """
    shared = a.keys() & b.keys()
    counts = {"b": 0, "c": 0, "both_positive": 0, "both_negative": 0}
    for item_id in shared:
        x, y = a[item_id], b[item_id]
        name = "both_positive" if x and y else "b" if x else "c" if y else "both_negative"
        counts[name] += 1
    counts.update(n_pairs=len(shared), unpaired_a=len(a.keys() - shared), unpaired_b=len(b.keys() - shared))
    return counts


def mcnemar_files(
    path_a: str | Path, path_b: str | Path, key: str, id_field: str = "id", method: str = "exact"
) -> McNemarResult:
    """McNemar's test on binary field ``key`` of two JSONL files paired by ``id_field``.

    Raises:
        ValueError: for unreadable rows (see :func:`load_binary`) or when the files share no id.
    """
    nulls_a: list[str] = []
    nulls_b: list[str] = []
    a = load_binary(path_a, key, id_field, nulls=nulls_a)
    b = load_binary(path_b, key, id_field, nulls=nulls_b)
    # An item with a null value on either side cannot be paired: it is left out and counted.
    for item_id in nulls_a:
        b.pop(item_id, None)
    for item_id in nulls_b:
        a.pop(item_id, None)
    counts = pair_counts(a, b)
    if counts["n_pairs"] == 0:
        raise ValueError(
            f"{path_a} and {path_b} share no {id_field!r} with a value of {key!r} on both sides "
            f"({len(a)} and {len(b)} items; null: {len(nulls_a)} and {len(nulls_b)})"
        )
    res = mcnemar(counts["b"], counts["c"], method=method, n_pairs=counts["n_pairs"])
    extra = {k: counts[k] for k in ("both_positive", "both_negative", "unpaired_a", "unpaired_b")}
    extra.update(null_a=len(nulls_a), null_b=len(nulls_b))
    return McNemarResult(res.b, res.c, res.n_pairs, res.p_value, res.method, res.statistic, extra)
