import pickle

import pytest

from perception_r1.rewards import get_reward
from perception_r1.rewards.format import FormatReward

GOOD = "<think>\nreasoning\n</think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (GOOD, 1.0),  # canonical structure
        ("<think>\na\nb\n</think>\n<answer>\nx\n\\boxed{2\\sqrt{3}}\nmore\n</answer>", 1.0),  # multi-line blocks
        (" " + GOOD, 0.0),  # leading whitespace: full match required
        (GOOD + "\n", 0.0),  # trailing newline after </answer>: full match required
        (GOOD.replace("<think>\n", "<think>"), 0.0),  # newline after <think> is mandatory
        (GOOD.replace("\n</answer>", "</answer>"), 0.0),  # newline before </answer> is mandatory
        ("<think>\nr\n</think>\n<answer>\n12\n</answer>", 0.0),  # no \boxed{} in the answer
        ("<think>\nr\n</think>\n<answer>\n\\boxed{}\n</answer>", 0.0),  # empty box: .+? needs one character
        ("<think>\n\\boxed{1}\n</think>\n<answer>\nnone\n</answer>", 0.0),  # box only inside <think>
        ("<think>\na\n</think>\nb\n</think>\n<answer>\n\\boxed{1}\n</answer>", 1.0),  # lazy .*? spans a 2nd </think>
        ("<answer>\n\\boxed{1}\n</answer>", 0.0),  # no think block
        ("", 0.0),  # empty response
    ],
)
def test_think_answer_template(response, expected):
    assert FormatReward()([response]) == [expected]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (GOOD, 1.0),  # canonical structure
        ("<think>\na\nb\n</think>\n<answer>\nx\n\\boxed{2\\sqrt{3}}\nmore\n</answer>", 1.0),  # multi-line, braces
        ("<think>\nangle <ABC, 3 < 4\n</think>\n<answer>\n\\boxed{1}\n</answer>", 1.0),  # a '<' that is no tag
        ("<think>\na\n</think>\nb\n</think>\n<answer>\n\\boxed{1}\n</answer>", 0.0),  # a second </think>
        ("<think>\n<think>\na\n</think>\n<answer>\n\\boxed{1}\n</answer>", 0.0),  # a nested <think>
        ("<think>\na\n</think>\n<answer>\n<answer>\n\\boxed{1}\n</answer>", 0.0),  # <answer> twice
        ("<think>\na\n</think>\n<answer>\n\\boxed{1}\n</answer>\n</answer>", 0.0),  # </answer> twice
        ("<think>\na\n</think>\n<answer>\n\\boxed{1</answer>}\n</answer>", 0.0),  # a tag inside the box
        ("<think>\na\n</think>\n<answer>\n\\boxed{1}\n</think>\n</answer>", 0.0),  # </think> in the answer
        (GOOD + "\n", 0.0),  # trailing newline: full match, as the reference template
        ("<think>\nr\n</think>\n<answer>\n\\boxed{}\n</answer>", 0.0),  # empty box
    ],
)
def test_strict_template_takes_each_tag_once(response, expected):
    # The responses the lenient reference regex also accepts (repeated tags) are exactly what a policy that
    # cannot solve the task learns to write; the strict template refuses them and keeps everything else.
    assert get_reward("format", template="think_answer_strict")([response]) == [expected]


def test_perception_template_variant():
    # The reference code's variant asks for a <perception> block first.
    text = "<perception>\nAB = 5\n</perception>\n" + GOOD
    assert get_reward("format", template="perception_think_answer")([text, GOOD]) == [1.0, 0.0]


def test_custom_pattern_and_unknown_template():
    assert FormatReward(pattern=r"^\\boxed{.+}$")(["\\boxed{1}"]) == [1.0]
    with pytest.raises(KeyError, match="think_answer"):
        FormatReward(template="think_answr")


def test_conversational_completion_and_pickle():
    reward = pickle.loads(pickle.dumps(FormatReward()))
    conv = [
        [{"role": "assistant", "content": GOOD}],
        [{"role": "assistant", "content": [{"type": "text", "text": GOOD}]}],
    ]
    assert reward(conv) == [1.0, 1.0]
    assert reward.__name__ == "format"


def test_format_instruction_asks_for_what_the_reward_checks():
    from perception_r1 import templates
    from perception_r1.rewards import format as format_module

    assert format_module.FORMAT_INSTRUCTION is templates.FORMAT_INSTRUCTION  # one definition, next to the reward
    for tag in ("<think>", "</think>", "<answer>", "</answer>", "\\boxed{}"):
        assert tag in templates.FORMAT_INSTRUCTION


def test_the_share_of_responses_that_repeat_a_tag_is_logged() -> None:
    logged: dict[str, float] = {}
    twice = GOOD.replace("<answer>\n", "<answer>\n<answer>\n")
    rewards = FormatReward()([GOOD, twice, "no tags", twice], log_metric=logged.__setitem__)
    # the lenient reference template rewards the repeated tag; the metric shows how often it happens
    assert rewards == [1.0, 1.0, 0.0, 1.0]
    assert logged == {"format/repeated_tags": 0.5}
    # outside a trainer (no hook) nothing is logged and nothing fails
    assert FormatReward()([twice]) == [1.0]
