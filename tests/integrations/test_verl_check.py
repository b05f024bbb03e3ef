"""The verl config check: every way verl would not call our reward is reported (no verl needed)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import perception_r1.integrations.verl as adapter
from perception_r1.integrations.verl_check import check_config, layout_for, names_module, set_override

RECIPES = Path(__file__).parents[2] / "recipes" / "verl"
NEW = yaml.safe_load((RECIPES / "perception_r1.yaml").read_text())
OLD = yaml.safe_load((RECIPES / "perception_r1_legacy.yaml").read_text())


def _with(cfg, *overrides):
    cfg = copy.deepcopy(cfg)
    for override in overrides:
        set_override(cfg, override)
    return cfg


@pytest.mark.parametrize(
    ("cfg", "layout", "expected"),
    [
        # the README's former command on verl >= 0.8: only the old top-level keys -> verl's built-in scorer
        (OLD, "reward_loop", ["verl < 0.8 keys", "reward.custom_reward_function.path is not set"]),
        # the new recipe on verl < 0.8: the old trainer reads the top-level keys, which are not set
        (NEW, "legacy", ["custom_reward_function.path is not set, so verl < 0.8"]),
        # someone else's reward module
        (_with(NEW, "reward.custom_reward_function.path=pkg://my.rewards"), "reward_loop", ["not perception_r1's"]),
        # the batch entry point under the per-response reward loop
        (_with(NEW, "reward.custom_reward_function.name=compute_score_batch"), "reward_loop", ["one response per"]),
        # verl < 0.8's 'batch' manager no longer exists
        (
            _with(NEW, "reward.reward_manager.source=register", "reward.reward_manager.name=batch"),
            "reward_loop",
            ["'batch' is not a verl >= 0.8 reward-loop manager"],
        ),
        # our group manager with several reward workers
        (_with(NEW, "reward.num_workers=8"), "reward_loop", ["reward.num_workers=8"]),
        (_with(NEW, "reward.reward_manager.name=Other"), "reward_loop", ["the class in"]),
        # no judge: the adapter would refuse at the first step; say it before the launch
        (_with(NEW, "~reward.custom_reward_function.reward_kwargs.judge"), "reward_loop", ["judge is not set"]),
        # a weight for a reward that does not exist
        (
            _with(NEW, "reward.custom_reward_function.reward_kwargs.weights={accuracy: 1, percepton: 1}"),
            "reward_loop",
            ["percepton"],
        ),
        # group size disagreeing with rollout.n
        (_with(OLD, "custom_reward_function.reward_kwargs.num_generations=4"), "legacy", ["num_generations=4"]),
        # the micro-batch sizes verl insists on
        (
            _with(NEW, "~actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu"),
            "reward_loop",
            ["ppo_micro_batch_size_per_gpu is not set"],
        ),
        # ... unless dynamic batch sizes are on
        (
            _with(
                NEW,
                "~actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu",
                "actor_rollout_ref.actor.use_dynamic_bsz=true",
            ),
            "reward_loop",
            [],
        ),
        # the coroutine under a legacy per-response manager (it would be called without being awaited)
        (
            _with(OLD, "reward_model.reward_manager=naive", "custom_reward_function.name=compute_score_async"),
            "legacy",
            ["expected one of compute_score here"],
        ),
        # the two recipes, each for its verl
        (NEW, "reward_loop", []),
        (OLD, "legacy", []),
    ],
)
def test_check_config(cfg, layout, expected):
    problems, _ = check_config(cfg, layout)
    assert len(problems) == len(expected), problems
    for problem, text in zip(problems, expected, strict=True):
        assert text in problem


@pytest.mark.parametrize(
    ("overrides", "note"),
    [
        # both layouts set: works on verl >= 0.8, but the old keys do nothing: said as a note
        (["+custom_reward_function.path=pkg://perception_r1.integrations.verl"], "verl < 0.8 keys"),
        # verl's naive manager: fine, but not group-neutral
        (
            ["reward.reward_manager.source=register", "reward.reward_manager.name=naive", "reward.num_workers=8"],
            "adds 0",
        ),
        # the synchronous function: fine, but a few judge calls at a time
        (["reward.custom_reward_function.name=compute_score"], "synchronous"),
    ],
)
def test_notes(overrides, note):
    problems, notes = check_config(_with(NEW, *overrides))
    assert problems == [] and any(note in n for n in notes)


@pytest.mark.parametrize(
    ("version", "layout"),
    [
        ("0.9.1", "reward_loop"),
        ("0.8.0", "reward_loop"),
        ("0.7.1", "legacy"),
        ("0.4", "legacy"),
        (None, "reward_loop"),
    ],
)
def test_layout_for(version, layout):
    assert layout_for(version) == layout


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pkg://perception_r1.integrations.verl", True),
        ("pkg://perception_r1/integrations/verl", True),  # verl accepts slashes too
        ("pkg://perception_r1.train.verl_reward", True),  # the former module path
        (adapter.__file__, True),  # a file path to the installed module
        ("file://" + adapter.__file__, True),
        ("pkg://perception_r1.integrations.easyr1", False),
        ("/elsewhere/verl.py", False),
        (None, False),
    ],
)
def test_names_module(path, expected):
    assert names_module(path, ("perception_r1.integrations.verl", "perception_r1.train.verl_reward")) is expected


def test_cli_check_exit_status(tmp_path):
    from perception_r1.cli.main import build_app

    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(OLD))
    runner = CliRunner()
    bad = runner.invoke(build_app(), ["verl", "check", str(old), "--verl-version", "0.9.1", "--no-compose"])
    assert bad.exit_code == 1 and "is not set, so verl >= 0.8 scores with its built-in" in bad.output
    ok = runner.invoke(build_app(), ["verl", "check", str(old), "--verl-version", "0.7.1", "--no-compose"])
    assert ok.exit_code == 0 and "ok: verl will call" in ok.output
    fixed = runner.invoke(
        build_app(),
        ["verl", "check", str(RECIPES / "perception_r1.yaml"), "--no-compose", "reward.num_workers=2"],
    )
    assert fixed.exit_code == 1 and "reward.num_workers=2" in fixed.output
