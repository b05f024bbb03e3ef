"""The group rendezvous of the verl reward-loop manager (no verl needed: the class itself is built lazily)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from perception_r1.integrations.scoring import RewardSettings
from perception_r1.integrations.verl_manager import GroupRendezvous, ManagerOptions, score_grouped

RECIPE_CFG = {
    "reward": {
        "num_workers": 1,
        "custom_reward_function": {
            "path": "pkg://perception_r1.integrations.verl",
            "name": "compute_score_async",
            "reward_kwargs": {"judge": {"backend": "rule"}, "group_wait_s": 5, "isolation": "inline"},
        },
    },
    "actor_rollout_ref": {"rollout": {"n": 4}},
}


async def _arrivals(rendezvous, arrivals, gap_s=0.01):
    """Settle (key, scores, failed) one after another, as verl's reward loop does when rollouts finish."""
    tasks = []
    for key, scores, failed in arrivals:
        tasks.append(asyncio.create_task(rendezvous.settle(key, scores, failed)))
        await asyncio.sleep(gap_s)
    return await asyncio.gather(*tasks)


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        # the failed response arrives first and waits for the other three: mean of 1.0, 0.5, 0.0
        (
            [("u", {"p": None}, {"p": True}), ("u", {"p": 1.0}, {}), ("u", {"p": 0.5}, {}), ("u", {"p": 0.0}, {})],
            [0.5, 1.0, 0.5, 0.0],
        ),
        # the failed response arrives last: its group is complete at once
        (
            [("u", {"p": 1.0}, {}), ("u", {"p": 0.0}, {}), ("u", {"p": 1.0}, {}), ("u", {"p": None}, {"p": True})],
            [1.0, 0.0, 1.0, 2 / 3],
        ),
        # two groups interleaved: each failure takes its own group's mean
        (
            [("a", {"p": None}, {"p": True}), ("b", {"p": None}, {"p": True})]
            + [("a", {"p": 1.0}, {}), ("b", {"p": 0.0}, {})] * 3,
            [1.0, 0.0] + [1.0, 0.0] * 3,
        ),
        # the whole group failed: nothing to impute, the component stays missing (adds 0 to every member)
        ([("u", {"p": None}, {"p": True})] * 4, [None] * 4),
        # not applicable (no annotations), not failed: returned at once as None, nothing waits
        ([("u", {"p": None}, {"p": False})] * 2, [None, None]),
        # no group key: alone, nothing imputed
        ([(None, {"p": None}, {"p": True})], [None]),
    ],
)
def test_a_failed_component_takes_its_groups_mean(arrivals, expected):
    rendezvous = GroupRendezvous(group_size=4, wait_s=5)
    out = asyncio.run(_arrivals(rendezvous, arrivals))
    assert [o["p"] for o in out] == [pytest.approx(e) if e is not None else None for e in expected]
    assert rendezvous.timeouts == 0


def test_responses_without_failures_do_not_wait():
    async def main():
        rendezvous = GroupRendezvous(group_size=8, wait_s=30)
        return await asyncio.wait_for(rendezvous.settle("u", {"p": 1.0}, {"p": False}), timeout=1)

    assert asyncio.run(main()) == {"p": 1.0}


def test_an_incomplete_group_stops_waiting_after_wait_s():
    # e.g. a validation group of 1 response when rollout.n is 8: the failure waits, then uses what is there
    clock = [0.0]
    rendezvous = GroupRendezvous(group_size=8, wait_s=0.2, clock=lambda: clock[0])
    out = asyncio.run(_arrivals(rendezvous, [("v", {"p": 0.5}, {}), ("v", {"p": None}, {"p": True})]))
    assert [o["p"] for o in out] == [0.5, 0.5] and rendezvous.timeouts == 1
    clock[0] = 1000.0  # long after: the stale group is forgotten at the next arrival
    asyncio.run(rendezvous.settle("w", {"p": 1.0}, {}))
    assert rendezvous.pending() == 1  # only "w"


def test_complete_groups_are_forgotten():
    rendezvous = GroupRendezvous(group_size=2, wait_s=5)
    asyncio.run(_arrivals(rendezvous, [("u", {"p": 1.0}, {}), ("u", {"p": 0.0}, {})]))
    assert rendezvous.pending() == 0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        # several workers: a prompt's responses would not meet
        (lambda c: c["reward"].update(num_workers=8), "needs reward.num_workers=1"),
        # the manager scores with our function's settings: another function is refused
        (lambda c: c["reward"]["custom_reward_function"].update(path="pkg://my.rewards"), "not perception_r1"),
        # no judge for the weighted perception reward
        (lambda c: c["reward"]["custom_reward_function"]["reward_kwargs"].pop("judge"), "judge is not set"),
    ],
)
def test_manager_options_refuse_what_would_not_work(change, match):
    import copy

    cfg = copy.deepcopy(RECIPE_CFG)
    change(cfg)
    with pytest.raises(ValueError, match=match):
        ManagerOptions.from_config(cfg)


def test_manager_options_from_the_config():
    options = ManagerOptions.from_config(RECIPE_CFG)
    assert options.group_size == 4 and options.group_wait_s == 5.0
    assert options.settings == RewardSettings.from_kwargs(judge={"backend": "rule"}, isolation="inline")


def test_score_grouped_imputes_a_failed_judgment():
    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer

    good = "<think>\nAB = 5\n</think>\n<answer>\n\\boxed{3}\n</answer>"
    with FakeOpenAIServer(fake_judge.truthful_judge, latency_s=0.05) as server:
        judge = {"base_url": server.base_url, "max_retries": 0}
        settings = RewardSettings.from_kwargs(weights={"perception": 1.0}, judge=judge)
        options = ManagerOptions(settings, group_size=3, group_wait_s=10)

        async def main():
            rendezvous = GroupRendezvous(3, 10)
            extra = {"visual_annotations": ["AB = 5", "CD = 2"]}
            texts = [good + " FAULT:500", good, good + " CD = 2"]  # the marker fails every attempt of the first
            return await asyncio.gather(*(score_grouped(options, rendezvous, t, "3", extra, "u") for t in texts))

        out = asyncio.run(main())
    assert [o["reward_score"] for o in out] == pytest.approx([0.75, 0.5, 1.0])
    info = out[0]["reward_extra_info"]
    assert info["perception_missing"] == 1.0 and info["perception_imputed"] == 1.0
    assert set(info) == set(out[1]["reward_extra_info"])  # verl stacks every response by the first one's keys


@pytest.mark.skipif(importlib.util.find_spec("verl") is not None, reason="verl is installed here")
def test_the_module_imports_without_verl():
    import perception_r1.integrations.verl_manager as module

    with pytest.raises(ModuleNotFoundError, match="verl"):
        module.PerceptionR1RewardManager  # noqa: B018 - built on first access, which needs verl
