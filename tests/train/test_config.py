"""Recipe loading and validation: defaults, unknown keys, consistency checks, the paper recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception_r1.config import ConfigError, from_dict, load_config, to_dict
from perception_r1.train.config import TrainConfig, validate

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_embedded_default_is_the_tiny_cpu_run():
    cfg = TrainConfig()
    validate(cfg)
    assert (cfg.model.path, cfg.data.source, cfg.rollout.mode) == ("tiny", "synth", "hf")
    perception = next(r for r in cfg.rewards if r.name == "perception")
    assert perception.params["judge"]["backend"] == "rule"
    # the paper's weights: 0.9 accuracy, 0.1 format, 0.7 perception, 1.0 repetition
    assert {r.name: r.weight for r in cfg.rewards} == {
        "accuracy": 0.9,
        "format": 0.1,
        "perception": 0.7,
        "repetition": 1.0,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # misspelled section: suggestion names the right one
        ({"gpro": {}}, "did you mean 'grpo'"),
        # misspelled key inside a section
        ({"grpo": {"num_generation": 4}}, "did you mean 'num_generations'"),
        # misspelled key inside a reward entry (list of sections)
        ({"rewards": [{"name": "format", "wieght": 1}]}, "did you mean 'weight'"),
        # wrong type is named with its dotted path
        ({"grpo": {"max_steps": "many"}}, "grpo.max_steps"),
        # closed choices are checked
        ({"rollout": {"mode": "vllm"}}, "is not one of"),
    ],
)
def test_bad_keys_fail_with_suggestions(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(TrainConfig, data)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # an unknown reward, with suggestion
        ({"rewards": [{"name": "accuracyy"}]}, "did you mean 'accuracy'"),
        # a reward listed twice would be logged under one name
        ({"rewards": [{"name": "format"}, {"name": "format"}]}, "listed twice"),
        # GRPO needs a group
        ({"grpo": {"num_generations": 1}}, "at least 2"),
        # 4 completions per batch cannot hold groups of 3
        ({"grpo": {"num_generations": 3, "per_device_train_batch_size": 4}}, "multiple of grpo.num_generations"),
        # no rewards at all
        ({"rewards": []}, "at least one reward"),
        # transformers reads a warm-up >= 1 as a step count, so a "ratio" of 1.0 would be one step
        ({"grpo": {"warmup_ratio": 1.0}}, "grpo.warmup_ratio"),
        # a negative warm-up
        ({"grpo": {"warmup_ratio": -0.1}}, "grpo.warmup_ratio"),
    ],
)
def test_validate_rejects_inconsistent_recipes(overrides, message):
    cfg = from_dict(TrainConfig, overrides)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_paper_recipes_validate_and_differ_only_by_the_perception_reward():
    full = load_config(TrainConfig, RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    base = load_config(TrainConfig, RECIPES / "qwen2_5_vl_7b" / "rlvr_baseline.yaml")
    validate(full)
    validate(base)
    g = full.grpo
    # paper: 8 rollouts, T=1, no KL, lr 1e-6, wd 1e-3, warmup 0.05, 25 epochs, 4096/4096 tokens
    assert (g.num_generations, g.temperature, g.beta, g.learning_rate, g.weight_decay, g.warmup_ratio) == (
        8,
        1.0,
        0.0,
        1e-6,
        1e-3,
        0.05,
    )
    assert (g.num_train_epochs, g.max_prompt_length, g.max_completion_length) == (25, 4096, 4096)
    # global batch: 128 prompts x 8 rollouts on 8 processes
    assert g.per_device_train_batch_size * g.gradient_accumulation_steps * full.launch.num_processes == 128 * 8
    assert (full.model.min_pixels, full.model.max_pixels) == (3136, 1806336)
    judge = next(r for r in full.rewards if r.name == "perception").params["judge"]
    assert judge["backend"] == "openai"
    assert [r.name for r in base.rewards] == ["accuracy", "format", "repetition"]
    a, b = to_dict(full), to_dict(base)
    for d in (a, b):
        d.pop("rewards")
        d["output"].pop("dir")
        d["launch"].pop("judge_serve")
    assert a == b


def test_unknown_synth_parameter_is_a_config_error():
    from perception_r1.train.config import DataConfig
    from perception_r1.train.trainer import load_rows

    with pytest.raises(ConfigError, match="data.synth_params"):
        load_rows(DataConfig(synth_n=1, synth_params={"dificulty": 2}))


def test_paper_recipe_maps_onto_grpo_config():
    from perception_r1.config import apply_overrides
    from perception_r1.train.trainer import grpo_args

    cfg = load_config(TrainConfig, RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    # bf16 needs a GPU to pass TrainingArguments' checks; everything else maps as on the cluster
    cfg = apply_overrides(cfg, {"model.dtype": "float32"})
    args = grpo_args(cfg, [0.9, 0.1, 0.7, 1.0])
    assert (args.use_vllm, args.vllm_mode, args.vllm_max_model_length) == (True, "colocate", 8192)
    assert (args.num_generations, args.temperature, args.beta, args.learning_rate, args.weight_decay) == (
        8,
        1.0,
        0.0,
        1e-6,
        1e-3,
    )
    assert args.warmup_steps == 0.05  # transformers 5 reads a value below 1 as a ratio
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps * 8 == 128 * 8
    assert args.reward_weights == [0.9, 0.1, 0.7, 1.0]
    assert args.max_completion_length == 4096 and args.num_train_epochs == 25
