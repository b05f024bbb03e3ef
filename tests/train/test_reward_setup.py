"""Recipe rewards -> TRL reward functions and weights; dataset column checks before training."""

from __future__ import annotations

import pytest

from perception_r1.config import ConfigError, from_dict
from perception_r1.train.config import RewardSpec, TrainConfig, validate
from perception_r1.train.reward_setup import build_rewards, check_columns, missing_columns

ROW = {"id": "1", "images": ["x.png"], "problem": "p", "answer": "3"}


@pytest.mark.parametrize(
    ("specs", "columns", "expected"),
    [
        # accuracy reads the answer
        ([RewardSpec("accuracy")], {"problem"}, ["reward 'accuracy' needs column 'answer'"]),
        # perception accepts either annotation layout
        ([RewardSpec("perception")], {"visual_key_info"}, []),
        ([RewardSpec("perception")], {"visual_annotations"}, []),
        (
            [RewardSpec("perception")],
            {"answer"},
            ["reward 'perception' needs column 'visual_annotations' or 'visual_key_info'"],
        ),
        # format and repetition need nothing from the dataset
        ([RewardSpec("format"), RewardSpec("repetition")], set(), []),
        # a renamed answer column is the one required
        (
            [RewardSpec("accuracy", params={"answer_column": "gold"})],
            {"answer"},
            ["reward 'accuracy' needs column 'gold'"],
        ),
        # every missing column is listed, not just the first
        (
            [RewardSpec("accuracy"), RewardSpec("perception")],
            set(),
            [
                "reward 'accuracy' needs column 'answer'",
                "reward 'perception' needs column 'visual_annotations' or 'visual_key_info'",
            ],
        ),
    ],
)
def test_missing_columns(specs, columns, expected):
    assert missing_columns(specs, columns) == expected


def test_check_columns_treats_all_empty_column_as_missing():
    rows = [{**ROW, "visual_annotations": None}, {**ROW, "visual_annotations": []}]
    with pytest.raises(ConfigError, match="perception.*visual_annotations.*Columns present: answer, id"):
        check_columns([RewardSpec("perception")], rows)
    check_columns([RewardSpec("perception")], [*rows, {**ROW, "visual_annotations": ["AB = 5"]}])


def test_build_rewards_keeps_order_weights_and_names():
    funcs, weights, names = build_rewards([RewardSpec("format", 0.1), RewardSpec("repetition", 1.0, {"n": 2})])
    assert names == ["format", "repetition"] and weights == [0.1, 1.0]
    assert funcs[1](["a b a b"]) == [pytest.approx(-2.0 * (1 - 2 / 3))]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # an unknown name lists the known ones
        (RewardSpec("formatt"), "did you mean 'format'"),
        # a parameter the constructor does not take
        (RewardSpec("repetition", params={"size": 3}), r"rewards\[0\] \(repetition\)\.params"),
        # a parameter value the constructor rejects
        (RewardSpec("repetition", params={"max_penalty": 1.0}), "max_penalty must be <= 0"),
    ],
)
def test_build_rewards_errors_name_the_entry(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_rewards([spec])


@pytest.mark.parametrize(
    "check",
    [
        lambda specs: validate(from_dict(TrainConfig, {"rewards": [{"name": s.name} for s in specs]})),  # recipe
        build_rewards,  # building the TRL reward functions
        lambda specs: missing_columns(specs, {"answer"}),  # the dataset pre-flight
    ],
)
def test_one_unknown_reward_check_for_every_entry_point(check):
    # one check, one message: the registry's, prefixed with the recipe key
    with pytest.raises(ConfigError) as info:
        check([RewardSpec("format"), RewardSpec("accuracyy")])
    assert str(info.value).startswith("rewards[1].name: unknown reward 'accuracyy' (did you mean 'accuracy'?); known:")
