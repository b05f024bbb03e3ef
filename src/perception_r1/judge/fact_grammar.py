"""One grammar of value statements, read by both the ``rule`` judge and the exact perception metrics.

A *value statement* names a quantity and gives it a number: ``AB = 5``, ``angle ABC is 40 degrees``,
``the radius is 3``. The rule judge credits a value fact from these statements and the metrics count wrong
and hallucinated values from the very same statements, so the reward and the grade never disagree about what
a sentence says.

Responses are first normalised (:func:`normalize_response`): LaTeX math delimiters and ``\\text{}``-style
wrappers are removed; ``\\angle``, ``∠`` and ``m\\angle`` become ``angle``; ``\\overline{AB}`` and ``|AB|``
become ``AB``; ``\\parallel``, ``\\|``, ``||``, ``//`` and "is parallel to" become ``∥``; ``\\perp``,
``\\bot`` and "is perpendicular to" become ``⊥``; ``°``, ``^\\circ``, ``^{\\circ}``, ``\\degree`` and
"degrees" become ``°``; spacing is collapsed.

A statement is ``<quantity> [= <same-kind name>]* <verb> [hedge] <value> [<alternative>]*``:

* quantities: ``angle ABC`` (vertex in the middle; ``angle CBA`` is the same angle), a segment ``AB`` (= ``BA``;
  not glued to other capitals: ``CAB`` holds no ``AB``), ``radius`` / ``diameter`` [``of (the) (circle) O``]
  or a named radius segment (``radius OA``), ``r`` / ``d``. A radius or diameter without a circle's name is
  the same quantity as that of any named circle. The vertex-only ``angle B`` is not a quantity (ambiguous).
* verbs: ``=``, ``:``, ``≈``, "is", "is equal to", "equals", "measures", "has (a) length (of)", "of length",
  "has measure", "could / might / may be".
* hedges before a value: "maybe", "perhaps", "possibly", "probably", "likely", "about", "around",
  "approximately", "roughly", "nearly", "almost", "either", and "between ... and ...", "from ... to ...".
* a value: a plain decimal number, then optionally a unit (``cm``, ``mm``, ``m``, ``km``, ``in``, ``units``; not
  converted) and ``°``. A value that a digit, a decimal part, a letter (``5x``), a radical, a power or arithmetic
  follows (``5 + 3``, ``180° - 40°``, ``2 times``) is a computation, not a stated value: no statement.
* alternatives after a value: ", 50°", "or 50°" ("or maybe", "(or 140°)"), "to 6", "through 6", "– 6",
  "± 1" (both ends), "and 6" after "between".

Every value and every alternative of a statement is a value stated for each of its quantities (the subject and
the chained names: ``AB = AC = 5`` states ``AB`` and ``AC``). A quantity is *stated consistently* with ``v``
when it has at least one stated value and every stated value equals ``v`` (relative tolerance 1e-6): restating
it (``AB = 5``, later ``AB is 5.0 cm``) is fine, a second value anywhere (an enumeration, "either ... or",
a range, ``±``) is not.

Example:
    >>> [(s.quantities, s.values) for s in value_statements("Angle ABC is either 40° or 140°; AB = AC = 5 cm.")]
    [((('angle', 'ABC'),), (40.0, 140.0)), ((('length', 'AB'), ('length', 'AC')), (5.0,))]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Quantity",
    "Statement",
    "normalize_response",
    "quantity",
    "same_quantity",
    "value_statements",
    "stated_values",
    "values_of",
    "stated_consistently",
    "named_quantities",
    "values_equal",
]

# (kind, label): ("angle", "ABC"), ("length", "AB"), ("radius", "O"); label "" is a circle left unnamed.
Quantity = tuple[str, str]

# Ordered replacements: LaTeX first (so that e.g. "\parallel" is not cut by the wrapper removal), words last.
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"\\(?:left|right)(?=[|.()\[\]])", ""),
    (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*o\s*\}", "°"),
    (r"\\parallel|\\\||∥|\|\||//", " ∥ "),
    (r"\\perp|\\bot|⊥", " ⊥ "),
    (r"\\neq|\\ne\b|≠", " ≠ "),
    (r"\\approx", " ≈ "),
    (r"\\pm", " ± "),
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
# A value ends where no further digit, decimal part, variable, radical, power or arithmetic follows ("5x", "5.2",
# "5²", "5 + 3", "2 times"). Units may follow, glued or spaced ("5cm", "5 units"); other letters mean a product.
_END = (
    r"(?!\d)(?!\.\d)(?:\s*(?:cm|mm|km|m|in|units?)\b|(?![A-Za-z(√\\{²³^]))\s*°?"
    r"(?!\s*°?\s*(?:[+\-−*/^×·÷√²³]|times\b))"
)
_HEDGES = r"(?:(?:maybe|perhaps|possibly|probably|likely|about|around|approximately|approx\.?|roughly|nearly|almost|either)\s+|≈\s*)*"  # noqa: E501
_VERB = (
    r"\s*(?:=|:|≈|\bis\s+equal\s+to\b|\bequals?\b|\bmeasures?\b|\bhas\s+(?:a\s+)?(?:length|measure)(?:\s+of)?\b"
    r"|\bof\s+length\b|\b(?:could|might|may)\s+be\b|\bis\b)\s*"
)
_LABEL_END = r"(?![A-Za-z])"


def _circle_subject(word: str, letter: str) -> str:
    named = rf"\s+of\s+(?:the\s+)?(?:circle\s*)?(?-i:(?P<label>[A-Z])){_LABEL_END}"
    return rf"(?:\b{word}(?:{named}|\s+of\s+the\s+circle\b|\s+(?-i:[A-Z]{{2}}){_LABEL_END})?|(?-i:\b{letter}\b))"


# kind -> (subject with a ``label`` group where the quantity is named, the chain item of the same kind or None)
_SUBJECTS: tuple[tuple[str, str, str | None], ...] = (
    ("angle", rf"\bangle\s*(?-i:(?P<label>[A-Z]{{3}})){_LABEL_END}", rf"angle\s*(?-i:[A-Z]{{3}}){_LABEL_END}"),
    ("radius", _circle_subject("radius", "r"), None),
    ("diameter", _circle_subject("diameter", "d"), None),
    ("length", rf"(?<![A-Za-z])(?-i:(?P<label>[A-Z]{{2}})){_LABEL_END}", rf"(?-i:[A-Z]{{2}}){_LABEL_END}"),
)


def _head(subject: str, chain: str | None) -> re.Pattern[str]:
    chained = rf"(?P<chain>(?:\s*=\s*{chain})*)" if chain else r"(?P<chain>)"
    return re.compile(
        subject + chained + _VERB + r"(?:(?P<range>between|from)\s+)?" + _HEDGES + r"(?P<value>\d+(?:\.\d+)?)" + _END,
        re.IGNORECASE,
    )


_HEADS = tuple((kind, _head(subject, chain), chain) for kind, subject, chain in _SUBJECTS)
_PLUS_MINUS = re.compile(r"\s*(?:±|\+/-|\+-)\s*" + _NUMBER + _END)
_ALTERNATIVE = re.compile(
    r"\s*(?:(?P<comma>,)\s*(?:or\s+)?|\(\s*or\s+|(?P<word>or(?:\s+else)?|to|through|and)\s+|(?P<dash>[–—])\s*)"
    + _HEDGES
    + r"(?P<value>\d+(?:\.\d+)?)"
    + _END,
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    """One value statement of a (normalised) response.

    Attributes:
        quantities: The subject and any chained names of the same kind (``AB = AC = 5``: AB and AC).
        values: The stated value first, then every alternative (enumeration, "or", range ends, ``±``).
        span: ``(start, end)`` in the normalised text.
    """

    quantities: tuple[Quantity, ...]
    values: tuple[float, ...]
    span: tuple[int, int]


def normalize_response(text: str) -> str:
    """Normalise LaTeX, symbols, degree signs and spacing of a response (see the module docstring)."""
    out = str(text)
    for pattern, repl in _COMPILED:
        out = pattern.sub(repl, out)
    return " ".join(out.split())


def quantity(kind: str, label: str) -> Quantity:
    """Order-free identity of a quantity: segment AB = BA, angle ABC = CBA (same vertex); circles by name."""
    if kind == "length":
        return kind, "".join(sorted(label))
    if kind == "angle":
        return kind, min(label[0], label[2]) + label[1] + max(label[0], label[2])
    return kind, label


def same_quantity(a: Quantity, b: Quantity) -> bool:
    """Whether two quantities are one: equal, or a radius/diameter whose circle is unnamed on either side."""
    return a[0] == b[0] and (a[1] == b[1] or (a[0] in ("radius", "diameter") and "" in (a[1], b[1])))


def values_equal(a: float, b: float) -> bool:
    """Numeric equality of two stated values (relative tolerance 1e-6)."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _alternatives(text: str, pos: int, first: float, in_range: bool) -> tuple[list[float], int]:
    """Values that follow a statement's first value at ``pos``, and where they end."""
    values: list[float] = []
    while True:
        pm = _PLUS_MINUS.match(text, pos)
        if pm:
            spread = float(pm.group(1))
            values += [first - spread, first + spread]
            pos = pm.end()
            continue
        alt = _ALTERNATIVE.match(text, pos)
        if not alt or (alt.group("word") or "").lower() == "and" and not in_range:
            return values, pos
        values.append(float(alt.group("value")))
        pos = alt.end()


