"""Answer extraction and per-item corrected scoring (``--scoring corrected``), hand-checked cases; the official
scorers are tested in test_eval_official.py."""

from __future__ import annotations

import pytest

from perception_r1.eval.extract import answer_phrase, clean_answer, extract_answer
from perception_r1.eval.prompts import FORMAT_INSTRUCTION, build_prompt
from perception_r1.eval.scoring import score_item
from perception_r1.registry import UnknownNameError
from perception_r1.rewards.mathcheck import MathChecker

CHECKER = MathChecker(isolation="inline")  # inline: no worker process in unit tests


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # the paper's format
        ("<think>\nx\n</think>\n<answer>\nso \\boxed{2\\sqrt{3}}\n</answer>", ("2\\sqrt{3}", "answer_block")),
        # a box inside <think> is ignored when the answer block has one
        # (docs/reference.md#defect-2-answer-regex-without-dotall)
        ("<think>\n\\boxed{3}\n</think>\n<answer>\n\\boxed{5}\n</answer>", ("5", "answer_block")),
        ("<answer>\nThe answer is B.\n</answer>", ("B", "answer_block")),  # plain block reduced by the phrase rule
        ("<answer>\n$12$\n</answer>", ("12", "answer_block")),  # delimiters stripped
        ("work... \\boxed{\\frac{1}{2}} done", ("\\frac{1}{2}", "boxed")),  # no block: last box
        ("The final answer is $\\frac{1}{2}$.", ("\\frac{1}{2}", "phrase")),  # full stop after $...$
        ("Step 1 ...\nAnswer: (C) 60°\nThanks", ("(C) 60°", "phrase")),  # "Answer:" form, to end of line
        ("(A) 3", ("(A) 3", "option_line")),  # a bare option line
        ("B", ("B", "option_line")),  # a bare letter
        ("A right angle", (None, "none")),  # a word starting with A is not an option
        ("**Answer: B**", ("B", "phrase")),  # emphasis around the phrase: not "B**"
        ("So\nAnswer: \\( \\text{D} \\)", ("D", "phrase")),  # LaTeX-wrapped letter
        ("Reasoning...\nAnswer:\nC", ("C", "phrase")),  # the letter on the line after "Answer:"
        ("**Answer:**\n\nE", ("E", "phrase")),  # bold label, blank line, then the letter
        ("<Answer>: C", ("C", "phrase")),  # We-Math's official answer template
        ("3", ("3", "bare")),  # a bare number
        ("60.", ("60", "bare")),  # a bare number with a full stop
        ("551 Hz", ("551 Hz", "bare")),  # a bare number with a unit
        ("Option A", ("Option A", "bare")),  # "Option X"
        ("b", ("b", "bare")),  # a lower-case letter
        ("\\boxed{(1) 20 cm}", ("20 cm", "boxed")),  # the sub-question label "(1)" is not a factor
        ("I think it is a dog", (None, "none")),  # a sentence without an answer phrase stays unread
        ("", (None, "none")),  # empty response
        (None, (None, "none")),  # missing response
    ],
)
def test_extract_answer(response, expected) -> None:
    assert extract_answer(response) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**B**", "B"),  # markdown bold
        ("\\text{east}", "east"),  # \text{} wrapper
        ("\\(x+1\\)", "x+1"),  # inline math delimiters
    ],
)
def test_clean_answer(text: str, expected: str) -> None:
    assert clean_answer(text) == expected


def test_answer_phrase_uses_box_inside_phrase() -> None:
    assert answer_phrase("Final answer: \\boxed{7} (units)") == "7"


MV_MC = {"question_type": "multi_choice", "answer_type": "text"}
MV_INT = {"question_type": "free_form", "answer_type": "integer"}
MV_FLOAT1 = {"question_type": "free_form", "answer_type": "float", "precision": 1.0}
MV_FLOAT2 = {"question_type": "free_form", "answer_type": "float", "precision": 2.0}
MV_LIST = {"question_type": "free_form", "answer_type": "list"}
CH3 = {"A": "3", "B": "4.5", "C": "5"}


