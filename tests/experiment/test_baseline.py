"""The image-blind baseline: the train split's most common solution per question, graded like a policy."""

from __future__ import annotations

import json

import pytest

from perception_r1.experiment.baseline import blind_solutions, evaluate_blind


def _row(problem: str, answer: str, cot: str, family: str = "circle", rid: str = "r") -> dict:
    return {"id": rid, "problem": problem, "answer": answer, "cot": cot, "meta": json.dumps({"family": family})}


TRAIN = [
    _row("Find r.", "4", "d = 8, r = 4"),
    _row("Find r.", "4", "d = 8, so r = 4"),
    _row("Find r.", "4", "d = 8, hence r = 4"),
    _row("Find r.", "5", "d = 10, r = 5"),
    _row("Find r.", "5", "d = 10, r = 5"),
    _row("Find d.", "6", "r = 3, d = 6"),
    _row("Find x.", "30", "x = 30", family="triangle_angle_sum"),
]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # the most common answer (4: three rows, three texts) wins over the most common text (answer 5's, twice);
        # among answer 4's texts, all seen once, the earliest
        (_row("Find r.", "?", ""), "d = 8, r = 4"),
        # a question asked in train: its own modal solution, not the family's
        (_row("Find d.", "?", ""), "r = 3, d = 6"),
        # a question never asked in train: the family's modal solution
        (_row("Find the area.", "?", ""), "d = 8, r = 4"),
        # another family's question text never leaks into this family
        (_row("Find y.", "?", "", family="triangle_angle_sum"), "x = 30"),
    ],
)
def test_blind_solution_is_the_modal_train_solution(row: dict, expected: str) -> None:
    assert blind_solutions(TRAIN, [row]) == [expected]


def test_blind_solutions_never_read_the_row_itself() -> None:
    # the row's own answer, solution and images change nothing: the baseline cannot see them
    a = _row("Find r.", "5", "d = 10, r = 5")
    b = {**a, "answer": "9", "cot": "d = 18, r = 9", "images": ["figure"]}
    assert blind_solutions(TRAIN, [a]) == blind_solutions(TRAIN, [b])


def test_unknown_question_and_family_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"row 'odd'.*family 'rectangle'.*train split"):
        blind_solutions(TRAIN, [_row("Find the area.", "?", "", family="rectangle", rid="odd")])


def test_evaluate_blind_grades_like_a_policy(tmp_path) -> None:
    # two test circles: the blind guess (diameter 8 -> radius 4) is right on the first only
    good = {**_row("Find r.", "4", "", rid="t1"), "visual_annotations": ["diameter of circle O = 8"]}
    bad = {**_row("Find r.", "7", "", rid="t2"), "visual_annotations": ["diameter of circle O = 14"]}
    train = [
        _row(
            "Find r.",
            "4",
            "<think>\nFrom the figure, the diameter of circle O = 8.\nSo r = 4.\n</think>\n"
            "<answer>\nThe answer is \\boxed{4}.\n</answer>",
        )
    ]
    summary = evaluate_blind(train, [good, bad], tmp_path)
    assert summary["model"] == "image-blind" and summary["n"] == 2
    assert summary["answer_accuracy"] == 0.5 and summary["perception_accuracy"] == 0.5 and summary["format"] == 1.0
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert [(i["id"], i["perception_correct"]) for i in items] == [("t1", True), ("t2", False)]
    assert (tmp_path / "summary.json").is_file()
