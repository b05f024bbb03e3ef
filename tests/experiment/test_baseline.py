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


def _mc_row(stem: str, options: list[str], letter: str, facts: str = "angle BAC = 50°", rid: str = "m") -> dict:
    """A testbed-like multiple-choice row: the question lists its options, the solution ends with the letter."""
    listed = "\n".join(f"({L}) {o}" for L, o in zip("ABCD", options, strict=True))
    value = options["ABCD".index(letter)]
    cot = (
        f"<think>\nFrom the figure, {facts}.\nSo the answer is {value}, which is option ({letter}).\n</think>\n"
        f"<answer>\nThe answer is \\boxed{{{letter}}}.\n</answer>"
    )
    problem = f"{stem}\nChoices:\n{listed}\nAnswer with the letter of the correct option."
    meta = json.dumps({"family": "triangle_angle_sum"})
    return {"id": rid, "problem": problem, "answer": letter, "cot": cot, "choices": options, "meta": meta}


MC_TRAIN = [
    _mc_row("Find x.", ["58", "60", "62", "64"], "B", "angle BAC = 70°"),  # 60, three times, in other positions
    _mc_row("Find x.", ["60", "62", "64", "66"], "A", "angle BAC = 70°"),
    _mc_row("Find x.", ["54", "56", "58", "60"], "D", "angle BAC = 70°"),
    _mc_row("Find x.", ["62", "64", "66", "68"], "A", "angle BAC = 68°"),  # 62 once
    _mc_row("Find y.", ["10", "12", "14", "16"], "C", "angle ABC = 40°"),  # another question: 14
]


@pytest.mark.parametrize(
    ("row", "letter", "stated"),
    [
        # the option most often the answer to the same question in train (60, thrice), whatever its letter here,
        # with that value's most common solution, made to name this row's option
        (_mc_row("Find x.", ["62", "64", "60", "66"], "A"), "C", "angle BAC = 70°"),
        # 62 (once) beats the never-seen options
        (_mc_row("Find x.", ["68", "62", "70", "72"], "A"), "B", "angle BAC = 68°"),
        # no option ever an answer to this question: the first letter (right 1 time in 4, the letters being uniform)
        (_mc_row("Find x.", ["90", "92", "94", "96"], "D"), "A", "angle BAC = 70°"),
        # a question train never asked: its family's answers decide (14 from the other question)
        (_mc_row("Find z.", ["12", "14", "16", "18"], "A"), "B", "angle ABC = 40°"),
    ],
)
def test_blind_multiple_choice_picks_the_option_most_often_the_answer(row: dict, letter: str, stated: str) -> None:
    (response,) = blind_solutions(MC_TRAIN, [row])
    value = row["choices"]["ABCD".index(letter)]
    assert response.endswith(f"So the answer is {value}, which is option ({letter}).\n</think>\n<answer>\nThe "
                             f"answer is \\boxed{{{letter}}}.\n</answer>")  # fmt: skip
    assert stated in response


def test_blind_multiple_choice_never_reads_the_gold_letter() -> None:
    a = _mc_row("Find x.", ["62", "64", "60", "66"], "A")
    assert blind_solutions(MC_TRAIN, [a]) == blind_solutions(MC_TRAIN, [{**a, "answer": "C", "cot": "?"}])


def test_blind_multiple_choice_is_graded_on_letters(tmp_path) -> None:
    # the blind pick (60) is option C: right where C is the gold letter, wrong where it is A
    right = {**_mc_row("Find x.", ["62", "64", "60", "66"], "C", rid="t1"), "visual_annotations": ["angle BAC = 70°"]}
    wrong = {**_mc_row("Find x.", ["62", "64", "60", "66"], "A", rid="t2"), "visual_annotations": ["angle BAC = 72°"]}
    summary = evaluate_blind(MC_TRAIN, [right, wrong], tmp_path)
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert [(i["answer_correct"], i["perception_correct"]) for i in items] == [(1.0, True), (0.0, False)]
    assert summary["answer_accuracy"] == 0.5 and summary["format"] == 1.0
