"""Group keys for group-mean imputation: stable under copies with images, ids first, blocks as fallback."""

from __future__ import annotations

import copy

import pytest
from PIL import Image

from perception_r1.rewards.groups import block_keys, group_keys, impute_group_mean, stable_key


def _prompt(color: str) -> list[dict]:
    image = Image.new("RGB", (8, 8), color)
    return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Find x."}]}]


def test_copies_of_an_image_prompt_share_a_key_and_other_images_do_not():
    red = _prompt("red")
    # TRL hands every repeated prompt as a distinct object: repr differs, content does not
    assert repr(red) != repr(copy.deepcopy(red))
    assert stable_key(red) == stable_key(copy.deepcopy(red))
    assert stable_key(red) != stable_key(_prompt("blue"))  # same text, different image


@pytest.mark.parametrize(
    ("n", "kwargs", "expected"),
    [
        (4, {"ids": ["a", "a", "b", "b"], "num_generations": 4}, ["a", "a", "b", "b"]),  # ids win over blocks
        (4, {"ids": ["a", None, "b", "b"], "num_generations": 2}, [0, 0, 1, 1]),  # an incomplete id column: blocks
        (6, {"num_generations": 3}, [0, 0, 0, 1, 1, 1]),  # whole groups in one call
        (2, {"num_generations": 8}, [0, 0]),  # part of one group (a group split over processes)
        (2, {"prompts": ["p", "q"]}, ["p", "q"]),  # prompts by content as the last resort
        (2, {}, None),  # nothing identifies the groups
    ],
)
def test_group_keys(n, kwargs, expected):
    assert group_keys(n, **kwargs) == expected


@pytest.mark.parametrize(
    ("n", "kwargs", "match"),
    [
        (6, {"num_generations": 4}, "num_generations=4"),  # blocks would straddle groups
        (3, {"ids": ["a", "b"]}, "ids has 2 values for 3"),  # column length mismatch
        (2, {"num_generations": 0}, "must be >= 1"),
    ],
)
def test_group_keys_errors(n, kwargs, match):
    with pytest.raises(ValueError, match=match):
        group_keys(n, **kwargs)


def test_block_keys():
    assert block_keys(4, 2) == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("scores", "failed", "groups", "expected"),
    [
        ([1.0, None, 0.0, None], [False, True, False, True], ["a", "a", "b", "b"], [1.0, 1.0, 0.0, 0.0]),  # per group
        ([0.5, None, None], [False, True, False], [0, 0, 0], [0.5, 0.5, None]),  # not-applicable None is kept
        ([None, None], [True, True], [0, 0], [None, None]),  # whole group failed: nothing to impute
        ([1.0, None], [False, True], None, [1.0, None]),  # no groups: nothing imputed
        # image prompts: copies are one group even though they are distinct objects
        ([0.25, None, 0.75, None], [False, True, False, True], None, None),
    ],
)
def test_impute_group_mean(scores, failed, groups, expected):
    if expected is None:  # the image case, built here
        red, blue = _prompt("red"), _prompt("blue")
        groups = [red, copy.deepcopy(red), blue, copy.deepcopy(blue)]
        expected = [0.25, 0.25, 0.75, 0.75]
    assert impute_group_mean(scores, failed, groups) == expected
