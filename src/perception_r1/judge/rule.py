"""The deterministic ``rule`` judge: is each canonical visual fact stated in a response?

Annotations must be in the canonical forms of :mod:`perception_r1.data.facts` (``AB = 5``,
``angle ABC = 40°``, ``AB ∥ CD``, ``AB ⊥ CD``, ``radius of circle O = 3``, ``diameter of circle O = 6``,
``triangle ABC is isosceles with AB = AC``, ``ABCD is a rectangle``). An annotation in any other form raises
:class:`~perception_r1.data.facts.FactParseError` listing the canonical forms; it is never silently scored 0
(the perception reward turns the error into a failed judgment).

A fact is *reflected* when the response states the same relation with the same value. Value facts (length,
angle, radius, diameter) are read through the one statement grammar of :mod:`perception_r1.judge.fact_grammar`
(which the exact perception metrics read too): the fact is credited only when its quantity is stated and every
value stated for it anywhere in the response is the fact's value. Restating the value (``AB = 5``, then
``BA is 5.0 cm``) keeps the credit; any second value takes it away: an enumeration (``angle ABC = 30°. angle
ABC = 40°.``, ``r = 2, r = 3``), "either ... or ...", a hedge with alternatives ("maybe 40°, maybe 50°"), a
range ("between 4 and 6", ``4 to 6``, ``30°–50°``) or ``±``. A different quantity with another value (``AB = 5``,
``AC = 7``) changes nothing.

Accepted statements per kind (labels may be written in either equivalent order; the grammar module lists every
verb and hedge):

* length ``AB = 5``: ``AB = 5``, ``BA=5.0``, ``AB is 5``, ``AB: 5``, ``AB equals 5``, ``AB is equal to 5``,
  ``AB has length 5``, ``AB measures 5``, ``AB = AC = 5`` (chains), units such as ``5 cm`` allowed; ``AB = 50``,
  ``AB = 5x``, ``AB = 5 + 2``, ``CAB = 5`` and ``AB ≠ 5`` are not matches.
* angle ``angle ABC = 40°``: ``\\angle CBA = 40^\\circ``, ``m∠ABC = 40``, ``Angle ABC is 40 degrees``,
  ``angle ABC measures 40°``, chains as above. The vertex-only form ``angle B = 40°`` is *not* accepted: it is
  ambiguous in general.
* parallel / perpendicular: ``AB ∥ CD``, ``DC \\parallel BA``, ``AB is parallel to CD``,
  ``AB and CD are parallel``; not credited when the response also states the other relation for the same pair
  (``AB ∥ CD`` and ``AB ⊥ CD``).
* radius / diameter: ``radius of circle O = 3``, ``radius of O is 3``, ``the radius is 3``, ``radius OA = 3``,
  ``r = 3`` (radius) / ``d = 6`` (diameter); an unnamed radius is the radius of the fact's circle.
* isosceles: the equality of the two equal sides (``AB = AC``, any order) or ``triangle ABC is isosceles``
  (any vertex order).
* rectangle: ``rectangle ABCD`` or ``ABCD is a rectangle``, for any rotation or reversal of the vertex cycle.

Limits: matching is textual, so a negated statement (``it is false that AB = 5``) still counts; values are
compared numerically with a relative tolerance of 1e-6; units are not converted (``5 cm`` and ``50 mm`` are two
values).

Example:
    >>> rule_verdicts(["AB = 5", "angle ABC = 40°"], r"We read $\\overline{BA} = 5$ and $\\angle CBA = 40^\\circ$.")
    [1, 1]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import permutations

from perception_r1.data.facts import Fact, FactParseError, parse_fact
from perception_r1.judge.fact_grammar import (
    Statement,
    normalize_response,
    quantity,
    stated_consistently,
    value_statements,
)

__all__ = ["FactParseError", "normalize_response", "rule_verdicts", "is_reflected"]


def _alt(options: Sequence[str]) -> str:
    return "(?:" + "|".join(re.escape(o) for o in dict.fromkeys(options)) + ")"


def _seg(seg: str) -> str:
    """Regex for a segment in either order, not glued to other capitals (``CAB`` does not contain ``AB``)."""
    return r"(?<![A-Za-z])" + _alt([seg, seg[::-1]]) + r"(?![A-Za-z])"


def _value(fact: Fact, text: str, statements: Sequence[Statement]) -> bool:
    """A length, angle, radius or diameter stated, and stated only with the fact's value."""
    assert fact.value is not None
    return stated_consistently(quantity(fact.kind, fact.labels[0]), fact.value, statements)


