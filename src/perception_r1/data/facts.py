"""Canonical visual facts: the annotation strings the synthetic testbed writes and the ``rule`` judge reads.

Canonical forms (one fact per string; point labels are single upper-case letters, values are plain decimal
numbers such as ``5`` or ``2.5``; kind: template -> example):

* ``length``: ``XY = v`` -> ``AB = 5``
* ``angle``: ``angle XYZ = v°`` -> ``angle ABC = 40°`` (vertex in the middle)
* ``parallel``: ``XY ∥ ZW`` -> ``AB ∥ CD``
* ``perpendicular``: ``XY ⊥ ZW`` -> ``AC ⊥ BC``
* ``radius``: ``radius of circle O = v`` -> ``radius of circle O = 3``
* ``diameter``: ``diameter of circle O = v`` -> ``diameter of circle O = 6``
* ``isosceles``: ``triangle XYZ is isosceles with XY = XZ`` -> ``triangle ABC is isosceles with AB = AC``
* ``rectangle``: ``WXYZ is a rectangle`` -> ``ABCD is a rectangle``

Equivalences the rule judge applies: a segment ``AB`` is ``BA``; ``angle ABC`` is ``angle CBA`` (same
vertex); ``AB ∥ CD`` is ``CD ∥ BA``; ``triangle ABC`` is any ordering of its vertices; ``ABCD`` is any
rotation or reversal of the vertex cycle.

Example:
    >>> parse_fact("angle ABC = 40°")
    Fact(kind='angle', labels=('ABC',), value=40.0)
    >>> format_fact(Fact("length", ("AB",), 5.0))
    'AB = 5'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (kind, canonical template, example) - used in documentation and in the error for unparseable annotations.
CANONICAL_FORMS: tuple[tuple[str, str, str], ...] = (
    ("length", "XY = v", "AB = 5"),
    ("angle", "angle XYZ = v°", "angle ABC = 40°"),
    ("parallel", "XY ∥ ZW", "AB ∥ CD"),
    ("perpendicular", "XY ⊥ ZW", "AC ⊥ BC"),
    ("radius", "radius of circle O = v", "radius of circle O = 3"),
    ("diameter", "diameter of circle O = v", "diameter of circle O = 6"),
    ("isosceles", "triangle XYZ is isosceles with XY = XZ", "triangle ABC is isosceles with AB = AC"),
    ("rectangle", "WXYZ is a rectangle", "ABCD is a rectangle"),
)

_NUM = r"(\d+(?:\.\d+)?)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("length", re.compile(rf"([A-Z]{{2}}) = {_NUM}")),
    ("angle", re.compile(rf"angle ([A-Z]{{3}}) = {_NUM}°")),
    ("parallel", re.compile(r"([A-Z]{2}) ∥ ([A-Z]{2})")),
    ("perpendicular", re.compile(r"([A-Z]{2}) ⊥ ([A-Z]{2})")),
    ("radius", re.compile(rf"radius of circle ([A-Z]) = {_NUM}")),
    ("diameter", re.compile(rf"diameter of circle ([A-Z]) = {_NUM}")),
    ("isosceles", re.compile(r"triangle ([A-Z]{3}) is isosceles with ([A-Z]{2}) = ([A-Z]{2})")),
    ("rectangle", re.compile(r"([A-Z]{4}) is a rectangle")),
)


class FactParseError(ValueError):
    """An annotation is not in one of the canonical forms; the message lists them."""


@dataclass(frozen=True)
class Fact:
    """One canonical visual fact.

    Attributes:
        kind: One of the kinds in :data:`CANONICAL_FORMS`.
        labels: The label groups in the order written: ``("AB",)`` for a length, ``("ABC",)`` for an angle,
            ``("AB", "CD")`` for parallel/perpendicular, ``("O",)`` for a circle, ``("ABC", "AB", "AC")`` for
            an isosceles triangle, ``("ABCD",)`` for a rectangle.
        value: The numeric value for length/angle/radius/diameter facts, else ``None``.
    """

    kind: str
    labels: tuple[str, ...]
    value: float | None = None


def canonical_forms_help() -> str:
    """One line per canonical form, for error messages and ``--help`` texts."""
    return "; ".join(f"{kind}: '{template}' (e.g. '{example}')" for kind, template, example in CANONICAL_FORMS)


def parse_fact(text: str) -> Fact:
    """Parse one canonical annotation string (surrounding whitespace ignored).

    Raises:
        FactParseError: when ``text`` is in none of the canonical forms (the message lists them), or when an
            angle's or isosceles triangle's labels are inconsistent (e.g. ``triangle ABC ... with AB = DE``).
    """
    stripped = " ".join(str(text).split())
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(stripped)
        if not match:
            continue
        groups = match.groups()
        if kind in ("length", "angle", "radius", "diameter"):
            return Fact(kind, (groups[0],), float(groups[1]))
        if kind == "isosceles":
            tri, left, right = groups
            if not (set(left) | set(right)) <= set(tri) or not set(left) & set(right):
                raise FactParseError(f"isosceles fact {text!r}: sides {left}, {right} must be sides of {tri}")
        return Fact(kind, tuple(groups))
    raise FactParseError(f"annotation {text!r} is not a canonical fact; canonical forms: {canonical_forms_help()}")


def format_number(value: float) -> str:
    """``5.0`` -> ``"5"``, ``2.5`` -> ``"2.5"`` (no exponent, no trailing zeros)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def format_fact(fact: Fact) -> str:
    """Render ``fact`` in its canonical form (the inverse of :func:`parse_fact`).

    Raises:
        ValueError: for an unknown kind or a missing value.
    """
    needs_value = fact.kind in ("length", "angle", "radius", "diameter")
    if needs_value and fact.value is None:
        raise ValueError(f"{fact.kind} fact needs a value: {fact}")
    value = format_number(fact.value) if fact.value is not None else ""
    templates = {
        "length": lambda: f"{fact.labels[0]} = {value}",
        "angle": lambda: f"angle {fact.labels[0]} = {value}°",
        "parallel": lambda: f"{fact.labels[0]} ∥ {fact.labels[1]}",
        "perpendicular": lambda: f"{fact.labels[0]} ⊥ {fact.labels[1]}",
        "radius": lambda: f"radius of circle {fact.labels[0]} = {value}",
        "diameter": lambda: f"diameter of circle {fact.labels[0]} = {value}",
        "isosceles": lambda: f"triangle {fact.labels[0]} is isosceles with {fact.labels[1]} = {fact.labels[2]}",
        "rectangle": lambda: f"{fact.labels[0]} is a rectangle",
    }
    if fact.kind not in templates:
        raise ValueError(f"unknown fact kind {fact.kind!r}; known: {', '.join(templates)}")
    return templates[fact.kind]()


