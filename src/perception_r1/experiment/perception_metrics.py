"""Exact perception metrics of one response against the generator's facts (no LLM anywhere).

Three figures per response, all read through the one statement grammar of
:mod:`perception_r1.judge.fact_grammar` that the ``rule`` judge (the perception reward) reads too:

* **fact recall**: the fraction of the problem's needed facts (its ``visual_annotations``) that the rule judge
  credits: stated with the right value and with no other value for the same quantity;
* **wrong facts**: stated values of a quantity shown in the figure (a needed fact or a distractor label) that
  differ from the figure's; each alternative counts (``angle ABC = 40° or 50°`` for a 40° angle: one wrong);
* **hallucinated facts**: stated values of a quantity that is neither shown in the figure, nor determined by it
  (the generator's ``derived`` facts: e.g. all eight angles at the crossings of two parallels and a
  transversal), nor named in the generator's reference solution or the question.

A response *perceives the problem correctly* when the rule judge credits every needed fact and no shown quantity
is stated with a wrong value. A needed fact stated with its value and another value is not credited *and* counts
as wrong: reward and metric agree on every statement.

Example:
    >>> g = grade_response("From the figure, angle BAC = 50° and angle ABC = 70°.",
    ...                    ["angle BAC = 50°", "angle ABC = 60°"], reference="angle ACB = 70°")
    >>> g.verdicts, g.wrong, g.correct
    ([1, 0], 1, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perception_r1.data.facts import parse_fact
from perception_r1.judge.fact_grammar import (
    Quantity,
    named_quantities,
    normalize_response,
    quantity,
    same_quantity,
    stated_values,
    statement_values,
    value_statements,
    values_equal,
)
from perception_r1.judge.rule import rule_verdicts

__all__ = ["GRADER_VERSION", "PerceptionGrade", "grade_response", "mentioned_quantities", "stated_values"]

# Stamped on every graded item and evaluation summary; bump it with any change (here, in the rule judge or in the
# statement grammar) that can change a grade, so that stored grades are recomputed from their responses. Items
# without a stamp were graded before the shared grammar (a contradicted fact still earned credit then).
GRADER_VERSION = "fact-grammar-1"


def mentioned_quantities(text: str) -> set[Quantity]:
    """Every angle, segment, radius and diameter named in ``text`` (with or without a value)."""
    return named_quantities(text)


def _truth(facts_text: Sequence[str]) -> dict[Quantity, float]:
    out = {}
    for text in facts_text:
        fact = parse_fact(text)
        if fact.value is not None:
            out[quantity(fact.kind, fact.labels[0])] = fact.value
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
    derived: Sequence[str] = (),
) -> PerceptionGrade:
    """Grade ``response`` against the exact facts of its problem.

    Args:
        response: The policy's response.
        annotations: The needed facts, in the canonical forms of :mod:`perception_r1.data.facts`.
        distractors: True facts shown in the figure that the solution does not need.
        reference: The generator's reference solution and the question: the quantities they name are
            derivable, not hallucinated.
        derived: Canonical facts the figure determines without showing them (the generator's ``meta.derived``;
            rows made before it existed have none, and then only ``reference`` says what is derivable).
            Values of derivable quantities are not checked here: a wrong derived value is a reasoning error,
            not a perception error.

    Raises:
        FactParseError: an annotation, distractor or derived fact is not canonical.
    """
    shown = _truth([*annotations, *distractors])
    derivable = mentioned_quantities(reference) | set(_truth(derived))
    text = normalize_response(response)
    statements = value_statements(text, normalized=True)  # parsed once, for the verdicts and the value checks
    wrong = hallucinated = 0
    for key, value in statement_values(statements):
        truths = [v for q, v in shown.items() if same_quantity(key, q)]
        if truths:
            wrong += not any(values_equal(value, v) for v in truths)
        elif not any(same_quantity(key, q) for q in derivable):
            hallucinated += 1
    return PerceptionGrade(rule_verdicts(list(annotations), text, statements), wrong, hallucinated)
