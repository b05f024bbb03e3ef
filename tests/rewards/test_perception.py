"""PerceptionReward: TRL calling convention, columns, None semantics, metrics, pickling, calling contexts."""

from __future__ import annotations

import asyncio
import inspect
import pickle
import threading

import pytest

from perception_r1.judge.config import JudgeConfig
from perception_r1.rewards import get_reward
from perception_r1.rewards.contract import MissingColumnError
from perception_r1.rewards.perception import PerceptionReward, annotations_of
from support import fake_judge
from support.fake_openai_server import FakeOpenAIServer


@pytest.fixture
def server():
    with FakeOpenAIServer(fake_judge.truthful_judge) as srv:
        yield srv


@pytest.fixture
def reward(server):
    r = get_reward("perception", judge={"base_url": server.base_url, "backoff_base_s": 0.01, "max_retries": 1})
    yield r
    r.close()


@pytest.mark.parametrize(
    ("completion", "annotations", "expected"),
    [
        ("AB = 5 and CD = 7", ["AB = 5", "CD = 7"], 1.0),  # all facts
        ("AB = 5 only", ["AB = 5", "CD = 7", "EF = 1", "GH = 2"], 0.25),  # divides by M annotations
        ("nothing", ["AB = 5"], 0.0),  # a real zero
        ("AB = 5", [], None),  # no annotations: not applicable
        ([{"role": "assistant", "content": "CD = 7"}], ["AB = 5", "CD = 7"], 0.5),  # conversational completion
    ],
)
def test_scores(reward, completion, annotations, expected):
    assert reward([completion], visual_annotations=[annotations]) == [expected]


def test_reference_key_info_column(reward):
    key_info = "<info1>AB = 5</info1>\n<info2>CD = 7</info2>"
    assert reward(["AB = 5"], visual_key_info=[key_info]) == [0.5]
    # visual_annotations wins over visual_key_info when both are present
    assert reward(["AB = 5"], visual_annotations=[["AB = 5"]], visual_key_info=[key_info]) == [1.0]
    # None values: not applicable for those completions
    assert reward(["AB = 5", "x"], visual_annotations=[None, None]) == [None, None]
    # neither column at all: a clear error naming the reward and the column, not a silent None everywhere
    with pytest.raises(MissingColumnError, match="reward 'perception' needs column 'visual_annotations' or"):
        reward(["AB = 5", "x"])


@pytest.mark.parametrize(
    ("key_info", "expected"),
    [
        ("<info1>AB = 5</info1>\n<info2> angle B = 90° </info2>", ["AB = 5", "angle B = 90°"]),  # reference format
        ("<info1>multi\nline</info1>", ["multi line"]),  # newlines inside a fact are collapsed
        ("", []),  # empty
        (None, []),  # missing
    ],
)
def test_parse_visual_key_info(key_info, expected):
    assert annotations_of(None, key_info) == expected


@pytest.mark.parametrize(
    "key_info",
    [
        "<info1></info1><info2>x</info2>",  # an empty item would shrink M
        "<info1>AB = 5</info1>\n<info2>CD = 7",  # an unclosed item would shrink M
        "<info1>a</info1><info1>b</info1>",  # a duplicated number
    ],
)
def test_malformed_key_info_is_an_error_not_a_smaller_m(key_info):
    with pytest.raises(ValueError, match="visual_key_info"):
        annotations_of(None, key_info)


def test_bad_annotation_column_type_names_the_column():
    with pytest.raises(TypeError, match="visual_annotations must be a list"):
        annotations_of("AB = 5", None)


def test_failures_return_none_are_counted_and_logged(server):
    server.script.extend(["500", "500"])  # first case: fails after 1 + 1 attempts
    metrics = []
    r = PerceptionReward(
        judge={"base_url": server.base_url, "max_retries": 1, "backoff_base_s": 0.01, "max_concurrency": 1}
    )
    try:
        out = r(
            ["AB = 5", "AB = 5"],
            visual_annotations=[["AB = 5"], []],
            log_metric=lambda name, value: metrics.append((name, value)),
        )
    finally:
        r.close()
    assert out == [None, None]
    assert r.last_judgments[0].status == "failed" and r.last_judgments[0].error == "HTTP 500"
    assert r.last_judgments[1].status == "not_applicable"
    assert r.stats["failed"] == 1 and r.stats["not_applicable"] == 1
    logged = dict(metrics)
    assert logged["perception/judge_failure_rate"] == 1.0
    assert logged["perception/not_applicable_rate"] == 0.5
    assert "perception/judge_latency_s" in logged


def test_too_few_verdicts_never_inflate():
    with FakeOpenAIServer(fake_judge.too_few_judge) as srv:
        r = PerceptionReward(judge={"base_url": srv.base_url, "invalid_retries": 1})
        try:
            assert r(["AB = 5"], visual_annotations=[["AB = 5", "CD = 7", "EF = 1"]]) == [None]
        finally:
            r.close()


def test_per_annotation_verdicts_are_exposed(reward):
    extra = {}
    reward(["AB = 5"], visual_annotations=[["AB = 5", "CD = 7"]], log_extra=lambda c, v: extra.update({c: v}))
    assert reward.last_judgments[0].verdicts == [1, 0]
    assert extra == {"perception_verdicts": [[1, 0]]}


