"""The verl adapter, exercised without verl: same rewards, annotations from extra_info."""

from __future__ import annotations

import math

import pytest

from perception_r1.train.verl_reward import compute_score

GOOD = "<think>\nangle ABC = 40° so x = 3\n</think>\n<answer>\n\\boxed{3}\n</answer>"
W = {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0}


@pytest.mark.parametrize(
    ("solution", "truth", "extra", "expected"),
    [
        # right answer, right format, one of two annotations reflected: 0.9 + 0.1 + 0.7 * 0.5
        (
            GOOD,
            "3",
            {"visual_annotations": ["angle ABC = 40°", "AB = 5"]},
            {"score": 1.35, "accuracy": 1.0, "format": 1.0, "perception": 0.5, "perception_missing": 0.0},
        ),
        # annotations in the reference <infoN> layout are read too
        (GOOD, "3", {"visual_key_info": "<info1>angle ABC = 40°</info1>"}, {"perception": 1.0, "score": 1.7}),
        # wrong answer: accuracy 0 (a real 0, not missing)
        (GOOD, "4", {"visual_annotations": ["AB = 5"]}, {"accuracy": 0.0, "perception": 0.0, "score": 0.1}),
        # no annotations: perception is missing (nan, flagged) and left out of the total, not counted as 0
        (GOOD, "3", None, {"perception_missing": 1.0, "score": 1.0}),
    ],
)
def test_compute_score(solution, truth, extra, expected):
    out = compute_score("geometry3k", solution, truth, extra, weights=W, isolation="inline")
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), key
    if extra is None:
        assert math.isnan(out["perception"])
    assert all(isinstance(v, float) for v in out.values())


def test_weights_choose_the_components():
    out = compute_score("x", "no format", "3", weights={"format": 1.0}, isolation="inline")
    assert out == {"score": 0.0, "format": 0.0, "format_missing": 0.0}


def test_loadable_the_way_verl_loads_it():
    import importlib

    module = importlib.import_module("perception_r1.train.verl_reward")  # what pkg://perception_r1.train... does
    assert callable(module.compute_score)
