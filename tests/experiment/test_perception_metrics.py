"""Exact perception metrics: stated values, wrong and hallucinated facts, per-problem correctness."""

from __future__ import annotations

import pytest

from perception_r1.data.facts import FactParseError, parse_fact
from perception_r1.experiment.perception_metrics import grade_response, mentioned_quantities, stated_values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # plain statements of each kind; an angle's name read either way round is one quantity
        ("angle BAC = 50° and angle CAB = 50°", [(("angle", "BAC"), 50.0), (("angle", "BAC"), 50.0)]),
        ("AB = 5 and BA = 5.5.", [(("length", "AB"), 5.0), (("length", "AB"), 5.5)]),
        ("radius of circle O = 3, diameter of the circle O is 6", [(("radius", "O"), 3.0), (("diameter", "O"), 6.0)]),
        # LaTeX is normalised first
        (r"$\angle ABC = 40^\circ$ and $\overline{AB} = 7$", [(("angle", "ABC"), 40.0), (("length", "AB"), 7.0)]),
        # a computation is not a stated value: only the name directly followed by a number counts
        ("so angle ACB = 180° - 50° - 60° = 70°", []),
        ("AB = 5 + 3 and AC = 5x and BC = √25", []),
        # an angle is never read as a length (ABC contains AB and BC)
        ("angle ABC = 30", [(("angle", "ABC"), 30.0)]),
        # nothing stated
        ("I cannot see the figure.", []),
    ],
)
def test_stated_values(text: str, expected: list) -> None:
    assert stated_values(text) == expected


def test_mentioned_quantities_collects_names_without_values() -> None:
    # the reference names the asked angle only inside a computation; it is still a known quantity
    found = mentioned_quantities("so angle ACB = 180° - 50° - 60°, and AB is the base; radius of circle O")
    assert {("angle", "ACB"), ("length", "AB"), ("radius", "O")} <= found


@pytest.mark.parametrize(
    ("response", "verdicts", "wrong", "hallucinated", "correct"),
    [
        # every needed fact right, nothing else: perceived correctly
        ("angle BAC = 50° and angle ABC = 60°, so angle ACB = 70°.", [1, 1], 0, 0, True),
        # one needed fact misread: recall 1/2, one wrong fact
        ("angle BAC = 50° and angle ABC = 65°.", [1, 0], 1, 0, False),
        # a needed fact also stated with another value: not credited (as by the reward) and one wrong fact
        ("angle BAC = 50°, angle ABC = 60°, and angle BAC = 55°.", [0, 1], 1, 0, False),
        # the same enumerated in one statement: each other value is a wrong fact
        ("angle BAC = 50° or 55° or 45°, angle ABC = 60°.", [0, 1], 2, 0, False),
        # a sentence-initial capital is a statement too (the metric once missed it while the judge credited it)
        ("Angle BAC = 55°. Angle ABC = 60°.", [0, 1], 1, 0, False),
        # a shown distractor stated with the wrong value counts as wrong
        ("angle BAC = 50°, angle ABC = 60°, AB = 9.", [1, 1], 1, 0, False),
        # the distractor stated right is fine
        ("angle BAC = 50°, angle ABC = 60°, AB = 8.", [1, 1], 0, 0, True),
        # a value for a quantity neither shown nor derivable is a hallucination (not a wrong fact)
        ("angle BAC = 50°, angle ABC = 60°, BD = 4.", [1, 1], 0, 1, True),
        # a wrong derived value is a reasoning error, not a perception error
        ("angle BAC = 50°, angle ABC = 60°, angle ACB = 80°.", [1, 1], 0, 0, True),
        # nothing stated
        ("The answer is 70.", [0, 0], 0, 0, False),
    ],
)
def test_grade_response(response: str, verdicts: list, wrong: int, hallucinated: int, correct: bool) -> None:
    grade = grade_response(
        response,
        ["angle BAC = 50°", "angle ABC = 60°"],
        distractors=["AB = 8"],
        reference="In triangle ABC find angle ACB. angle ACB = 180° - 50° - 60° = 70°.",
    )
    assert (grade.verdicts, grade.wrong, grade.hallucinated, grade.correct) == (verdicts, wrong, hallucinated, correct)
    assert grade.recall == sum(verdicts) / 2


def test_value_free_facts_use_the_rule_matcher() -> None:
    # parallel / perpendicular facts have no value: only the rule matcher's verdict decides
    grade = grade_response("AB ∥ CD and angle EGB = 70°", ["AB ∥ CD", "angle EGB = 70°"])
    assert grade.verdicts == [1, 1] and grade.correct


def test_non_canonical_annotation_is_an_error() -> None:
    # an annotation the exact grader cannot read must fail loudly, never score 0
    with pytest.raises(FactParseError):
        grade_response("AB = 5", ["the side is five"])


def _parallel_problem():
    from perception_r1.data.synth import generate_problems

    return generate_problems(1, seed=0, difficulty=2, families=["parallel_lines"], size=168, letters="fixed")[0]


def test_a_correct_vertical_angle_is_derived_not_hallucinated() -> None:
    # The figure shows one angle where the transversal crosses AB; its vertical angle is determined by it. The
    # reference solution goes through the corresponding angle instead and never names it: a correct statement of
    # it was counted as a hallucination before the generator recorded what the figure determines.
    problem = _parallel_problem()
    given = parse_fact(problem.annotations[1])
    first, vertex, second = given.labels[0]
    vertical = next(
        f for f in map(parse_fact, problem.derived)
        if f.kind == "angle" and f.labels[0][1] == vertex and not set(f.labels[0]) & {first, second}
    )  # fmt: skip
    assert vertical.value == given.value and vertical.labels[0] not in problem.cot
    response = (
        f"{problem.annotations[0]}. angle {given.labels[0]} = {given.value:g}°, so its vertical angle "
        f"{vertical.labels[0]} is also {vertical.value:g}°: angle {vertical.labels[0]} = {vertical.value:g}°."
    )
    reference = f"{problem.problem}\n{problem.cot}"
    grade = grade_response(response, problem.annotations, problem.distractors, reference, derived=problem.derived)
    assert (grade.verdicts, grade.wrong, grade.hallucinated, grade.correct) == ([1, 1], 0, 0, True)
    # without the derived facts (rows made before they existed) the same statement is still a hallucination
    assert grade_response(response, problem.annotations, problem.distractors, reference).hallucinated == 1


@pytest.mark.parametrize(
    ("extra", "hallucinated"),
    [
        ("", 0),  # nothing beyond the needed facts
        ("angle XYZ = 50°.", 1),  # an angle the figure does not have: still a hallucination with derived facts
        ("EF = 9.", 1),  # the transversal's length: not shown, not determined
    ],
)
def test_derived_facts_leave_real_hallucinations_counted(extra: str, hallucinated: int) -> None:
    problem = _parallel_problem()
    response = " ".join([*problem.annotations, extra])
    grade = grade_response(response, problem.annotations, derived=problem.derived)
    assert grade.hallucinated == hallucinated


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_the_generators_own_solutions_are_perceived_correctly(difficulty: int) -> None:
    # The teacher solution states every needed fact once, contradicts nothing, and every other value it states is
    # one the figure determines: even without the reference text, no wrong and no hallucinated fact.
    from perception_r1.data.synth import generate_problems

    for problem in generate_problems(60, seed=5, difficulty=difficulty, size=112):
        grade = grade_response(problem.cot, problem.annotations, problem.distractors, derived=problem.derived)
        assert (grade.correct, grade.wrong, grade.hallucinated) == (True, 0, 0), problem.cot