@pytest.mark.parametrize(
    ("pred", "gold", "choices", "meta", "expected"),
    [
        ("B", "4.5", CH3, MV_MC, True),  # letter -> choice text
        ("(B) 4.5", "4.5", CH3, MV_MC, True),  # letter with its text
        ("A", "4.5", CH3, MV_MC, False),  # wrong letter
        ("4.5", "4.5", CH3, MV_MC, True),  # the choice text itself
        ("4.4", "4.5", CH3, MV_MC, False),  # names no option: wrong (official guesses the nearest option)
        ("(A), (B)", "4.5", CH3, MV_MC, False),  # several options named: wrong
        ("7.0", "7", {}, MV_INT, True),  # integer: str(int(float(x)))
        ("7 sides", "7", {}, MV_INT, True),  # one number with a unit
        ("8", "7", {}, MV_INT, False),  # wrong integer
        ("4/3", "1", {}, MV_INT, False),  # 4/3 is not the integer 1 (official truncates to 1)
        ("the value of f(0)", "0", {}, MV_INT, False),  # the 0 of f(0) is not an answer
        ("7.9", "7", {}, MV_INT, False),  # no truncation
        ("1.46", "1.5", {}, MV_FLOAT1, True),  # rounded to precision 1
        ("1.44", "1.5", {}, MV_FLOAT1, False),  # rounds to 1.4
        ("\\frac{1}{4}", "0.25", {}, MV_FLOAT2, True),  # fraction evaluated, precision 2
        ("0.2", "0.25", {}, MV_FLOAT2, False),  # 0.20 != 0.25
        ("25%", "0.25", {}, MV_FLOAT2, False),  # a percent is not rescaled (official behaviour)
        ("[2007, 2008]", "[2007, 2008]", {}, MV_LIST, True),  # list equality
        ("2007, 2008", "[2007, 2008]", {}, MV_LIST, True),  # brackets optional
        ("[2008, 2007]", "[2007, 2008]", {}, MV_LIST, False),  # order matters
        ("east", "East", {}, {"question_type": "free_form", "answer_type": "text"}, True),  # text: case-insensitive
    ],
)
def test_mathvista_official_rules(pred: str, gold: str, choices: dict, meta: dict, expected: bool) -> None:
    assert score_item("mathvista", pred, gold, choices, meta, CHECKER) is expected


OPTS = {"A": "30°", "B": "45°", "C": "\\frac{1}{2}", "D": "a right angle"}


@pytest.mark.parametrize(
    ("pred", "gold", "choices", "expected"),
    [
        ("B", "B", OPTS, True),  # letter
        ("(B)", "B", OPTS, True),  # parenthesised letter
        ("B. 45°", "B", OPTS, True),  # letter with text
        ("45°", "B", OPTS, True),  # option text instead of the letter
        ("0.5", "C", OPTS, True),  # mathematically equal to option C's text
        ("a right angle", "D", OPTS, True),  # non-math option text
        ("A", "B", OPTS, False),  # wrong letter
        ("F", "B", OPTS, False),  # letter outside the options
        ("2\\sqrt{3}", "\\sqrt{12}", {}, True),  # free-form via math-verify, gold wrapped first
        ("12", "12\\pi", {}, False),  # 12 is not 12pi (an unwrapped gold reads as 12)
        ("150", "150", {}, True),  # plain equality
        ("9.80", "9.8", {}, True),  # numeric equality
        ("B", "4", {"A": "3", "B": "4"}, True),  # letter against a gold option text
        ("B", "b", OPTS, True),  # lower-case gold letter (EMMA rows)
        ("b", "B", OPTS, True),  # lower-case answer letter
        ("Option B", "B", OPTS, True),  # "Option X"
        ("(A), (B), and (C)", "A", OPTS, False),  # several letters: names no single option
        ("A and B", "A", OPTS, False),  # several letters without brackets
        ("551 Hz", "551", {}, True),  # a unit after the number
        ("The frequency is 551 Hz", "551", {}, True),  # one number in a sentence
        ("f(0) = 3", "0", {}, False),  # the argument of f is not the answer
        ("24/7", "['24/7', '3.429']", {}, True),  # a list gold: any accepted form
        ("3.429", "['24/7', '3.429']", {}, True),  # ... the other form
        ("3.43", "['24/7', '3.429']", {}, False),  # numbers must be equal exactly, not to 2 decimals
        ("12.004", "12", {}, False),  # exact (official MMMU/EMMA/MATH-Vision accept 2-decimal equality)
        ("20 cm", "20", {}, True),  # "(1) 20 cm" after cleaning
    ],
)
def test_choice_or_math(pred: str, gold: str, choices: dict, expected: bool) -> None:
    assert score_item("choice_or_math", pred, gold, choices, {}, CHECKER) is expected


