import pickle

import pytest

from perception_r1.rewards import get_reward
from perception_r1.rewards.repetition import RepetitionPenalty


@pytest.mark.parametrize(
    ("text", "n", "max_penalty", "expected"),
    [
        ("a b c", 20, -2.0, 0.0),  # fewer words than n: no penalty
        (" ".join(f"w{i}" for i in range(40)), 20, -2.0, 0.0),  # all n-grams unique
        ("a b a b a b", 2, -1.0, -0.6),  # 5 bigrams, 2 unique -> -1 * (1 - 2/5)
        ("A b a B a b", 2, -1.0, -0.6),  # lowercased before counting
        (" ".join(["x"] * 30), 20, -2.0, -2.0 * (1 - 1 / 11)),  # one repeated word: 11 identical 20-grams
    ],
)
def test_penalty_values(text, n, max_penalty, expected):
    assert RepetitionPenalty(n=n, max_penalty=max_penalty)([text]) == [pytest.approx(expected)]


def test_paper_defaults_and_pickle():
    reward = get_reward("repetition")
    assert (reward.n, reward.max_penalty) == (20, -2.0)
    clone = pickle.loads(pickle.dumps(reward))
    assert clone([" ".join(["spam"] * 100)]) == reward([" ".join(["spam"] * 100)])
    assert clone.__name__ == "repetition"


@pytest.mark.parametrize(("kwargs", "message"), [({"n": 0}, "n must be"), ({"max_penalty": 1.0}, "max_penalty")])
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RepetitionPenalty(**kwargs)
