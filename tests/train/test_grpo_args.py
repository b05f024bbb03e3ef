"""The ``grpo:`` section passed through to ``trl.GRPOConfig``: keys, types, TRL's own checks, the key listing."""

from __future__ import annotations

import re

import pytest

from perception_r1.config import ConfigError, apply_overrides, describe, from_dict, to_dict
from perception_r1.train.config import TrainConfig, validate
from perception_r1.train.grpo_args import MOVED, OWNED, GRPOArgs, check_with_trl, grpo_config, grpo_fields, trl_default


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        # a field the project never declared: an int from a command-line string
        ("top_k", "5", 5),
        # a float written the way PyYAML reads as a string (no dot)
        ("learning_rate", "1e-6", 1e-6),
        # an optional float
        ("min_p", "0.05", 0.05),
        # an optional float set back to None
        ("epsilon_high", "none", None),
        # a boolean spelled as text
        ("mask_truncated_completions", "true", True),
        # `dict | str | None`: a mapping on the command line
        ("generation_kwargs", "{min_tokens: 2}", {"min_tokens": 2}),
        # `int | str | None`: a number in text becomes an int
        ("pad_to_multiple_of", "8", 8),
        # `SchedulerType | str`: a scheduler name stays text for transformers to map
        ("lr_scheduler_type", "cosine", "cosine"),
        # a plain text field
        ("vllm_importance_sampling_mode", "token_truncate", "token_truncate"),
    ],
)
def test_any_grpo_field_is_set_from_the_command_line_with_its_type(key, value, expected):
    cfg = apply_overrides(TrainConfig(), {f"grpo.{key}": value})
    assert cfg.grpo[key] == expected and type(cfg.grpo[key]) is type(expected)
    # the same value from YAML (already parsed) gives the same recipe
    assert from_dict(TrainConfig, {"grpo": {key: expected}}).grpo[key] == expected
    # and it reaches TRL unchanged (the keys the recipe leaves out keep TRL's defaults)
    args = grpo_config(cfg, [1.0, 1.0, 1.0, 1.0], check_only=True)
    assert getattr(args, key) == expected
    assert args.learning_rate == (expected if key == "learning_rate" else trl_default("learning_rate"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # a misspelled field: suggestions come from GRPOConfig's own field names
        ({"grpo": {"num_generation": 4}}, "grpo.num_generation: unknown trl.GRPOConfig field (did you mean 'num_gen"),
        # a field no release of TRL has
        ({"grpo": {"lerning_rate": 1e-6}}, "did you mean 'learning_rate'"),
        # wrong type for an int field
        ({"grpo": {"max_steps": "many"}}, "grpo.max_steps: expected int, got 'many'"),
        # wrong type for a float field
        ({"grpo": {"temperature": "hot"}}, "grpo.temperature: expected float"),
        # wrong type for a bool field
        ({"grpo": {"shuffle_dataset": "maybe"}}, "grpo.shuffle_dataset: expected true/false"),
        # wrong type for a field of several types (int | str)
        ({"grpo": {"pad_to_multiple_of": [8]}}, "grpo.pad_to_multiple_of: expected int or str"),
        # a key of older recipes: the error says where it went
        ({"grpo": {"warmup_ratio": 0.05}}, "grpo.warmup_ratio: not a trl.GRPOConfig field; use grpo.warmup_steps"),
        # the project's prompt filter is a data setting
        ({"grpo": {"max_prompt_length": 512}}, "use data.max_prompt_length"),
        # a field another section sets: one value, one place
        ({"grpo": {"output_dir": "x"}}, "grpo.output_dir: set by output.dir"),
        # the rollout engine is the rollout section's
        ({"grpo": {"use_vllm": True}}, "grpo.use_vllm: set by rollout.mode"),
        # the section must be a mapping
        ({"grpo": [1, 2]}, "grpo: expected a mapping of trl.GRPOConfig fields"),
    ],
)
def test_bad_grpo_keys_and_values_fail_naming_the_key(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(TrainConfig, data)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # a misspelled override
        ({"grpo.lerning_rate": "1e-6"}, "override grpo.lerning_rate: unknown trl.GRPOConfig field"),
        # a value of the wrong type
        ({"grpo.num_generations": "many"}, "override grpo.num_generations: expected int"),
        # an owned field on the command line
        ({"grpo.bf16": "true"}, "override grpo.bf16: set by model.dtype"),
    ],
)
def test_bad_overrides_fail_naming_the_override(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_overrides(TrainConfig(), overrides)


@pytest.mark.parametrize(
    ("grpo", "message"),
    [
        # TRL: two ways of sizing the generation batch at once
        (
            {"generation_batch_size": 16, "steps_per_generation": 1},
            "grpo.generation_batch_size, grpo.steps_per_generation: trl.GRPOConfig rejected the settings",
        ),
        # TRL: batch-size search would break the prompt groups
        ({"auto_find_batch_size": True}, "grpo.auto_find_batch_size"),
        # TRL: a hub repository for completions without logging them
        ({"log_completions_hub_repo": "me/completions"}, "grpo.log_completions_hub_repo, grpo.log_completions"),
        # TRL: a generation batch that is not a multiple of the global batch
        (
            {"generation_batch_size": 24, "per_device_train_batch_size": 16, "num_generations": 4},
            "grpo.generation_batch_size: trl.GRPOConfig rejected",
        ),
        # TRL: inverted importance-sampling clip range
        (
            {"vllm_importance_sampling_clip_min": 2.0, "vllm_importance_sampling_clip_max": 1.0},
            "grpo.vllm_importance_sampling_clip_min",
        ),
    ],
)
def test_trl_own_validation_runs_in_check_with_trl(grpo, message):
    cfg = from_dict(TrainConfig, {"grpo": grpo})  # loading accepts each value: only TRL knows the rule
    validate(cfg)  # builds no GRPOConfig (that would set up torch.distributed in a launched process)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_with_trl(cfg)


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        # 2 per device x 4 processes = 8 completions: one group of 8; TRL in this single process sees only 2
        ({"grpo": {"per_device_train_batch_size": 2}, "launch": {"num_processes": 4}}, True),
        # the same on one process cannot hold a group of 8
        ({"grpo": {"per_device_train_batch_size": 2}}, False),
        # bf16 is checked on the machine that trains, not on the one running --dry-run
        ({"model": {"dtype": "bfloat16"}}, True),
    ],
)
def test_validation_checks_the_launch_not_this_machine(data, valid):
    cfg = from_dict(TrainConfig, data)
    if valid:
        validate(cfg)
    else:
        with pytest.raises(ConfigError, match="multiple of grpo.num_generations"):
            validate(cfg)


