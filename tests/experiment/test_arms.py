"""The arms are overlays of one training recipe (``experiment/arm.yaml``): that file is a valid ``train`` recipe,
and each arm's recipe differs from it by exactly the experiment's settings and the arm's overlay."""

from __future__ import annotations

import pytest

from perception_r1.config import ConfigError, flatten_keys, from_dict, load_yaml, to_dict
from perception_r1.experiment.arms import ARM_OVERLAYS, ARM_RECIPE, arm_recipe
from perception_r1.experiment.config import QUICK, ExperimentConfig
from perception_r1.train.config import TrainConfig, validate


def test_the_arm_recipe_is_a_valid_training_recipe() -> None:
    # what `perception-r1 train perception_r1/experiment/arm.yaml` would read; TRL's own checks included
    validate(from_dict(TrainConfig, load_yaml(ARM_RECIPE), str(ARM_RECIPE)))


def _flat(cfg: TrainConfig) -> dict:
    data = to_dict(cfg)
    data["rewards"] = {r["name"]: r for r in data["rewards"]}  # compared by name, as the overlays address them
    return flatten_keys(data)


@pytest.mark.parametrize(
    ("arm", "differs"),
    [
        # the perception reward is computed and logged in every arm; only perception_r1 trains on it
        ("perception_r1", set()),
        ("rlvr", {"rewards.perception.weight"}),
        # the frozen control: rlvr at learning rate 0
        ("frozen", {"rewards.perception.weight", "grpo.learning_rate"}),
    ],
)
def test_each_arm_is_the_perception_r1_recipe_and_its_overlay(arm: str, differs: set) -> None:
    for cfg in (ExperimentConfig(), from_dict(ExperimentConfig, QUICK)):
        base = _flat(arm_recipe(cfg, "perception_r1", 0, "w", "t.parquet", "o"))
        got = _flat(arm_recipe(cfg, arm, 0, "w", "t.parquet", "o"))
        assert {k for k in base if base[k] != got.get(k)} == differs
        assert all(got[k.replace("[perception]", ".perception")] == v for k, v in ARM_OVERLAYS[arm].items())


def test_the_experiment_settings_reach_the_recipe() -> None:
    cfg = from_dict(ExperimentConfig, {**QUICK, "processes": 2, "grpo": {"learning_rate": 3e-5, "max_steps": 7}})
    got = arm_recipe(cfg, "perception_r1", 5, "warm/final", "split/train.parquet", "out/run")
    # the recipe file's values are replaced where the experiment sets them
    assert (got.model.path, got.data.source, got.output.dir) == ("warm/final", "split/train.parquet", "out/run")
    assert (got.grpo.learning_rate, got.grpo.max_steps, got.grpo.seed) == (3e-5, 7, 5)
    # the step's prompts are split over the processes of one run: the global batch stays the same
    assert got.launch.num_processes == 2
    assert got.grpo.per_device_train_batch_size * 2 == cfg.grpo.prompts_per_step * cfg.grpo.num_generations


def test_an_unknown_arm_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown arm 'ppo'; known: rlvr, perception_r1, frozen"):
        arm_recipe(ExperimentConfig(), "ppo", 0, "w", "t.parquet", "o")
