"""The EasyR1 reward function, loaded the way EasyR1 loads it: by file path, as module ``custom_reward_fn``."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from functools import partial

import numpy as np
import pytest

import perception_r1.integrations.easyr1 as easyr1
from perception_r1.integrations.easyr1 import GroundTruthError, decode_ground_truth, encode_ground_truth
from perception_r1.integrations.scoring import JudgeRequiredError

GOOD = "<think>\nAB = 5\n</think>\n<answer>\n\\boxed{3}\n</answer>"
RULE = {"backend": "rule"}


def load_like_easyr1(path: str, name: str, kwargs: dict):
    """What EasyR1's AutoRewardManager does with ``worker.reward.reward_function=FILE:NAME`` (verl/workers/reward/
    function.py in hiyouga/EasyR1): import the file under the name custom_reward_fn, read REWARD_TYPE (default
    'batch'), bind reward_function_kwargs with functools.partial."""
    spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("custom_reward_fn")
    try:
        sys.modules["custom_reward_fn"] = module
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop("custom_reward_fn", None)
        else:
            sys.modules["custom_reward_fn"] = saved
    return partial(getattr(module, name), **kwargs), getattr(module, "REWARD_TYPE", "batch"), module


def _inputs(responses, truths):
    return [
        {"response": r, "response_length": len(r.split()), "ground_truth": t}
        for r, t in zip(responses, truths, strict=True)
    ]


def test_loaded_by_path_it_scores_a_batch_in_easyr1s_contract():
    kwargs = {"judge": RULE, "isolation": "inline"}
    fn, reward_type, module = load_like_easyr1(easyr1.__file__, "compute_score", kwargs)
    assert reward_type == "batch" and module.REWARD_NAME == "perception_r1"
    truth = encode_ground_truth("3", ["AB = 5", "CD = 2"], id="p1")
    out = fn(_inputs([GOOD, "no format <answer>\\boxed{4}</answer>"], [truth, truth]))
    # 0.9 + 0.1 + 0.7 * 0.5 and 0 + 0 + 0; every value a float (EasyR1 averages them as metrics)
    assert [o["overall"] for o in out] == pytest.approx([1.35, 0.0])
    assert out[0]["perception"] == 0.5 and out[0]["accuracy"] == 1.0 and out[0]["perception_missing"] == 0.0
    assert all(isinstance(v, float) for o in out for v in o.values())


@pytest.mark.parametrize(
    ("truth", "expected"),
    [
        # the encoding: answer and annotations together
        (encode_ground_truth("3", ["AB = 5"], id=1), {"answer": "3", "visual_annotations": ["AB = 5"], "id": "1"}),
        # the reference layout of the annotations inside the encoding
        (
            json.dumps({"perception_r1": 1, "answer": "3", "visual_key_info": "<info1>AB = 5</info1>"}),
            {"answer": "3", "visual_key_info": "<info1>AB = 5</info1>"},
        ),
        # a plain answer: no annotations
        ("3", {"answer": "3"}),
        # a plain answer that is JSON but not ours (no marker) stays the answer
        ('{"x": 1}', {"answer": '{"x": 1}'}),
        # a plain answer starting with a brace that is not JSON
        ("{1, 2}", {"answer": "{1, 2}"}),
        # a numpy 0-d array (EasyR1 collates ground truths into numpy object arrays)
        (np.array(encode_ground_truth("3", ["AB = 5"])), {"answer": "3", "visual_annotations": ["AB = 5"]}),
        # an already decoded mapping (a parquet struct column)
        ({"perception_r1": 1, "answer": "7"}, {"answer": "7"}),
    ],
)
def test_decode_ground_truth(truth, expected):
    decoded = decode_ground_truth(truth)
    assert {k: v for k, v in decoded.items() if v is not None} == expected


@pytest.mark.parametrize(
    ("truth", "match"),
    [
        ('{"perception_r1": 2, "answer": "3"}', "encoding version 2"),  # written by another version
        ('{"perception_r1": 1, "visual_annotations": []}', "no 'answer' key"),
    ],
)
def test_bad_encoded_ground_truth_names_the_response(truth, match):
    fn, _, module = load_like_easyr1(easyr1.__file__, "compute_score", {"judge": RULE, "isolation": "inline"})
    # loaded by path, the module defines its own copy of the class (still a ValueError)
    with pytest.raises(module.GroundTruthError, match=f"reward input 1: .*{match}"):
        fn(_inputs([GOOD, GOOD], ["3", truth]))
    with pytest.raises(GroundTruthError, match=match):
        decode_ground_truth(truth)


def test_round_trip_keeps_choices_and_ids():
    truth = encode_ground_truth("B", None, id="x", choices=np.array(["2", "3"], dtype=object))
    out = easyr1.compute_score(_inputs([GOOD], [truth]), weights={"accuracy": 1.0}, isolation="inline")
    assert decode_ground_truth(truth)["choices"] == ["2", "3"] and out[0]["accuracy"] == 1.0


def test_perception_without_a_judge_is_refused():
    with pytest.raises(JudgeRequiredError, match="worker.reward.reward_function_kwargs.judge"):
        easyr1.compute_score(_inputs([GOOD], ["3"]), isolation="inline")


@pytest.mark.parametrize(
    ("ids", "num_generations", "expected"),
    [
        # the encoded id groups the responses: the failure takes its group's mean (1.0, 0.5 -> 0.75)
        (["p", "p", "p", "q"], None, [0.75, 1.0, 0.5, 0.0]),
        # no ids: blocks of num_generations consecutive responses (EasyR1 repeats each prompt rollout.n times)
        ([None] * 4, 2, [1.0, 1.0, 0.5, 0.0]),
        # neither: nothing to group by, the failure adds 0 and its key is left out
        ([None] * 4, None, [0.0, 1.0, 0.5, 0.0]),
    ],
)
def test_a_failed_judgment_is_neutral_within_its_group(ids, num_generations, expected):
    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer

    facts = ["AB = 5", "CD = 2"]
    texts = ["AB = 5 CD = 2 FAULT:500", "AB = 5 CD = 2", "AB = 5", "none"]
    truths = [encode_ground_truth("3", facts, id=i) for i in ids]
    with FakeOpenAIServer(fake_judge.truthful_judge) as server:
        judge = {"base_url": server.base_url, "max_retries": 0}
        out = easyr1.compute_score(
            _inputs(texts, truths), weights={"perception": 1.0}, judge=judge, num_generations=num_generations
        )
    assert [o["overall"] for o in out] == pytest.approx(expected)
    assert out[0]["perception_missing"] == 1.0
    if expected[0]:
        assert out[0]["perception_imputed"] == 1.0 and out[0]["perception"] == pytest.approx(expected[0])
    else:  # left out, so that EasyR1's batch mean of reward/perception is a mean of real values (no nan)
        assert "perception" not in out[0] and out[0]["perception_imputed"] == 0.0
    assert not any(isinstance(v, float) and math.isnan(v) for o in out for v in o.values())
