import pytest

from perception_r1.rewards.combined import PAPER_WEIGHTS, combine


@pytest.mark.parametrize(
    ("scores", "missing", "expected"),
    [
        ({"accuracy": 1.0, "format": 1.0, "perception": 1.0, "repetition": 0.0}, "none", 1.7),  # paper maximum
        # defect 6: the repetition penalty is part of the logged total
        ({"accuracy": 1.0, "format": 1.0, "perception": 0.5, "repetition": -2.0}, "none", -0.65),
        ({"accuracy": 1.0, "format": 0.0, "perception": None}, "none", None),  # unknown component -> unknown total
        ({"accuracy": 1.0, "format": 0.0, "perception": None}, "skip", 0.9),  # or leave it out when asked
    ],
)
def test_combine(scores, missing, expected):
    result = combine(scores, missing=missing)
    assert result == (None if expected is None else pytest.approx(expected))


def test_paper_weights_and_unknown_component():
    assert PAPER_WEIGHTS == {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0}
    with pytest.raises(KeyError, match="no weight for reward component 'style'"):
        combine({"style": 1.0})
