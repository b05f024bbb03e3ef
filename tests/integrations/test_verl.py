"""The verl adapter without verl: same rewards, annotations from extra_info (numpy too), async, group means."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from perception_r1.integrations.scoring import JudgeRequiredError
from perception_r1.integrations.verl import compute_score, compute_score_async, compute_score_batch

GOOD = "<think>\nangle ABC = 40° so x = 3\n</think>\n<answer>\n\\boxed{3}\n</answer>"
W = {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0}
RULE = {"backend": "rule"}
RECIPES = Path(__file__).parents[2] / "recipes" / "verl"


@pytest.mark.parametrize(
    ("solution", "truth", "extra", "expected"),
    [
        # right answer, right format, one of two annotations reflected: 0.9 + 0.1 + 0.7 * 0.5
        (
            GOOD,
            "3",
            {"visual_annotations": ["angle ABC = 40°", "AB = 5"]},
            {"score": 1.35, "accuracy": 1.0, "acc": 1.0, "format": 1.0, "perception": 0.5, "perception_missing": 0.0},
        ),
        # annotations in the reference <infoN> layout are read too
        (GOOD, "3", {"visual_key_info": "<info1>angle ABC = 40°</info1>"}, {"perception": 1.0, "score": 1.7}),
        # wrong answer: accuracy 0 (a real 0, not missing); acc repeats it for verl's DAPO recipes
        (
            GOOD,
            "4",
            {"visual_annotations": ["AB = 5"]},
            {"accuracy": 0.0, "acc": 0.0, "perception": 0.0, "score": 0.1},
        ),
        # no annotations: perception is missing (nan, flagged) and left out of the total, not counted as 0
        (GOOD, "3", None, {"perception_missing": 1.0, "score": 1.0}),
    ],
)
def test_compute_score(solution, truth, extra, expected):
    out = compute_score("geometry3k", solution, truth, extra, weights=W, judge=RULE, isolation="inline")
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), key
    if extra is None:
        assert math.isnan(out["perception"])
    assert all(isinstance(v, float) for v in out.values())


@pytest.mark.parametrize(
    ("truth", "extra", "expected"),
    [
        # verl hands lists over as numpy object arrays: read as the list (this raised TypeError before)
        ("3", {"visual_annotations": np.array(["angle ABC = 40°", "AB = 5"], dtype=object)}, {"perception": 0.5}),
        # a numpy string array works as well
        ("3", {"visual_annotations": np.array(["angle ABC = 40°"])}, {"perception": 1.0}),
        # a 0-d array ground truth and a numpy integer index
        (
            np.array("3"),
            {"visual_annotations": ["AB = 5"], "index": np.int64(2)},
            {"accuracy": 1.0, "perception": 0.0},
        ),
        # multiple choice with the options as a numpy array: the gold letter B names "3"
        ("B", {"choices": np.array(["2", "3"], dtype=object)}, {"accuracy": 1.0}),
        # a 0-d array holding the reference layout string
        ("3", {"visual_key_info": np.array("<info1>AB = 5</info1>")}, {"perception": 0.0, "perception_missing": 0.0}),
    ],
)
def test_numpy_values_from_verl_are_read_as_plain_python(truth, extra, expected):
    out = compute_score("geometry3k", GOOD, truth, extra, weights=W, judge=RULE, isolation="inline")
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), key


@pytest.mark.parametrize(
    ("fn", "kwargs"),
    [
        (compute_score, {}),  # the paper's weights include perception: no silent rule-judge fallback any more
        (compute_score, {"weights": {"perception": 1.0}}),
        (compute_score_batch, {}),
    ],
)
def test_perception_without_a_judge_is_refused(fn, kwargs):
    args = (["g"], [GOOD], ["3"], [None]) if fn is compute_score_batch else ("g", GOOD, "3", None)
    with pytest.raises(JudgeRequiredError, match=r"judge is not set.*\{backend: rule\}"):
        fn(*args, isolation="inline", **kwargs)


def test_without_perception_no_judge_is_needed():
    out = compute_score("x", "no format", "3", weights={"format": 1.0}, isolation="inline")
    assert out == {"score": 0.0, "format": 0.0, "format_missing": 0.0}


def test_rule_judge_on_a_free_form_annotation_warns(caplog):
    # the example: the rule judge cannot judge it; it used to be a silent nan
    caplog.set_level("WARNING")
    out = compute_score(
        "g",
        GOOD,
        "3",
        {"visual_annotations": ["GE is perpendicular to DF at E"]},
        weights=W,
        judge=RULE,
        isolation="inline",
    )
    assert out["perception_missing"] == 1.0
    assert "'GE is perpendicular to DF at E' is not a canonical fact" in caplog.text


def test_loadable_the_way_verl_loads_it():
    import importlib

    # pkg://perception_r1.integrations.verl (and the former pkg://perception_r1.train.verl_reward) import by name
    for name in ("perception_r1.integrations.verl", "perception_r1.train.verl_reward"):
        module = importlib.import_module(name)
        assert module.compute_score_async is compute_score_async


def test_async_entry_point_judges_concurrently_without_blocking_the_loop():
    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer

    n = 16
    # A judge slow enough that every request is still in flight when the last one starts, also on a loaded machine.
    with FakeOpenAIServer(fake_judge.truthful_judge, latency_s=3.0) as server:
        judge = {"base_url": server.base_url, "max_retries": 0, "max_concurrency": 64, "timeout_s": 60.0}

        async def main():
            ticks = 0

            async def ticker():  # keeps running while the judge calls are in flight: the loop is not blocked
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.02)

            task = asyncio.create_task(ticker())
            outs = await asyncio.gather(
                *(
                    compute_score_async(
                        "g",
                        f"{GOOD} response {i}",
                        "3",
                        {"visual_annotations": ["AB = 5"]},
                        weights=W,
                        judge=judge,
                        isolation="inline",
                    )
                    for i in range(n)
                )
            )
            task.cancel()
            return outs, ticks

        outs, ticks = asyncio.run(main())
        in_flight = server.max_in_flight
    assert [o["perception"] for o in outs] == [0.0] * n
    assert in_flight == n  # every response's judgment was in flight at once (the sync path: a thread pool's worth)
    assert ticks >= 10  # 3 s of judging, a tick every 0.02 s


def _batch(extra_infos, **kw):
    n = len(extra_infos)
    return compute_score_batch(["geometry3k"] * n, [GOOD] * n, ["3"] * n, extra_infos, isolation="inline", **kw)


@pytest.mark.parametrize(
    ("group", "num_generations", "expected_perception"),
    [
        # extra_info["index"] groups the responses: the failure takes the mean of its group (0.5, 1.0 -> 0.75)
        ("index", None, [0.75, 0.5, 1.0, 0.0]),
        # no index: blocks of num_generations consecutive responses (verl repeats each prompt rollout.n times)
        (None, 2, [0.5, 0.5, 1.0, 0.0]),
    ],
)
def test_batch_failed_component_is_neutral_within_its_group(group, num_generations, expected_perception):
    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer

    # distinct fact lists, so that no two requests are de-duplicated into the one that fails
    facts = [["angle ABC = 40°", "AB = 5"], ["AB = 5", "angle ABC = 40°"], ["angle ABC = 40°"], ["AB = 5"]]
    indexes = [7, 7, 7, 8]
    extras = [
        {"visual_annotations": np.array(f, dtype=object), **({"index": np.int64(i)} if group else {})}
        for f, i in zip(facts, indexes, strict=True)
    ]
    with FakeOpenAIServer(fake_judge.truthful_judge, script=["500"]) as server:
        judge = {"base_url": server.base_url, "max_retries": 0, "max_concurrency": 1}
        out = _batch(extras, weights={"perception": 1.0}, judge=judge, num_generations=num_generations)
    assert [o["score"] for o in out] == pytest.approx(expected_perception)
    assert out[0]["perception_missing"] == 1.0 and out[0]["perception_imputed"] == 1.0
    assert math.isnan(out[0]["perception"])  # the component itself stays visibly missing
    assert [o["perception_missing"] for o in out[1:]] == [0.0, 0.0, 0.0]


def test_batch_component_missing_for_the_whole_group_is_the_same_for_every_member():
    # no annotations anywhere: perception adds nothing to any response, so GRPO advantages are unchanged
    out = _batch([{"index": 1}, {"index": 1}], weights=W, judge=RULE)
    assert [o["score"] for o in out] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert all(o["perception_missing"] == 1.0 and o["perception_imputed"] == 0.0 for o in out)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extra_infos": [{}], "num_generations": None}, "1 extra_infos"),  # column lengths differ
        ({"extra_infos": [{}, {}, {}], "num_generations": 2}, "num_generations=2"),  # blocks cannot be aligned
    ],
)
def test_batch_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compute_score_batch(["x"] * 3, [GOOD] * 3, ["3"] * 3, weights={"format": 1.0}, isolation="inline", **kwargs)


def test_per_response_entry_point_counts_a_missing_component_as_zero():
    # documented: one response alone cannot be made neutral; the manager / batch entry point is the neutral one
    out = compute_score("geometry3k", GOOD, "3", None, weights=W, judge=RULE, isolation="inline")
    assert out["perception_missing"] == 1.0 and out["score"] == pytest.approx(1.0)


def _recipe(name):
    return yaml.safe_load((RECIPES / name).read_text())


@pytest.mark.parametrize(
    ("name", "reward_path"),
    [
        ("perception_r1.yaml", ("reward", "custom_reward_function")),  # verl >= 0.8: the reward section
        ("perception_r1_legacy.yaml", ("custom_reward_function",)),  # verl < 0.8: the top-level keys
    ],
)
def test_verl_recipes_carry_the_paper_grpo_settings(name, reward_path):
    cfg = _recipe(name)
    assert cfg["algorithm"]["adv_estimator"] == "grpo" and cfg["algorithm"]["use_kl_in_reward"] is False
    actor, rollout = cfg["actor_rollout_ref"]["actor"], cfg["actor_rollout_ref"]["rollout"]
    assert actor["use_kl_loss"] is False
    assert actor["optim"] == {"lr": 1.0e-6, "weight_decay": 1.0e-3, "lr_warmup_steps_ratio": 0.05}
    assert rollout["n"] == 8 and rollout["temperature"] == 1.0
    assert cfg["data"]["train_batch_size"] == 128 and actor["ppo_mini_batch_size"] == 128
    assert cfg["data"]["max_prompt_length"] == 4096 and cfg["data"]["max_response_length"] == 4096
    assert cfg["trainer"]["total_epochs"] == 25
    # the micro-batch sizes verl refuses to start without
    assert actor["ppo_micro_batch_size_per_gpu"] and rollout["log_prob_micro_batch_size_per_gpu"]
    reward = cfg
    for key in reward_path:
        reward = reward[key]
    assert reward["reward_kwargs"]["judge"]["backend"] == "openai"


@pytest.mark.parametrize(
    ("name", "layout"),
    [("perception_r1.yaml", "reward_loop"), ("perception_r1_legacy.yaml", "legacy")],
)
def test_verl_recipes_pass_the_check_for_their_verl(name, layout):
    from perception_r1.integrations.verl_check import check_config

    assert check_config(_recipe(name), layout)[0] == []