@pytest.mark.parametrize("pred", [None, "", "   "])  # no answer is wrong, never an error
def test_no_answer_is_wrong(pred) -> None:
    assert score_item("choice_or_math", pred, "B", OPTS, {}, CHECKER) is False


def test_unknown_scorer() -> None:
    with pytest.raises(UnknownNameError, match="known: choice_or_math, mathvista"):
        score_item("official", "B", "B", OPTS, {}, CHECKER)


def test_prompt_layout() -> None:
    from perception_r1.eval.data import EvalItem

    with_choices = build_prompt(EvalItem("1", "mathvista", "Q?", {"A": "3", "B": "4"}, "4"))
    assert with_choices == f"Q?\nChoices:\n(A) 3\n(B) 4\n{FORMAT_INSTRUCTION}"
    # MMStar lists its options in the question: not repeated; letter-only options (image) are not listed
    assert build_prompt(EvalItem("1", "mmstar", "Q?\nOptions: A: x", {"A": "x"}, "A")).count("A: x") == 1
    assert "Choices" not in build_prompt(EvalItem("1", "mathvision", "Q?", {"A": "A", "B": "B"}, "A"))
    assert build_prompt(EvalItem("1", "mmmu_pro", "", {}, "A")).startswith("Answer the question shown in the image.")
    for tag in ("<think>", "</think>", "<answer>", "</answer>", "\\boxed{}"):
        assert tag in FORMAT_INSTRUCTION


@pytest.mark.parametrize(
    ("scorer", "response", "gold", "choices", "expected"),
    [
        # MMStar: the answer after reasoning counts (official judges the first character, "<")
        ("choice_or_math", "<think>\nhm\n</think>\n<answer>\nB\n</answer>", "B", OPTS, True),
        # EMMA: "3.5 m" is read whole (official cuts at the first full stop: "3")
        ("choice_or_math", "The final answer is 3.5 m.", "3.5", {}, True),
        # MMMU: nothing read is wrong, never a random letter
        ("choice_or_math", "I cannot tell.", "A", OPTS, False),
        # MMMU-Pro: bold phrase
        ("choice_or_math", "Reasoning.\n**Answer: B**", "B", OPTS, True),
        # MATH-Vision: several letters name no single option (official reads the last, E)
        ("choice_or_math", "Thus, the correct answer is (A), (C), and (E).", "A", OPTS, False),
        # MATH-Vision: sub-question label dropped
        ("choice_or_math", "So \\boxed{(1) 20 cm}", "20", {}, True),
        # We-Math: the official template
        ("choice_or_math", "It is C.\n<Answer>: C", "C", OPTS, True),
        # a bare lower-case letter
        ("choice_or_math", "b", "B", OPTS, True),
    ],
)
def test_corrected_response_level(scorer: str, response: str, gold: str, choices: dict, expected: bool) -> None:
    pred, _ = extract_answer(response)
    assert score_item(scorer, pred, gold, choices, {}, CHECKER) is expected
