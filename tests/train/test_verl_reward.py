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


def _batch(extra_infos, **kw):
    from perception_r1.train.verl_reward import compute_score_batch

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
        {"visual_annotations": f, **({"index": i} if group else {})} for f, i in zip(facts, indexes, strict=True)
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
    out = _batch([{"index": 1}, {"index": 1}], weights=W)
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
    from perception_r1.train.verl_reward import compute_score_batch

    with pytest.raises(ValueError, match=match):
        compute_score_batch(["x"] * 3, [GOOD] * 3, ["3"] * 3, weights={"format": 1.0}, isolation="inline", **kwargs)


def test_per_response_entry_point_counts_a_missing_component_as_zero():
    # documented: one response alone cannot be made neutral; the batch entry point is the neutral one
    out = compute_score("geometry3k", GOOD, "3", None, weights=W, isolation="inline")
    assert out["perception_missing"] == 1.0 and out["score"] == pytest.approx(1.0)


def test_verl_recipe_carries_the_paper_grpo_settings():
    from pathlib import Path

    import yaml

    cfg = yaml.safe_load((Path(__file__).parents[2] / "recipes" / "verl" / "perception_r1.yaml").read_text())
    assert cfg["algorithm"]["adv_estimator"] == "grpo" and cfg["algorithm"]["use_kl_in_reward"] is False
    actor, rollout = cfg["actor_rollout_ref"]["actor"], cfg["actor_rollout_ref"]["rollout"]
    assert actor["use_kl_loss"] is False
    assert actor["optim"] == {"lr": 1.0e-6, "weight_decay": 1.0e-3, "lr_warmup_steps_ratio": 0.05}
    assert rollout["n"] == 8 and rollout["temperature"] == 1.0
    assert cfg["data"]["train_batch_size"] == 128 and actor["ppo_mini_batch_size"] == 128
    assert cfg["data"]["max_prompt_length"] == 4096 and cfg["data"]["max_response_length"] == 4096
    assert cfg["trainer"]["total_epochs"] == 25
    assert cfg["reward_model"]["reward_manager"] == "batch"
    reward = cfg["custom_reward_function"]
    assert reward["name"] == "compute_score_batch" and reward["reward_kwargs"]["num_generations"] == rollout["n"]
