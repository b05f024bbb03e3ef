"""Exact perception metrics of one response against the generator's facts (no LLM anywhere).

Three figures per response:

* **fact recall**: the fraction of the problem's needed facts (its ``visual_annotations``) that the response
  states with the right value, decided by the deterministic rule matcher of :mod:`perception_r1.judge.rule`;
* **wrong facts**: value statements about a quantity shown in the figure (a needed fact or a distractor label)
  whose value differs from the figure's;
* **hallucinated facts**: value statements about a quantity that is neither shown in the figure, nor derived in
  the generator's reference solution, nor the quantity asked for.

A response *perceives the problem correctly* when it states every needed fact right and no shown quantity with
a wrong value.

Example:
    >>> g = grade_response("From the figure, angle BAC = 50° and angle ABC = 70°.",
    ...                    ["angle BAC = 50°", "angle ABC = 60°"], reference="angle ACB = 70°")
    >>> g.verdicts, g.wrong, g.correct
    ([1, 0], 1, False)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from perception_r1.data.facts import parse_fact
from perception_r1.judge.rule import normalize_response, rule_verdicts

_NUM = r"(\d+(?:\.\d+)?)"
# A stated value ends where no digit, decimal, variable, power or arithmetic follows ("5x", "5²", "5 + 3").
_END = r"(?![\d.]*\d)(?![A-Za-z(√²³^])(?!\s*°?\s*[+\-*/×·÷^²])"
_IS = r"\s*(?:=|\bis\b|\bequals?\b|\bmeasures?\b)\s*"
_STATEMENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("angle", re.compile(r"\bangle\s*([A-Z]{3})(?![A-Za-z])" + _IS + _NUM + _END)),
    ("radius", re.compile(r"\bradius\s+of\s+(?:the\s+)?circle\s+([A-Z])(?![A-Za-z])" + _IS + _NUM + _END)),
    ("diameter", re.compile(r"\bdiameter\s+of\s+(?:the\s+)?circle\s+([A-Z])(?![A-Za-z])" + _IS + _NUM + _END)),
    ("length", re.compile(r"(?<![A-Za-z])([A-Z]{2})(?![A-Za-z])" + _IS + _NUM + _END)),
)


def _key(kind: str, label: str) -> tuple[str, str]:
    """Order-free identity of a quantity: segment AB = BA, angle ABC = CBA (same vertex)."""
    if kind == "length":
        return kind, "".join(sorted(label))
    if kind == "angle":
        return kind, min(label[0], label[2]) + label[1] + max(label[0], label[2])
    return kind, label


def stated_values(text: str) -> list[tuple[tuple[str, str], float]]:
    """Every ``quantity = number`` statement in ``text``, as ``((kind, label), value)`` in order of appearance.

    A value must follow the quantity's name directly: arithmetic on the right (``angle ACB = 180° - 40°``)
    is a computation, not a stated value. Angles are read before lengths, so ``angle ABC = 40`` is never a
    length statement.
    """
    norm = normalize_response(text)
    found: list[tuple[int, tuple[str, str], float]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _STATEMENTS:
        for m in pattern.finditer(norm):
            if any(s <= m.start() < e for s, e in taken):
                continue
            taken.append(m.span())
            found.append((m.start(), _key(kind, m.group(1)), float(m.group(2))))
    return [(key, value) for _, key, value in sorted(found)]


def mentioned_quantities(text: str) -> set[tuple[str, str]]:
    """Every angle, segment, radius and diameter named in ``text`` (with or without a value)."""
    norm = normalize_response(text)
    out = {_key("angle", m.group(1)) for m in re.finditer(r"\bangle\s*([A-Z]{3})(?![A-Za-z])", norm)}
    out |= {_key("length", m.group(1)) for m in re.finditer(r"(?<![A-Za-z])([A-Z]{2})(?![A-Za-z])", norm)}
    for kind in ("radius", "diameter"):
        pattern = rf"\b{kind}\s+of\s+(?:the\s+)?circle\s+([A-Z])(?![A-Za-z])"
        out |= {(kind, m.group(1)) for m in re.finditer(pattern, norm)}
    return out


def _truth(facts_text: Sequence[str]) -> dict[tuple[str, str], float]:
    out = {}
    for text in facts_text:
        fact = parse_fact(text)
        if fact.value is not None:
            out[_key(fact.kind, fact.labels[0])] = fact.value
    return out


@dataclass(frozen=True)
class PerceptionGrade:
    """Exact perception grade of one response.

    Attributes:
        verdicts: One 0/1 per needed fact (1 = stated with the right value).
        wrong: Statements contradicting a value shown in the figure.
        hallucinated: Value statements about quantities neither shown, derived nor asked for.
    """

    verdicts: list[int]
    wrong: int
    hallucinated: int

    @property
    def recall(self) -> float:
        """Fraction of needed facts stated right (1.0 when the problem needs none)."""
        return sum(self.verdicts) / len(self.verdicts) if self.verdicts else 1.0

    @property
    def correct(self) -> bool:
        """Every needed fact stated right and no shown quantity stated wrong."""
        return all(self.verdicts) and self.wrong == 0


def grade_response(
    response: str,
    annotations: Sequence[str],
    distractors: Sequence[str] = (),
    reference: str = "",
) -> PerceptionGrade:
    """Grade ``response`` against the exact facts of its problem.

    Args:
        response: The policy's response.
        annotations: The needed facts, in the canonical forms of :mod:`perception_r1.data.facts`.
        distractors: True facts shown in the figure that the solution does not need.
        reference: The generator's reference solution and the question: the quantities they name are
            derivable, not hallucinated (their values are not checked here: a wrong derived value is a
            reasoning error, not a perception error).

    Raises:
        FactParseError: an annotation or distractor is not canonical.
    """
    shown = _truth([*annotations, *distractors])
    derivable = mentioned_quantities(reference)
    wrong = hallucinated = 0
    for key, value in stated_values(response):
        if key in shown:
            wrong += not math.isclose(value, shown[key], rel_tol=1e-6, abs_tol=1e-9)
        elif key not in derivable:
            hallucinated += 1
    return PerceptionGrade(rule_verdicts(list(annotations), response), wrong, hallucinated)