def test_a_recipe_built_in_code_gets_the_same_checks():
    # a plain dict (not loaded from YAML) is checked, and what it leaves out is TRL's default
    with pytest.raises(ConfigError, match="grpo.warmup_ratio: not a trl.GRPOConfig field"):
        validate(TrainConfig(grpo={"warmup_ratio": 0.05}))
    args = grpo_config(TrainConfig(grpo={"max_steps": 2}), [1.0] * 4, check_only=True)
    assert (args.max_steps, args.learning_rate) == (2, trl_default("learning_rate"))


def test_the_section_is_a_plain_mapping_with_attribute_reads():
    cfg = from_dict(TrainConfig, {"grpo": {"top_k": 3}})
    # the section holds the recipe's keys only; the recipe file round-trips as plain data
    assert dict(cfg.grpo) == {"top_k": 3} and cfg.grpo.max_steps == trl_default("max_steps") == -1
    assert type(to_dict(cfg)["grpo"]) is dict and to_dict(cfg)["grpo"]["top_k"] == 3
    # an unset field reads as TRL's default
    assert cfg.grpo.num_iterations == grpo_fields()["num_iterations"].default
    with pytest.raises(AttributeError, match="did you mean 'num_iterations'"):
        _ = cfg.grpo.num_iteration


def test_help_config_lists_every_grpo_field_with_its_help():
    rows = {key: (default, help_text) for key, default, help_text in describe(TrainConfig)}
    settable = set(grpo_fields()) - set(OWNED)
    assert {key[len("grpo.") :] for key in rows if key.startswith("grpo.")} == settable
    # TRL's help text, first sentence, and TRL's default: the project sets none of its own
    assert rows["grpo.learning_rate"][0] == repr(trl_default("learning_rate")) == "1e-06"
    default, help_text = rows["grpo.top_k"]
    assert default == repr(grpo_fields()["top_k"].default)
    assert help_text and help_text in " ".join(grpo_fields()["top_k"].metadata["help"].split())
    # the project's own keys stay typed sections
    assert "data.max_prompt_length" in rows and "model.lora.r" in rows


def test_defaults_owned_and_moved_keys_are_consistent_with_the_installed_trl():
    fields = grpo_fields()
    assert not set(MOVED) & set(fields)  # a moved key that TRL gained would be shadowed by the message
    assert {k for k in OWNED if k in fields} >= {"output_dir", "reward_weights", "bf16", "use_vllm"}
    assert GRPOArgs() == {}  # nothing replaces TRL's defaults: demo values live in the embedded default recipe
