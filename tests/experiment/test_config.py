"""Experiment recipe: defaults, --quick, overrides and validation before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception_r1.config import ConfigError, apply_overrides, from_dict, to_dict
from perception_r1.experiment.arms import arm_recipe, arm_rewards
from perception_r1.experiment.config import QUICK, ExperimentConfig, validate


def test_full_and_quick_modes_validate() -> None:
    full = ExperimentConfig()
    quick = from_dict(ExperimentConfig, QUICK)
    validate(full)
    validate(quick)
    # full mode: >= 3 seeds and >= 300 test problems, as the issue asks; quick: one seed
    assert len(full.seeds) >= 3 and full.data.n_test >= 300 and quick.seeds == [0]
    # quick mode is a slice of the full mode: the same data, policy, reading and warm-up settings (so its shipped
    # warm-up, the full recipe's, never saw a quick test problem), fewer GRPO prompts and steps
    from perception_r1.experiment.shipped import shaping

    assert shaping(to_dict(quick)) == shaping(to_dict(full)) and quick.warmup.shipped and not full.warmup.shipped
    assert quick.grpo.max_steps * quick.grpo.prompts_per_step < full.grpo.max_steps * full.grpo.prompts_per_step
    assert full.grpo.frozen and quick.grpo.frozen


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"data.families": ["triangle", "circle"]}, "unknown family 'triangle'"),  # typo'd family, with suggestion
        ({"data.n_test": 0}, "data.n_test"),  # empty test split
        ({"grpo.num_generations": 1}, "at least 2"),  # GRPO needs a group
        ({"grpo.learning_rate": float("nan")}, "grpo.learning_rate"),  # nan is not a learning rate
        ({"warmup.learning_rate": -1.0}, "warmup.learning_rate"),  # negative
        ({"grpo.temperature": 0.0}, "grpo.temperature"),  # sampling needs a positive temperature
        ({"seeds": [0, 0]}, "seeds"),  # duplicated seed would silently run one arm twice
        ({"warmup.n_examples": 10**6}, "warmup.n_examples"),  # more warm-up examples than train problems
        ({"policy.image_size": 150}, "policy.image_size"),  # not a multiple of 28
        ({"reading.steps": -1}, "reading.steps"),  # 0 turns the stage off; negative means nothing
        ({"reading.n_examples": 0}, "reading.n_examples"),  # no figure to read
        ({"reading.n_examples": 10**6}, "reading.n_examples"),  # more figures than train problems
        ({"reading.batch_size": 0}, "reading.batch_size"),  # empty batch
        ({"reading.learning_rate": float("inf")}, "reading.learning_rate"),  # not finite
        ({"policy.num_kv_heads": 3}, "num_kv_heads"),  # must divide the heads (4)
        ({"grpo.format_template": "think_answr"}, "did you mean 'think_answer'"),  # typo'd template
    ],
)
def test_invalid_values_fail_with_the_key(override: dict, message: str) -> None:
    cfg = apply_overrides(ExperimentConfig(), override)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_unknown_key_suggests() -> None:
    # a typo'd key never passes silently
    with pytest.raises(ConfigError, match="did you mean 'max_steps'"):
        apply_overrides(ExperimentConfig(), {"grpo.max_step": 3})


def test_arms_differ_only_in_the_perception_weight() -> None:
    cfg = ExperimentConfig()
    rl = arm_recipe(cfg, "rlvr", 1, "w", "t.parquet", "o1")
    pr = arm_recipe(cfg, "perception_r1", 1, "w", "t.parquet", "o2")
    weights = {r.name: r.weight for r in rl.rewards}, {r.name: r.weight for r in pr.rewards}
    # the paper's weights; rlvr logs the perception reward but does not train on it
    assert weights == (
        {"accuracy": 0.9, "format": 0.1, "perception": 0.0, "repetition": 1.0},
        {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0},
    )
    assert rl.grpo == pr.grpo and rl.data == pr.data and rl.model == pr.model
    assert rl.grpo.seed == 1 and rl.grpo.per_device_train_batch_size == cfg.grpo.prompts_per_step * 8


def test_the_format_template_reaches_both_arms() -> None:
    cfg = apply_overrides(ExperimentConfig(), {"grpo.format_template": "think_answer_strict"})
    for arm in ("rlvr", "perception_r1"):
        (spec,) = [r for r in arm_recipe(cfg, arm, 0, "w", "t.parquet", "o").rewards if r.name == "format"]
        assert spec.params == {"template": "think_answer_strict"}
    # the default is the reference implementation's regex
    (spec,) = [r for r in arm_rewards("rlvr", 0.7, 20) if r.name == "format"]
    assert spec.params == {"template": "think_answer"}


def test_the_frozen_control_is_the_rlvr_recipe_at_learning_rate_zero() -> None:
    cfg = ExperimentConfig()
    rl = arm_recipe(cfg, "rlvr", 2, "w", "t.parquet", "o1")
    frozen = arm_recipe(cfg, "frozen", 2, "w", "t.parquet", "o2")
    # same prompts, seed, order, steps and logged rewards; only the learning rate differs
    assert frozen.grpo.learning_rate == 0.0 and rl.grpo.learning_rate == cfg.grpo.learning_rate > 0
    assert {k: v for k, v in frozen.grpo.items() if k != "learning_rate"} == {
        k: v for k, v in rl.grpo.items() if k != "learning_rate"
    }
    assert frozen.rewards == rl.rewards and frozen.data == rl.data and frozen.model == rl.model


@pytest.mark.parametrize(
    ("overrides", "runs"),
    [
        # the default: both arms and the frozen control, seed by seed
        ({"seeds": [0, 1]}, [("rlvr", 0), ("perception_r1", 0), ("frozen", 0), ("rlvr", 1), ("perception_r1", 1),
                             ("frozen", 1)]),
        # the control switched off: the two arms only
        ({"seeds": [3], "grpo": {"frozen": False}}, [("rlvr", 3), ("perception_r1", 3)]),
        # quick mode: both arms and the frozen control, one seed
        (QUICK, [("rlvr", 0), ("perception_r1", 0), ("frozen", 0)]),
    ],
)  # fmt: skip
def test_grpo_runs(overrides: dict, runs: list) -> None:
    from perception_r1.experiment.config import grpo_runs

    assert grpo_runs(from_dict(ExperimentConfig, overrides)) == runs


def test_unknown_arm() -> None:
    with pytest.raises(ConfigError, match="unknown arm"):
        arm_rewards("ppo", 0.7, 20)


def test_the_full_recipe_file_lists_every_key_at_its_full_mode_default() -> None:
    import yaml

    from perception_r1.config import flatten_keys, to_dict

    root = Path(__file__).resolve().parents[2]
    listed = flatten_keys(yaml.safe_load((root / "recipes" / "experiment" / "synthetic.yaml").read_text()))
    defaults = flatten_keys(to_dict(ExperimentConfig()))
    # the file says it lists every key with the full mode's value: a key missing or drifted is named
    assert {k: listed.get(k) for k in defaults if listed.get(k) != defaults[k]} == {}
    assert listed.keys() <= defaults.keys()


def test_the_quick_flag_help_states_the_quick_recipe() -> None:
    # the --quick help is what a newcomer reads first; it must not drift from QUICK's warm-up and GRPO lengths
    import re

    from typer.testing import CliRunner

    from perception_r1.cli.main import build_app

    quick = from_dict(ExperimentConfig, QUICK)
    out = CliRunner().invoke(build_app(), ["experiment", "--help"], terminal_width=400).output
    text = re.sub(r"[\s│]+", " ", out)
    assert quick.warmup.shipped and "shipped warm-up" in text
    assert f"{quick.grpo.max_steps} GRPO steps of {quick.grpo.prompts_per_step} prompts" in text