def _stated_relation(labels: Sequence[str], text: str, symbol: str, word: str) -> bool:
    a, b = (_seg(x) for x in labels)
    sep = rf"\s*{symbol}\s*(?:(?:the\s+)?(?:line|segment)\s+)?"  # "AB ∥ line CD"
    forms = [
        rf"{a}{sep}{b}",
        rf"{b}{sep}{a}",
        rf"{a}\s+and\s+{b}\s+are\s+(?:\w+\s+)?{word}",
        rf"{b}\s+and\s+{a}\s+are\s+(?:\w+\s+)?{word}",
    ]
    return any(re.search(f, text) for f in forms)


_RELATIONS = {"parallel": ("∥", "parallel"), "perpendicular": ("⊥", "perpendicular")}


def _relation(fact: Fact, text: str, statements: Sequence[Statement]) -> bool:
    """The relation stated for the pair, and the other relation (∥ vs ⊥) not stated for the same pair."""
    (other,) = set(_RELATIONS) - {fact.kind}
    return _stated_relation(fact.labels, text, *_RELATIONS[fact.kind]) and not _stated_relation(
        fact.labels, text, *_RELATIONS[other]
    )


def _isosceles(fact: Fact, text: str, statements: Sequence[Statement]) -> bool:
    tri, s1, s2 = fact.labels
    a, b = _seg(s1), _seg(s2)
    if re.search(rf"{a}\s*=\s*{b}", text) or re.search(rf"{b}\s*=\s*{a}", text):
        return True
    names = _alt(["".join(p) for p in permutations(tri)])
    return bool(re.search(rf"(?<![A-Za-z]){names}(?![A-Za-z])\s+is\s+(?:an\s+)?isosceles", text))


def _rectangle(fact: Fact, text: str, statements: Sequence[Statement]) -> bool:
    quad = fact.labels[0]
    cycles = [quad[i:] + quad[:i] for i in range(4)]
    names = _alt(cycles + [c[::-1] for c in cycles])
    name = rf"(?<![A-Za-z])(?-i:{names})(?![A-Za-z])"
    pattern = rf"\brectangle\s+{name}|{name}\s+is\s+a\s+rectangle"
    return bool(re.search(pattern, text, re.IGNORECASE))


_CHECKS: dict[str, Callable[[Fact, str, Sequence[Statement]], bool]] = {
    "length": _value,
    "angle": _value,
    "parallel": _relation,
    "perpendicular": _relation,
    "radius": _value,
    "diameter": _value,
    "isosceles": _isosceles,
    "rectangle": _rectangle,
}


def is_reflected(annotation: str | Fact, response: str, *, normalized: bool = False) -> bool:
    """Whether one canonical fact is stated in ``response`` (and, for a value, never contradicted there).

    Args:
        annotation: A canonical annotation string or a parsed :class:`Fact`.
        response: The policy response (raw, or already passed through :func:`normalize_response` when
            ``normalized`` is true).

    Raises:
        FactParseError: when ``annotation`` is not canonical.
    """
    fact = annotation if isinstance(annotation, Fact) else parse_fact(annotation)
    text = response if normalized else normalize_response(response)
    return _CHECKS[fact.kind](fact, text, value_statements(text, normalized=True))


def rule_verdicts(
    annotations: Sequence[str], response: str, statements: Sequence[Statement] | None = None
) -> list[int]:
    """One verdict (1 = reflected, 0 = not) per annotation, in order.

    Args:
        annotations: M canonical annotation strings.
        response: The response text, or with ``statements`` its :func:`normalize_response` form.
        statements: The value statements of the normalised response, where the caller has parsed them already
            (:func:`value_statements` with ``normalized=True``); None: parsed here.

    Returns:
        A list of M ints in {0, 1}.

    Raises:
        FactParseError: naming the first non-canonical annotation (all are parsed before any is judged).
    """
    facts = [parse_fact(a) for a in annotations]
    if statements is None:
        response = normalize_response(response)
        statements = value_statements(response, normalized=True)
    return [int(_CHECKS[f.kind](f, response, statements)) for f in facts]
