"""Recipe loading and validation: defaults, unknown keys, consistency checks, the paper recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception_r1.config import ConfigError, from_dict, load_config, to_dict
from perception_r1.train.config import TrainConfig, validate

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_embedded_default_is_the_tiny_cpu_run():
    from perception_r1.train.config import embedded_default

    cfg = embedded_default()
    validate(cfg)
    assert cfg.grpo["max_steps"] == 4 and cfg.output.dir == "runs/tiny-default"
    # the policy that can see: the synthetic experiment's cached warm-up, not an untrained vision tower
    assert (cfg.model.path, cfg.data.source, cfg.rollout.mode) == ("warmup", "synth", "hf")
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
        # transformers reads a warm-up >= 1 as a step count and would silently drop the fraction of 1.5
        ({"grpo": {"warmup_steps": 1.5}}, "grpo.warmup_steps: a value in"),
        # a negative warm-up
        ({"grpo": {"warmup_steps": -0.1}}, "grpo.warmup_steps: must be >= 0"),
        # max_steps 0 trains no step in transformers (only a negative value runs the epochs)
        ({"grpo": {"max_steps": 0}}, "grpo.max_steps: 0 trains no step"),
        # 2 per device x 2 processes = 4 completions per generation round cannot hold groups of 8
        ({"grpo": {"per_device_train_batch_size": 2}, "launch": {"num_processes": 2}}, "multiple of grpo.num_gen"),
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
    assert (g.num_generations, g.temperature, g.beta, g.learning_rate, g.weight_decay, g.warmup_steps) == (
        8,
        1.0,
        0.0,
        1e-6,
        1e-3,
        0.05,
    )
    assert (g.num_train_epochs, full.data.max_prompt_length, g.max_completion_length) == (25, 4096, 4096)
    assert g.max_steps < 0  # the epochs decide the length
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
    # a bad value of a known parameter too, named
    with pytest.raises(ConfigError, match="data.synth_params: multiple_choice must be true or false"):
        load_rows(DataConfig(synth_n=1, synth_params={"multiple_choice": "yes"}))


def test_synth_params_multiple_choice_gives_letter_answers_with_choices():
    from perception_r1.train.config import DataConfig
    from perception_r1.train.trainer import load_rows

    rows = load_rows(DataConfig(synth_n=6, synth_params={"size": 112, "multiple_choice": True}))
    assert all(r["answer"] in "ABCD" and len(r["choices"]) == 4 for r in rows)


def test_paper_recipe_maps_onto_grpo_config():
    from perception_r1.config import apply_overrides
    from perception_r1.train.grpo_args import grpo_config

    cfg = load_config(TrainConfig, RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    # bf16 needs a GPU to pass TrainingArguments' checks; everything else maps as on the cluster
    cfg = apply_overrides(cfg, {"model.dtype": "float32"})
    args = grpo_config(cfg, [0.9, 0.1, 0.7, 1.0])
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
    assert args.max_completion_length == 4096 and args.num_train_epochs == 25 and args.max_steps == -1
    # the fields other sections own
    assert (args.output_dir, args.save_steps, args.save_total_limit) == ("runs/qwen2_5_vl_7b/perception_r1", 20, 3)
    assert (args.bf16, args.gradient_checkpointing, args.report_to) == (False, True, ["tensorboard"])
    assert args.remove_unused_columns is False  # the rewards read the dataset's columns


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"grpo": {"learning_rate": -1e-6}}, "grpo.learning_rate: must be >= 0"),  # negative learning rate
        ({"grpo": {"learning_rate": float("inf")}}, "grpo.learning_rate: expected a finite number"),  # inf
        ({"grpo": {"learning_rate": float("nan")}}, "grpo.learning_rate: expected a finite number"),  # nan
        ({"grpo": {"temperature": -1.0}}, "grpo.temperature: must be > 0"),  # negative temperature
        ({"grpo": {"temperature": 0.0}}, "grpo.temperature: must be > 0"),  # zero temperature: no sampling
        ({"grpo": {"top_p": 7.0}}, "grpo.top_p: must be > 0 and <= 1"),  # top_p above 1
        ({"grpo": {"top_p": 0.0}}, "grpo.top_p: must be > 0"),  # top_p of 0 keeps no token
        ({"grpo": {"epsilon": -0.2}}, "grpo.epsilon: must be >= 0"),  # negative clip range
        ({"grpo": {"epsilon_high": -0.1}}, "grpo.epsilon_high"),  # negative upper clip range
        ({"grpo": {"beta": -0.1}}, "grpo.beta"),  # negative KL coefficient
        ({"grpo": {"per_device_train_batch_size": 0}}, "grpo.per_device_train_batch_size: must be >= 1"),  # 0
        ({"grpo": {"gradient_accumulation_steps": 0}}, "grpo.gradient_accumulation_steps"),  # zero accumulation
        ({"grpo": {"max_completion_length": 0}}, "grpo.max_completion_length: must be >= 1"),  # no tokens
        ({"data": {"max_prompt_length": 0}}, "data.max_prompt_length"),  # prompt length 0
        ({"grpo": {"loss_type": "ppo"}}, "grpo.loss_type: unknown loss type 'ppo'"),  # not a TRL loss
        ({"grpo": {"scale_rewards": "zscore"}}, "grpo.scale_rewards"),  # not a TRL scaling
        ({"rewards": [{"name": "format", "weight": float("nan")}]}, r"rewards\[0\].weight"),  # nan weight
        ({"output": {"resume": "maybe"}}, "output.resume: expected auto, never or an existing checkpoint"),
        ({"output": {"save_steps": 0}}, "output.save_steps"),  # checkpoint every 0 steps
        ({"rollout": {"server_port": 70000}}, "rollout.server_port: must be >= 1 and <= 65535"),  # no such port
        ({"rollout": {"gpu_memory_utilization": 1.5}}, "rollout.gpu_memory_utilization"),  # over 100 %
        ({"launch": {"num_processes": 0}}, "launch.num_processes"),  # no process at all
        ({"data": {"synth_n": 0}}, "data.synth_n"),  # an empty synthetic set
        ({"data": {"synth_n": 10**9}}, "data.synth_n: 1000000000 problems generated in memory need"),  # no limit
        ({"model": {"min_pixels": 100, "max_pixels": 10}}, "model.min_pixels"),  # inverted pixel bounds
    ],
)
def test_validate_rejects_out_of_range_values(overrides, message):
    cfg = from_dict(TrainConfig, overrides)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_validate_rejects_a_typo_in_a_local_data_path(tmp_path):
    (tmp_path / "train.parquet").write_bytes(b"")
    typo = from_dict(TrainConfig, {"data": {"source": str(tmp_path / "trian.parquet")}})
    with pytest.raises(ConfigError, match=r"data.source: .*trian.parquet: no such file.*did you mean 'train.parquet'"):
        validate(typo)
    # the right path, an existing checkpoint folder and a hub id all pass
    ok = from_dict(
        TrainConfig, {"data": {"source": str(tmp_path / "train.parquet")}, "output": {"resume": str(tmp_path)}}
    )
    validate(ok)
    validate(from_dict(TrainConfig, {"data": {"source": "hf:someone/geometry"}}))


def test_known_loss_types_are_those_of_the_installed_trl():
    # The list is checked without importing TRL (validation runs before any heavy import); keep it in step.
    import importlib.util
    import re

    from perception_r1.train.grpo_args import LOSS_TYPES

    source = Path(importlib.util.find_spec("trl.trainer.grpo_trainer").origin).read_text(encoding="utf-8")
    used = set(re.findall(r'loss_type == "(\w+)"', source))
    for group in re.findall(r"loss_type in \[([^\]]*)\]", source):
        used |= set(re.findall(r'"(\w+)"', group))
    assert used and used == set(LOSS_TYPES)


def test_defaults_in_code_are_trls_not_a_demo():
    # a recipe that leaves out max_steps trains TRL's default (all of num_train_epochs), not the demo's 4 steps
    from perception_r1.train.grpo_args import trl_default

    cfg = from_dict(TrainConfig, {"grpo": {"learning_rate": 1e-6}})
    for key in ("max_steps", "per_device_train_batch_size", "max_completion_length", "num_train_epochs"):
        assert cfg.grpo.effective(key) == trl_default(key), key
    # and the code's model default needs no experiment: the tiny local model, not the experiment's warm-up
    assert cfg.model.path == "tiny"
