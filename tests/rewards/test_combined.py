import pytest

from perception_r1.rewards.combined import PAPER_WEIGHTS, combine


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"accuracy": 1.0, "format": 1.0, "perception": 1.0, "repetition": 0.0}, 1.7),  # paper maximum
        # the repetition penalty is part of the logged total
        # (docs/reference.md#defect-6-penalty-missing-from-logged-total)
        ({"accuracy": 1.0, "format": 1.0, "perception": 0.5, "repetition": -2.0}, -0.65),
        # a None component (not applicable or failed) adds nothing, as in TRL's nansum
        ({"accuracy": 1.0, "format": 0.0, "perception": None}, 0.9),
        ({"perception": None}, None),  # no component has a value: no total
    ],
)
def test_combine(scores, expected):
    result = combine(scores)
    assert result == (None if expected is None else pytest.approx(expected))


def test_paper_weights_and_unknown_component():
    assert PAPER_WEIGHTS == {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0}
    with pytest.raises(KeyError, match="no weight for reward component 'style'"):
        combine({"style": 1.0})
