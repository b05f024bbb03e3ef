"""The deterministic ``rule`` judge: is each canonical visual fact stated in a response?

Annotations must be in the canonical forms of :mod:`perception_r1.data.facts` (``AB = 5``,
``angle ABC = 40°``, ``AB ∥ CD``, ``AB ⊥ CD``, ``radius of circle O = 3``, ``diameter of circle O = 6``,
``triangle ABC is isosceles with AB = AC``, ``ABCD is a rectangle``). An annotation in any other form raises
:class:`~perception_r1.data.facts.FactParseError` listing the canonical forms; it is never silently scored 0
(the perception reward turns the error into a failed judgment).

A fact is *reflected* when the response states the same relation with the same value. Before matching, the
response is normalised: LaTeX math delimiters and ``\\text{}``-style wrappers are removed; ``\\angle``, ``∠``
and ``m\\angle`` become ``angle``; ``\\overline{AB}`` and ``|AB|`` become ``AB``; ``\\parallel``, ``\\|``,
``||``, ``//`` and "is parallel to" become ``∥``; ``\\perp``, ``\\bot`` and "is perpendicular to" become
``⊥``; ``°``, ``^\\circ``, ``^{\\circ}``, ``\\degree`` and "degrees" become ``°``; spacing is collapsed.

Accepted statements per kind (labels may be written in either equivalent order):

* length ``AB = 5``: ``AB = 5``, ``BA=5.0``, ``AB is 5``, ``AB equals 5``, ``AB = AC = 5`` (chains), units
  such as ``5 cm`` allowed; ``AB = 50``, ``AB = 5x``, ``CAB = 5`` and ``AB ≠ 5`` are not matches.
* angle ``angle ABC = 40°``: ``\\angle CBA = 40^\\circ``, ``m∠ABC = 40``, ``angle ABC is 40 degrees``,
  chains as above. The vertex-only form ``angle B = 40°`` is *not* accepted: it is ambiguous in general.
* parallel / perpendicular: ``AB ∥ CD``, ``DC \\parallel BA``, ``AB is parallel to CD``,
  ``AB and CD are parallel``.
* radius / diameter: ``radius of circle O = 3``, ``radius of O is 3``, ``the radius is 3``, ``r = 3``
  (radius) / ``d = 6`` (diameter).
* isosceles: the equality of the two equal sides (``AB = AC``, any order) or ``triangle ABC is isosceles``
  (any vertex order).
* rectangle: ``rectangle ABCD`` or ``ABCD is a rectangle``, for any rotation or reversal of the vertex cycle.

Limits: matching is textual, so a negated statement (``it is false that AB = 5``) still counts; values are
compared numerically with a relative tolerance of 1e-6.

Example:
    >>> rule_verdicts(["AB = 5", "angle ABC = 40°"], r"We read $\\overline{BA} = 5$ and $\\angle CBA = 40^\\circ$.")
    [1, 1]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from itertools import permutations

from perception_r1.data.facts import Fact, FactParseError, parse_fact

__all__ = ["FactParseError", "normalize_response", "rule_verdicts", "is_reflected"]

# Ordered replacements: LaTeX first (so that e.g. "\parallel" is not cut by the wrapper removal), words last.
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"\\(?:left|right)(?=[|.()\[\]])", ""),
    (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*o\s*\}", "°"),
    (r"\\parallel|\\\||∥|\|\||//", " ∥ "),
    (r"\\perp|\\bot|⊥", " ⊥ "),
    (r"\\neq|\\ne\b|≠", " ≠ "),
    (r"\\measuredangle|\\angle|∠", " angle "),
    (r"\\(?:overline|overleftrightarrow|overrightarrow|vec|mathrm|mathit|mathbf|text|textrm|operatorname|boxed)", ""),
    (r"\\[,;:! ]|~", " "),
    (r"\\\(|\\\)|\\\[|\\\]|\$", " "),
    (r"[{}]", ""),
    (r"\|\s*([A-Z]{2})\s*\|", r" \1 "),
    (r"\s*(?:degrees?|deg)\b", "°"),
    (r"\bm\s*angle\b", "angle"),
    (r"\b(?:is|are|being)\s+parallel\s+(?:to|with)\b|\bparallel\s+to\b", " ∥ "),
    (r"\b(?:is|are|being)\s+perpendicular\s+(?:to|with)\b|\bperpendicular\s+to\b", " ⊥ "),
    (r"°\s*°", "°"),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), r) for p, r in _REPLACEMENTS)

_NUMBER = r"(\d+(?:\.\d+)?)"
# A value ends where no further digit, decimal part, variable letter or arithmetic follows ("5x", "5.2", "5+3").
# Units may follow, glued or spaced ("5cm", "5 units"); a letter that is not a unit means a product ("5x").
_VALUE_END = r"(?!\d)(?!\.\d)(?:\s*(?:cm|mm|km|m|in|units?)\b|(?![A-Za-z(√\\{]))\s*°?(?!\s*[+\-*/^×·√])"
_IS = r"\s*(?:=|:|\bis\s+equal\s+to\b|\bequals?\b|\bis\b|\bmeasures?\b|\bhas\s+length\b|\bof\s+length\b)\s*"


def normalize_response(text: str) -> str:
    """Normalise LaTeX, symbols, degree signs and spacing of a response (see the module docstring)."""
    out = str(text)
    for pattern, repl in _COMPILED:
        out = pattern.sub(repl, out)
    return " ".join(out.split())


def _alt(options: Sequence[str]) -> str:
    return "(?:" + "|".join(re.escape(o) for o in dict.fromkeys(options)) + ")"


def _seg(seg: str) -> str:
    """Regex for a segment in either order, not glued to other capitals (``CAB`` does not contain ``AB``)."""
    return r"(?<![A-Za-z])" + _alt([seg, seg[::-1]]) + r"(?![A-Za-z])"


def _values_equal(found: str, expected: float) -> bool:
    return math.isclose(float(found), expected, rel_tol=1e-6, abs_tol=1e-9)


def _value_stated(text: str, subject: str, chain_item: str, expected: float) -> bool:
    """True when ``subject`` (optionally followed by ``= other`` chain items) is stated equal to ``expected``."""
    pattern = re.compile(subject + rf"(?:\s*=\s*{chain_item})*" + _IS + _NUMBER + _VALUE_END, re.IGNORECASE)
    return any(_values_equal(m.group(1), expected) for m in pattern.finditer(text))


def _length(fact: Fact, text: str) -> bool:
    assert fact.value is not None
    seg = fact.labels[0]
    # Labels are upper-case; compile case-sensitively for the label by inlining it into a case-sensitive group.
    return _value_stated(text, "(?-i:" + _seg(seg) + ")", r"(?-i:[A-Z]{2})(?![A-Za-z])", fact.value)


def _angle(fact: Fact, text: str) -> bool:
    assert fact.value is not None
    name = fact.labels[0]
    subject = r"\bangle\s*(?-i:" + _alt([name, name[::-1]]) + r")(?![A-Za-z])"
    return _value_stated(text, subject, r"angle\s*(?-i:[A-Z]{3})(?![A-Za-z])", fact.value)


def _relation(symbol: str, word: str) -> Callable[[Fact, str], bool]:
    def check(fact: Fact, text: str) -> bool:
        a, b = (_seg(x) for x in fact.labels)
        sep = rf"\s*{symbol}\s*(?:(?:the\s+)?(?:line|segment)\s+)?"  # "AB ∥ line CD"
        forms = [
            rf"{a}{sep}{b}",
            rf"{b}{sep}{a}",
            rf"{a}\s+and\s+{b}\s+are\s+(?:\w+\s+)?{word}",
            rf"{b}\s+and\s+{a}\s+are\s+(?:\w+\s+)?{word}",
        ]
        return any(re.search(f, text) for f in forms)

    return check


def _circle(word: str, letter: str) -> Callable[[Fact, str], bool]:
    def check(fact: Fact, text: str) -> bool:
        assert fact.value is not None
        circle = re.escape(fact.labels[0])
        of_circle = rf"\s+of\s+(?:the\s+)?(?:circle\s*)?(?-i:{circle})(?![A-Za-z])"
        segment = r"\s+(?-i:[A-Z]{2})(?![A-Za-z])"
        subject = rf"(?:\b{word}(?:{of_circle}|{segment})?|(?-i:\b{letter}\b))"
        return _value_stated(text, subject, r"(?!)", fact.value)

    return check


def _isosceles(fact: Fact, text: str) -> bool:
    tri, s1, s2 = fact.labels
    a, b = _seg(s1), _seg(s2)
    if re.search(rf"{a}\s*=\s*{b}", text) or re.search(rf"{b}\s*=\s*{a}", text):
        return True
    names = _alt(["".join(p) for p in permutations(tri)])
    return bool(re.search(rf"(?<![A-Za-z]){names}(?![A-Za-z])\s+is\s+(?:an\s+)?isosceles", text))


def _rectangle(fact: Fact, text: str) -> bool:
    quad = fact.labels[0]
    cycles = [quad[i:] + quad[:i] for i in range(4)]
    names = _alt(cycles + [c[::-1] for c in cycles])
    name = rf"(?<![A-Za-z])(?-i:{names})(?![A-Za-z])"
    pattern = rf"\brectangle\s+{name}|{name}\s+is\s+a\s+rectangle"
    return bool(re.search(pattern, text, re.IGNORECASE))


_CHECKS: dict[str, Callable[[Fact, str], bool]] = {
    "length": _length,
    "angle": _angle,
    "parallel": _relation("∥", "parallel"),
    "perpendicular": _relation("⊥", "perpendicular"),
    "radius": _circle("radius", "r"),
    "diameter": _circle("diameter", "d"),
    "isosceles": _isosceles,
    "rectangle": _rectangle,
}


def is_reflected(annotation: str | Fact, response: str, *, normalized: bool = False) -> bool:
    """Whether one canonical fact is stated in ``response``.

    Args:
        annotation: A canonical annotation string or a parsed :class:`Fact`.
        response: The policy response (raw, or already passed through :func:`normalize_response` when
            ``normalized`` is true).

    Raises:
        FactParseError: when ``annotation`` is not canonical.
    """
    fact = annotation if isinstance(annotation, Fact) else parse_fact(annotation)
    text = response if normalized else normalize_response(response)
    return _CHECKS[fact.kind](fact, text)


def rule_verdicts(annotations: Sequence[str], response: str) -> list[int]:
    """One verdict (1 = reflected, 0 = not) per annotation, in order.

    Args:
        annotations: M canonical annotation strings.
        response: The response text.

    Returns:
        A list of M ints in {0, 1}.

    Raises:
        FactParseError: naming the first non-canonical annotation (all are parsed before any is judged).
    """
    facts = [parse_fact(a) for a in annotations]
    text = normalize_response(response)
    return [int(_CHECKS[f.kind](f, text)) for f in facts]
