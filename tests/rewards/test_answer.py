import pytest

from perception_r1.rewards.answer import as_choice_letter, choice_map, extract_final_answer, last_boxed


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("<think>\nx\n</think>\n<answer>\n\\boxed{5}\n</answer>", "5"),  # usual case
        # a box inside <think> must not overrule the answer block's box
        # (docs/reference.md#defect-2-answer-regex-without-dotall)
        ("<think>\n\\boxed{3}\n</think>\n<answer>\n\\boxed{2\\sqrt{3}}\n</answer>", "2\\sqrt{3}"),
        # an answer only in <think> earns nothing when the answer block has none (same defect)
        ("<think>\n\\boxed{3}\n</think>\n<answer>\nI am not sure\n</answer>", "I am not sure"),
        ("<answer>\nfirst \\boxed{1} then \\boxed{2}\n</answer>", "2"),  # last box in the block wins
        ("<answer>\n7\n</answer>", "7"),  # block without a box: its text
        ("<answer>a</answer> <answer>\n\\boxed{b}\n</answer>", "b"),  # last answer block wins
        ("no block, but \\boxed{\\frac{1}{2}} here", "\\frac{1}{2}"),  # no block: last box of the response
        ("nothing here", None),  # no final answer at all
        ("<answer>\n\n</answer>", None),  # empty answer block
        ("\\boxed{unclosed", None),  # unbalanced box
        ("\\fbox{9}", "9"),  # \fbox is a box too
    ],
)
def test_extract_final_answer(response, expected):
    assert extract_final_answer(response) == expected


def test_last_boxed_nested_braces():
    assert last_boxed("\\boxed{\\frac{\\sqrt{3}}{2}}") == "\\frac{\\sqrt{3}}{2}"


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (["6", "8"], {"A": "6", "B": "8"}),  # list: letters in order
        ({"a": "6", "B": "8"}, {"A": "6", "B": "8"}),  # mapping: letters upper-cased
        ("A: 6\nB. 8\n(C) 10", {"A": "6", "B": "8", "C": "10"}),  # one option per line
        (None, {}),  # no choices
    ],
)
def test_choice_map(choices, expected):
    assert choice_map(choices) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", "B"),  # bare letter
        ("(c)", "C"),  # parenthesised, lower case
        ("B. 8", "B"),  # letter with its text
        ("Option D", "D"),  # "Option" prefix
        ("\\text{A}", "A"),  # LaTeX text wrapper
        ("A right angle", None),  # a sentence starting with "A" is not a letter
        ("E", None),  # not one of the choices
        ("8", None),  # a value, not a letter
    ],
)
def test_as_choice_letter(answer, expected):
    assert as_choice_letter(answer, {"A": "6", "B": "8", "C": "10", "D": "12"}) == expected
