"""The one statement grammar: the rule judge (the perception reward) and the exact metrics read it alike.

The gaming table is the contract: for every way of stating a value more than once, the rule judge's credit, the
metric's verdict and the metric's wrong-value count must agree with each other and with the expected outcome.
"""

from __future__ import annotations

import pytest

from perception_r1.experiment.perception_metrics import grade_response
from perception_r1.judge.fact_grammar import (
    named_quantities,
    same_quantity,
    stated_consistently,
    stated_values,
    value_statements,
)
from perception_r1.judge.rule import rule_verdicts

# (fact, response, credited, wrong values stated for the fact's quantity)
GAMING = [
    # --- enumeration: several values for one quantity earn nothing ---
    ("angle ABC = 40°", "angle ABC = 30°. angle ABC = 40°. angle ABC = 50°.", 0, 2),  # one statement per value
    ("radius of circle O = 3", "r = 2, r = 3, r = 4", 0, 2),  # the symbol form
    ("AB = 5", "AB = 4, 5 or 6", 0, 2),  # one statement, a comma list
    ("radius of circle O = 3", "radius of circle O = 3 and the radius is 4", 0, 1),  # named and unnamed circle
    ("AB = 5", "AB = 5. BA = 6.", 0, 1),  # the same segment read the other way round
    ("angle ABC = 40°", "angle ABC = 40° and angle CBA = 50°", 0, 1),  # the same angle, rays swapped
    ("AB = 5", "AB = AC = 5, and AB = 6", 0, 1),  # a chain, then another value
    # --- either/or ---
    ("angle ABC = 40°", "Angle ABC is either 40° or 140°.", 0, 1),  # in one statement
    ("angle ABC = 40°", "Either angle ABC = 40° or angle ABC = 140°.", 0, 1),  # two statements
    ("angle ABC = 40°", "angle ABC = 40° (or 140°)", 0, 1),  # a parenthesised alternative
    # --- hedged ---
    ("angle ABC = 40°", "angle ABC is maybe 40°, maybe 50°", 0, 1),  # hedged alternatives
    ("angle ABC = 40°", "angle ABC could be 40° or perhaps 50°", 0, 1),  # modal verb, hedged alternative
    ("angle ABC = 40°", "angle ABC is about 40 degrees", 1, 0),  # a hedge on one value still states it
    # --- ranges ---
    ("AB = 5", "AB is between 4 and 6", 0, 2),  # neither end is the value
    ("AB = 5", "AB = 5 to 6", 0, 1),  # "to"
    ("angle ABC = 40°", "angle ABC = 40°–50°", 0, 1),  # an en dash
    ("AB = 5", "AB = 5 ± 1", 0, 2),  # both ends of ±
    ("AB = 5", r"$AB = 5 \pm 0$", 1, 0),  # ± 0 adds no other value
    # --- consistent restatements keep the credit ---
    ("AB = 5", "AB = 5. Later, BA is 5 cm.", 1, 0),  # the same value twice
    ("AB = 5", "AB: 5, so AB equals 5 and AB has length 5", 1, 0),  # equivalent verbs
    ("angle ABC = 40°", "angle CBA measures 40 degrees, i.e. angle ABC is equal to 40°", 1, 0),  # more verbs
    ("radius of circle O = 3", "The radius of the circle is 3, so r = 3 and radius OA = 3", 1, 0),  # radius forms
    ("diameter of circle O = 6", "d = 6: the diameter of circle O has length 6", 1, 0),  # diameter forms
    # --- a different quantity with a different value does not cancel ---
    ("AB = 5", "AB = 5 and AC = 7", 1, 0),  # another segment
    ("angle ABC = 40°", "angle ABC = 40°, so angle ABD = 140°", 1, 0),  # another angle at the same vertex
    ("radius of circle O = 3", "r = 3 and d = 6", 1, 0),  # radius and diameter are two quantities
    ("radius of circle O = 3", "radius of circle O = 3, radius of circle P = 5", 1, 0),  # another circle
    ("angle ABC = 40°", "angle ABC = 40°, so angle ACB = 180° - 40° - 60° = 80°", 1, 0),  # a computation
    # --- decimals vs integers ---
    ("AB = 5", "AB = 5.0 and BA = 5.00", 1, 0),  # equal numbers
    ("AB = 2.5", "AB = 2.5, AB = 2.6", 0, 1),  # a different decimal
    ("AB = 5", "AB = 5.5", 0, 1),  # a decimal sharing the integer part
    # --- units ---
    ("AB = 5", "AB = 5 cm. AB = 5 units.", 1, 0),  # units are not values
    ("angle ABC = 40°", "angle ABC = 40 and angle ABC = 40 degrees", 1, 0),  # with and without the degree sign
    ("AB = 5", "AB = 5 cm and AB = 50 mm", 0, 1),  # units are not converted: two values
    # --- plain cases ---
    ("AB = 5", "AB = 6", 0, 1),  # a wrong value
    ("AB = 5", "The answer is 5.", 0, 0),  # nothing stated about AB
]