def value_statements(text: str, *, normalized: bool = False) -> list[Statement]:
    """Every value statement in ``text``, in order of appearance (see the module docstring for the grammar).

    Kinds are read in order angle, radius, diameter, length, and a statement never starts inside an earlier
    one, so ``angle ABC = 40`` is never also a length and ``radius OA = 3`` never a statement about ``OA``.

    Args:
        text: A response (or any text).
        normalized: ``text`` has already been through :func:`normalize_response`.
    """
    norm = text if normalized else normalize_response(text)
    found: list[Statement] = []
    for kind, head, chain in _HEADS:
        for m in head.finditer(norm):
            if any(s.span[0] <= m.start() < s.span[1] for s in found):
                continue
            first = float(m.group("value"))
            more, end = _alternatives(norm, m.end(), first, bool(m.group("range")))
            label = m.groupdict().get("label") or ""
            names = [quantity(kind, label)]
            if chain and m.group("chain"):
                names += [quantity(kind, c) for c in re.findall(r"(?-i:[A-Z]{2,3})(?![A-Za-z])", m.group("chain"))]
            found.append(Statement(tuple(dict.fromkeys(names)), (first, *more), (m.start(), end)))
    return sorted(found, key=lambda s: s.span)


def stated_values(text: str, *, normalized: bool = False) -> list[tuple[Quantity, float]]:
    """Every ``(quantity, value)`` pair stated in ``text``, alternatives included, in order of appearance."""
    return statement_values(value_statements(text, normalized=normalized))


