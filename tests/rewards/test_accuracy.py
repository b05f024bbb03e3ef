import asyncio
import pickle
import threading

import pytest

from perception_r1.rewards import get_reward
from perception_r1.rewards.accuracy import AccuracyReward


def boxed(answer: str) -> str:
    return f"<think>\nwork\n</think>\n<answer>\n\\boxed{{{answer}}}\n</answer>"


@pytest.fixture(scope="module")
def reward():
    # One worker process for the whole module keeps the suite fast; it is the default isolation mode.
    r = AccuracyReward()
    yield r
    r.close()


@pytest.mark.parametrize(
    ("response", "gold", "choices", "expected"),
    [
        # radical and pi gold answers must keep their factors (docs/reference.md#defect-1-gold-answers-parsed-bare)
        (boxed("2\\sqrt{3}"), "2\\sqrt{3}", None, 1.0),  # same radical
        (boxed("\\sqrt{12}"), "2\\sqrt{3}", None, 1.0),  # equivalent radical
        (boxed("2"), "2\\sqrt{3}", None, 0.0),  # the leading number alone is wrong
        (boxed("12"), "12\\pi", None, 0.0),  # 12 is not 12*pi
        (boxed("12\\pi"), "12\\pi", None, 1.0),  # 12*pi
        (boxed("\\frac{1}{2}\\sqrt{3}"), "\\frac{\\sqrt{3}}{2}", None, 1.0),  # fraction of a radical
        # only the answer block counts (docs/reference.md#defect-2-answer-regex-without-dotall)
        ("<think>\n\\boxed{5}\n</think>\n<answer>\nNot sure\n</answer>", "5", None, 0.0),  # answer only in think
        ("<think>\n\\boxed{4}\n</think>\n<answer>\n\\boxed{5}\n</answer>", "5", None, 1.0),  # think box can't overrule
        ("<answer>\nThe result is 5\n</answer>", "5", None, 1.0),  # unboxed answer block is read
        ("So the answer is \\boxed{5}", "5", None, 1.0),  # no block: last box
        ("I give up", "5", None, 0.0),  # no final answer: a real 0
        # numbers, degrees, units
        (boxed("12.0"), "12", None, 1.0),  # integer vs decimal
        (boxed("0.5"), "\\frac{1}{2}", None, 1.0),  # decimal vs fraction
        (boxed("40^\\circ"), "40", None, 1.0),  # degree mark on the prediction
        (boxed("40°"), "40", None, 1.0),  # unicode degree sign on the prediction
        (boxed("40"), "40°", None, 1.0),  # unicode degree sign on the gold
        (boxed("5 \\text{ cm}"), "5", None, 1.0),  # unit text
        (boxed("6"), "5", None, 0.0),  # plainly wrong
        # multiple choice
        (boxed("B"), "8", ["6", "8", "10"], 1.0),  # letter -> option text equals the gold value
        (boxed("(B)"), "B", ["6", "8", "10"], 1.0),  # letter vs letter
        (boxed("C"), "B", ["6", "8", "10"], 0.0),  # wrong letter
        (boxed("8"), "B", ["6", "8", "10"], 1.0),  # option text vs gold letter
        (boxed("B"), "8", None, 0.0),  # no choices: a letter is just a wrong answer
        # the synthetic testbed's multiple-choice rows (data.multiple_choice): gold the letter, options A-D
        (boxed("C"), "C", ["62", "60", "64", "66"], 1.0),  # the right letter
        (boxed("A"), "C", ["62", "60", "64", "66"], 0.0),  # a wrong letter (a nearby value)
        (boxed("64"), "C", ["62", "60", "64", "66"], 1.0),  # the right option's text
        (boxed("64^\\circ"), "C", ["62", "60", "64", "66"], 1.0),  # ... in degrees
        (boxed("62"), "C", ["62", "60", "64", "66"], 0.0),  # another option's text
        (boxed("(C) 64"), "C", ["62", "60", "64", "66"], 1.0),  # letter and text
        (boxed("E"), "C", ["62", "60", "64", "66"], 0.0),  # a letter that is no option
        (boxed("12\\pi"), "B", ["10\\pi", "12\\pi", "14\\pi", "16\\pi"], 1.0),  # an option in terms of pi
        (boxed("12"), "B", ["10\\pi", "12\\pi", "14\\pi", "16\\pi"], 0.0),  # 12 is not 12*pi
    ],
)
def test_accuracy_cases(reward, response, gold, choices, expected):
    assert reward([response], answer=[gold], choices=[choices]) == [expected]


@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        (None, None),  # no ground truth: not applicable
        ("", None),  # empty ground truth: not applicable
    ],
)
def test_missing_gold_is_none(reward, gold, expected):
    assert reward([boxed("1")], answer=[gold]) == [expected]


def test_conversational_completions_and_missing_choices_column(reward):
    conv = [[{"role": "assistant", "content": boxed("3")}]]
    assert reward(conv, answer=["3"]) == [1.0]


def test_column_length_mismatch_is_an_error(reward):
    with pytest.raises(ValueError, match="column 'answer' has 1 values for 2 completions"):
        reward([boxed("1"), boxed("2")], answer=["1"])


def test_correct_from_worker_thread_and_event_loop(reward):
    # math-verify's signal timeout fails off the main thread; ours must still give correct verdicts
    # (docs/reference.md#defect-5-signal-timeout-off-the-main-thread).
    responses, golds = [boxed("2\\sqrt{3}+1"), boxed("x+1")], ["1+\\sqrt{12}", "1+x"]
    results = {}
    thread = threading.Thread(target=lambda: results.setdefault("thread", reward(responses, answer=golds)))
    thread.start()
    thread.join()

    async def in_loop():
        return reward(responses, answer=golds)

    results["loop"] = asyncio.run(in_loop())
    assert results == {"thread": [1.0, 1.0], "loop": [1.0, 1.0]}


def test_inline_isolation_from_thread():
    inline = AccuracyReward(isolation="inline")
    out = []
    thread = threading.Thread(target=lambda: out.extend(inline([boxed("x^2")], answer=["x \\cdot x"])))
    thread.start()
    thread.join()
    assert out == [1.0]


def test_pickle_roundtrip(reward):
    clone = pickle.loads(pickle.dumps(reward))
    assert clone.__name__ == "accuracy"
    assert clone([boxed("7")], answer=["7"]) == [1.0]
    clone.close()


def test_registry_builds_accuracy_and_lists_known_names():
    assert isinstance(get_reward("accuracy", isolation="inline"), AccuracyReward)
    with pytest.raises(KeyError, match="accuracy, format, perception, repetition"):
        get_reward("acuracy")