# Convenience constructors used by the generator (they keep the canonical spelling in one place).
def length(seg: str, value: float) -> str:
    """``length("AB", 5)`` -> ``"AB = 5"``."""
    return format_fact(Fact("length", (seg,), float(value)))


def angle(name: str, value: float) -> str:
    """``angle("ABC", 40)`` -> ``"angle ABC = 40°"``."""
    return format_fact(Fact("angle", (name,), float(value)))


def parallel(a: str, b: str) -> str:
    """``parallel("AB", "CD")`` -> ``"AB ∥ CD"``."""
    return format_fact(Fact("parallel", (a, b)))


def perpendicular(a: str, b: str) -> str:
    """``perpendicular("AC", "BC")`` -> ``"AC ⊥ BC"``."""
    return format_fact(Fact("perpendicular", (a, b)))


def radius(circle: str, value: float) -> str:
    """``radius("O", 3)`` -> ``"radius of circle O = 3"``."""
    return format_fact(Fact("radius", (circle,), float(value)))


def diameter(circle: str, value: float) -> str:
    """``diameter("O", 6)`` -> ``"diameter of circle O = 6"``."""
    return format_fact(Fact("diameter", (circle,), float(value)))


def isosceles(tri: str, side1: str, side2: str) -> str:
    """``isosceles("ABC", "AB", "AC")`` -> ``"triangle ABC is isosceles with AB = AC"``."""
    return format_fact(Fact("isosceles", (tri, side1, side2)))


def rectangle(quad: str) -> str:
    """``rectangle("ABCD")`` -> ``"ABCD is a rectangle"``."""
    return format_fact(Fact("rectangle", (quad,)))