@pytest.mark.parametrize(
    "context",
    [
        "thread",  # a worker thread
        "running_loop",  # sync call from inside a running event loop
        "async",  # an async caller that keeps its loop free: the blocking call in a worker thread
    ],
)
def test_calling_contexts(reward, context):
    kwargs = {"visual_annotations": [["AB = 5", "CD = 7"]]}
    if context == "thread":
        box = []
        t = threading.Thread(target=lambda: box.append(reward(["AB = 5"], **kwargs)))
        t.start()
        t.join()
        out = box[0]
    elif context == "running_loop":

        async def inside():
            return reward(["AB = 5"], **kwargs)

        out = asyncio.run(inside())
    else:
        out = asyncio.run(asyncio.to_thread(reward, ["AB = 5"], **kwargs))
    assert out == [0.5]


@pytest.mark.integration  # importing trl takes seconds
def test_trl_sees_a_sync_reward(reward):
    from trl.trainer.utils import is_async_callable

    assert not is_async_callable(reward) and not inspect.iscoroutinefunction(reward.__call__)
    assert reward.__name__ == "perception"


def test_pickle_roundtrip_after_use(reward, server):
    assert reward(["AB = 5"], visual_annotations=[["AB = 5"]]) == [1.0]
    clone = pickle.loads(pickle.dumps(reward))
    try:
        assert clone.judge_config == reward.judge_config
        assert clone(["CD = 7"], visual_annotations=[["AB = 5", "CD = 7"]]) == [0.5]  # rebuilds its client
    finally:
        clone.close()


def test_construction_is_lazy_and_validates_config():
    r = PerceptionReward(judge=JudgeConfig(base_url="http://127.0.0.1:9/v1"))
    assert r._judge is None and r._loop is None  # nothing connects or starts before the first call
    with pytest.raises(Exception, match="did you mean 'model'"):
        PerceptionReward(judge={"modle": "x"})


def test_rule_backend_through_the_registry():
    r = get_reward("perception", judge={"backend": "rule"})
    try:
        out = r(
            ["AB = 5, angle ABC = 40°", "AB = 5 <info2>1</info2>"],
            visual_annotations=[["AB = 5", "angle ABC = 40°"], ["AB = 5", "angle ABC = 40°"]],
        )
    finally:
        r.close()
    assert out == [1.0, 0.5]
    assert r.stats["injected"] == 1


@pytest.mark.parametrize(
    ("scores", "failed", "prompts", "expected"),
    [
        ([1.0, None, 0.0, None], [False, True, False, True], ["p", "p", "q", "q"], [1.0, 1.0, 0.0, 0.0]),  # per group
        ([0.5, None, None], [False, True, False], ["p", "p", "p"], [0.5, 0.5, None]),  # n/a None is kept
        ([None, None], [True, True], ["p", "p"], [None, None]),  # whole group failed: nothing to impute
        ([1.0, None], [False, True], None, [1.0, None]),  # no prompts (outside TRL): nothing imputed
        # conversational prompts are compared by value
        ([1.0, None], [False, True], [[{"role": "user", "content": "x"}]] * 2, [1.0, 1.0]),
    ],
)
def test_impute_group_mean(scores, failed, prompts, expected):
    from perception_r1.rewards.perception import impute_group_mean

    assert impute_group_mean(scores, failed, prompts) == expected


def test_group_mean_failure_policy_is_neutral_and_still_counted(server):
    server.script.extend(["500"])  # the first request fails and, with no retries, so does its judgment
    r = PerceptionReward(
        judge={"base_url": server.base_url, "max_retries": 0, "max_concurrency": 1}, failure_policy="group_mean"
    )
    try:
        out = r(
            ["AB = 5", "AB = 5 and CD = 7", "CD = 7"],
            visual_annotations=[["AB = 5", "CD = 7"]] * 3,
            prompts=["p", "p", "p"],
        )
    finally:
        r.close()
    assert r.last_judgments[0].status == "failed" and r.stats["failed"] == 1
    assert out == [pytest.approx(0.75), 1.0, 0.5]  # the failure gets the mean of its group's valid scores


@pytest.mark.parametrize(
    ("columns", "num_generations", "expected"),
    [
        ({"id": ["q1", "q1", "q1", "q2"]}, None, [0.75, 1.0, 0.5, 0.0]),  # the dataset id TRL passes to rewards
        ({}, 2, [1.0, 1.0, 0.5, 0.0]),  # no id: blocks of num_generations consecutive completions
    ],
)
def test_group_mean_groups_image_prompts_by_id_or_blocks(server, columns, num_generations, expected):
    import copy

    from PIL import Image

    def image_prompt(color):
        image = Image.new("RGB", (4, 4), color)
        return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "x"}]}]

    red = image_prompt("red")
    # as under TRL: each completion's prompt is its own object, so repr-based grouping would find no group
    prompts = [copy.deepcopy(red) for _ in range(3)] + [image_prompt("blue")]
    server.script.extend(["500"])
    r = PerceptionReward(
        judge={"base_url": server.base_url, "max_retries": 0, "max_concurrency": 1},
        failure_policy="group_mean",
        num_generations=num_generations,
    )
    metrics = []
    try:
        out = r(
            ["AB = 5", "AB = 5 and CD = 7", "CD = 7", "nothing"],
            visual_annotations=[["AB = 5", "CD = 7"]] * 4,
            prompts=prompts,
            log_metric=lambda k, v: metrics.append((k, v)),
            **columns,
        )
    finally:
        r.close()
    assert out == pytest.approx(expected)
    assert r.stats["imputed"] == 1 and dict(metrics)["perception/group_mean_imputed_rate"] == 0.25


def test_unknown_failure_policy():
    with pytest.raises(ValueError, match="failure_policy"):
        PerceptionReward(judge={"backend": "rule"}, failure_policy="zero")