def statement_values(statements: Iterable[Statement]) -> list[tuple[Quantity, float]]:
    """:func:`stated_values` of statements already parsed (:func:`value_statements`)."""
    return [(q, v) for s in statements for q in s.quantities for v in s.values]


def values_of(target: Quantity, statements: Iterable[Statement]) -> list[float]:
    """All values stated for ``target`` (see :func:`same_quantity`) across ``statements``."""
    return [v for s in statements if any(same_quantity(q, target) for q in s.quantities) for v in s.values]


def stated_consistently(target: Quantity, value: float, statements: Sequence[Statement]) -> bool:
    """``target`` is stated at least once and only ever with ``value``: the rule for crediting a value fact."""
    values = values_of(target, statements)
    return bool(values) and all(values_equal(v, value) for v in values)


_NAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("angle", re.compile(rf"\bangle\s*(?-i:([A-Z]{{3}})){_LABEL_END}", re.IGNORECASE)),
    ("length", re.compile(rf"(?<![A-Za-z])([A-Z]{{2}}){_LABEL_END}")),
    ("radius", re.compile(rf"\bradius\b(?:\s+of\s+(?:the\s+)?(?:circle\s*)?(?-i:([A-Z])){_LABEL_END})?", re.I)),
    ("diameter", re.compile(rf"\bdiameter\b(?:\s+of\s+(?:the\s+)?(?:circle\s*)?(?-i:([A-Z])){_LABEL_END})?", re.I)),
)


def named_quantities(text: str, *, normalized: bool = False) -> set[Quantity]:
    """Every angle, segment, radius and diameter named in ``text``, with or without a value."""
    norm = text if normalized else normalize_response(text)
    return {quantity(kind, m.group(1) or "") for kind, pattern in _NAMES for m in pattern.finditer(norm)}