@pytest.mark.parametrize(("fact", "response", "credited", "wrong"), GAMING)
def test_rule_judge_and_metric_agree_on_gaming_strategies(fact: str, response: str, credited: int, wrong: int) -> None:
    grade = grade_response(response, [fact])
    assert rule_verdicts([fact], response) == [credited]
    assert grade.verdicts == [credited]
    assert grade.wrong == wrong
    # the agreement itself: a stated value fact is credited exactly when no wrong value is stated for it
    stated = any(s.quantities for s in value_statements(response))
    assert bool(credited) == (stated and grade.wrong == 0 and grade.correct)


# Every verb the judge credits, and whether the metric then sees a wrong value in the same phrasing.
VERBS = ["{q} = {v}", "{q}={v}", "{q}: {v}", "{q} is {v}", "{q} equals {v}", "{q} is equal to {v}",
         "{q} measures {v}", "{q} has length {v}", "{q} has a length of {v}", "{q} of length {v}", "{q} ≈ {v}",
         "{q} could be {v}"]  # fmt: skip
SUBJECTS = [
    ("AB = 5", "AB", "5", "6"),  # a length
    ("angle ABC = 40°", "angle ABC", "40°", "50 degrees"),  # an angle
    ("radius of circle O = 3", "the radius", "3", "4"),  # an unnamed radius
    ("radius of circle O = 3", "r", "3", "4"),  # the radius symbol
    ("diameter of circle O = 6", "the diameter of circle O", "6", "8"),  # a named diameter
]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(("fact", "subject", "right", "wrong_value"), SUBJECTS)
def test_every_phrasing_the_judge_credits_the_metric_checks(fact, subject, right, wrong_value, verb) -> None:
    correct = verb.format(q=subject, v=right)
    contradicted = f"{correct}. Also {verb.format(q=subject, v=wrong_value)}."
    assert rule_verdicts([fact], correct) == [1] and grade_response(correct, [fact]).wrong == 0
    assert rule_verdicts([fact], contradicted) == [0] and grade_response(contradicted, [fact]).wrong == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # alternatives belong to the statement; the chain states both names
        ("Angle ABC is either 40° or 140°", [(("angle", "ABC"), 40.0), (("angle", "ABC"), 140.0)]),
        ("AB = AC = 5 cm", [(("length", "AB"), 5.0), (("length", "AC"), 5.0)]),
        # "and" continues a range only after "between"
        ("AB = 5 and 7 is prime", [(("length", "AB"), 5.0)]),
        ("AB is between 4 and 6", [(("length", "AB"), 4.0), (("length", "AB"), 6.0)]),
        # computations, products and radicals are not stated values
        ("angle ACB = 180° - 40° - 60° = 80°", []),
        ("BC is 2 times AB; AB = 5x; AC = 5√2; AD = 5/2", []),
        # a named radius segment is a radius, not a length; the symbol r is an unnamed radius
        ("radius OA = 3 and r = 3", [(("radius", ""), 3.0), (("radius", ""), 3.0)]),
        # capitalised at the start of a sentence (the metric once missed it)
        ("Angle ABC = 40°.", [(("angle", "ABC"), 40.0)]),
    ],
)
def test_stated_values(text: str, expected: list) -> None:
    assert stated_values(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("radius", ""), ("radius", "O"), True),  # an unnamed circle's radius is any circle's
        (("radius", "P"), ("radius", "O"), False),  # two named circles
        (("radius", "O"), ("diameter", "O"), False),  # two kinds
        (("length", "AB"), ("length", "AB"), True),  # equal
        (("length", ""), ("length", "AB"), False),  # only circles may be unnamed
    ],
)
def test_same_quantity(a, b, same: bool) -> None:
    assert same_quantity(a, b) is same


def test_stated_consistently_needs_a_statement() -> None:
    # nothing stated is not "consistent": a fact never mentioned earns nothing
    assert not stated_consistently(("length", "AB"), 5.0, value_statements("AC = 5"))
    assert stated_consistently(("length", "AB"), 5.0, value_statements("BA = 5.0 and AB is 5"))


def test_named_quantities_without_values() -> None:
    found = named_quantities("so Angle ACB = 180° - 50° - 60°, and AB is the base; radius of circle O; the diameter")
    assert {("angle", "ACB"), ("length", "AB"), ("radius", "O"), ("diameter", "")} <= found
