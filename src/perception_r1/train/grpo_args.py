"""The recipe's ``grpo:`` section: keyword arguments of ``trl.GRPOConfig``, passed through.

Any field of ``trl.GRPOConfig`` (and so of ``transformers.TrainingArguments``) can be set as ``grpo: {field: value}``
in YAML or ``--grpo.field VALUE`` on the command line, with no code here: the value is converted to the field's
declared type, an unknown key fails with a "did you mean" among GRPOConfig's field names, and TRL's own checks
(``GRPOConfig.__post_init__``) run in :func:`perception_r1.train.config.validate`, so in ``train --dry-run``.

Two kinds of keys are not taken here:
    * fields set from the recipe's own sections (:data:`OWNED`: output folder, reward weights, dtype, logging,
      checkpointing, rollout engine), so that one value never has two places;
    * keys of older recipes that are no GRPOConfig field (:data:`MOVED`): the error names their new place.

The project pins a few defaults (:data:`GRPO_DEFAULTS`): the paper's choices, so that a change of TRL's defaults
does not change the method, and the small CPU run of the embedded default.

Example:
    >>> args = GRPOArgs({"max_steps": 10})
    >>> args["max_steps"], args["learning_rate"]  # the recipe's value, the project's default
    (10, 3e-05)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from perception_r1.config import ConfigError, coerce_value
from perception_r1.registry import did_you_mean

if TYPE_CHECKING:
    from perception_r1.train.config import TrainConfig

# The project's defaults where they matter: the paper's method (8 rollouts, T = 1, no KL term, token-level loss)
# is pinned even where TRL's default agrees today; the rest sizes the embedded default for a few CPU steps.
GRPO_DEFAULTS: dict[str, Any] = {
    "num_generations": 8,
    "temperature": 1.0,
    "beta": 0.0,
    "loss_type": "dapo",
    "scale_rewards": "group",
    "multi_objective_aggregation": "sum_then_normalize",
    "max_completion_length": 128,  # the testbed's solutions take 50-110 tokens
    "per_device_train_batch_size": 16,
    "learning_rate": 3e-5,  # paper: 1e-6; 3e-5 suits the CPU default's small policy
    "weight_decay": 1e-3,
    "lr_scheduler_type": "constant_with_warmup",
    "num_train_epochs": 1.0,
    "max_steps": 4,
    "seed": 42,
}

# GRPOConfig fields the recipe sets from its own sections: the key that sets each.
OWNED: dict[str, str] = {
    "output_dir": "output.dir",
    "save_steps": "output.save_steps",
    "save_total_limit": "output.save_total_limit",
    "reward_weights": "rewards[].weight",
    "bf16": "model.dtype",
    "fp16": "model.dtype",
    "gradient_checkpointing": "model.gradient_checkpointing",
    "activation_checkpointing": "model.gradient_checkpointing",
    "report_to": "logging.report_to",
    "logging_steps": "logging.logging_steps",
    "use_vllm": "rollout.mode",
    "vllm_mode": "rollout.mode",
    "vllm_server_host": "rollout.server_host",
    "vllm_server_port": "rollout.server_port",
    "vllm_gpu_memory_utilization": "rollout.gpu_memory_utilization",
    "vllm_tensor_parallel_size": "rollout.tensor_parallel_size",
    "vllm_max_model_length": "rollout.max_model_length",
    "remove_unused_columns": "the trainer (always false: the rewards read the dataset's columns)",
}

# Keys of earlier recipes that are no GRPOConfig field: where each went.
MOVED: dict[str, str] = {
    "warmup_ratio": "grpo.warmup_steps (transformers 5 reads a value in [0, 1) as a ratio of the total steps)",
    "max_prompt_length": "data.max_prompt_length (the project's own filter; TRL has no prompt length limit)",
}

_SCALARS = (bool, int, float, str)


@functools.cache
def grpo_fields() -> dict[str, dataclasses.Field]:
    """The init fields of the installed ``trl.GRPOConfig``, by name (imports TRL on first use)."""
    from trl import GRPOConfig

    return {f.name: f for f in dataclasses.fields(GRPOConfig) if f.init}


@functools.cache
def _field_types() -> dict[str, Any]:
    from trl import GRPOConfig

    return typing.get_type_hints(GRPOConfig)


def trl_default(name: str) -> Any:
    """TRL's default of GRPOConfig field ``name`` (None for a field without one)."""
    f = grpo_fields()[name]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def check_key(key: str, where: str) -> None:
    """Raise a ConfigError at ``where`` unless ``key`` is a GRPOConfig field this section may set."""
    if key in MOVED:
        raise ConfigError(f"{where}: not a trl.GRPOConfig field; use {MOVED[key]}")
    fields = grpo_fields()
    if key not in fields:
        raise ConfigError(
            f"{where}: unknown trl.GRPOConfig field{did_you_mean(key, list(fields))} "
            "(`perception-r1 train --help-config` lists them)"
        )
    if key in OWNED:
        raise ConfigError(f"{where}: set by {OWNED[key]} of the recipe, not under grpo")


def coerce_field(key: str, value: Any, where: str) -> Any:
    """``value`` (from YAML or a command-line string) converted to the declared type of GRPOConfig field ``key``.

    Raises:
        ConfigError: at ``where``, naming the expected type.
    """
    check_key(key, where)
    tp = _field_types()[key]
    members = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) not in (typing.Union, types.UnionType) or len(members) == 1:
        return coerce_value(value, tp, where)
    return _coerce_union(value, members, len(members) < len(typing.get_args(tp)), where)


def _coerce_union(value: Any, members: list[Any], optional: bool, where: str) -> Any:
    """A value for a field of several types (``int | str``, ``dict | str``, ``SchedulerType | str``, ...)."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise ConfigError(f"{where}: null is not allowed here")
    parsed = value
    if isinstance(value, str):
        try:  # a command-line string may spell a number, a boolean, a list or a mapping
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
    for tp in members:
        origin = typing.get_origin(tp) or tp
        if origin is typing.Literal:
            if any(type(parsed) is type(c) and parsed == c for c in typing.get_args(tp)):
                return parsed
        elif origin in (*_SCALARS, dict, list) and isinstance(parsed, origin):
            if not (origin in (int, float) and isinstance(parsed, bool)):
                return parsed
    takes_text = any(tp is str or (isinstance(tp, type) and issubclass(tp, enum.Enum)) for tp in members)
    if takes_text and isinstance(value, str):
        return value
    if any(isinstance(tp, type) and tp not in (*_SCALARS, dict, list) for tp in members):
        return value  # an object type (e.g. accelerate's ParallelismConfig): TRL checks it
    names = " or ".join(getattr(tp, "__name__", str(tp)) for tp in members)
    raise ConfigError(f"{where}: expected {names}, got {value!r}")


class GRPOArgs(dict[str, Any]):
    """The ``grpo:`` section: GRPOConfig keyword arguments over :data:`GRPO_DEFAULTS`.

    A plain mapping (``to_dict`` and JSON see a dict); fields also read as attributes, falling back to TRL's
    default (``cfg.grpo.num_iterations``). The ``config_*`` methods are the hooks of :mod:`perception_r1.config`.
    """

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        # Also takes (key, value) pairs: dataclasses.asdict and copy rebuild a dict subclass from them.
        super().__init__({**GRPO_DEFAULTS, **dict(values or {})})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.effective(name)

    def effective(self, name: str) -> Any:
        """The value training will use: the recipe's, else the project's default, else TRL's.

        Raises:
            AttributeError: ``name`` is no GRPOConfig field (with suggestions).
        """
        if name in self:
            return self[name]
        if name not in grpo_fields():
            raise AttributeError(f"grpo.{name}: no such trl.GRPOConfig field{did_you_mean(name, list(grpo_fields()))}")
        return trl_default(name)

    @classmethod
    def config_coerce(cls, value: Any, where: str) -> GRPOArgs:
        """The section from a YAML mapping: every key checked, every value converted to its field's type."""
        if isinstance(value, str):  # the whole section from the command line: grpo='{max_steps: 2}'
            value = yaml.safe_load(value)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping of trl.GRPOConfig fields, got {value!r}")
        return cls({str(k): coerce_field(str(k), v, f"{where}.{k}") for k, v in value.items()})

    def config_override(self, key: str, value: Any, where: str) -> GRPOArgs:
        """A copy with ``key`` set from a command-line override (``where`` names the override)."""
        return type(self)({**self, key: coerce_field(key, value, where)})

    @classmethod
    def config_describe(cls, prefix: str) -> list[tuple[str, str, str]]:
        """``--help-config`` rows (key, default, help) generated from GRPOConfig's fields and their help."""
        rows = []
        for name, f in grpo_fields().items():
            if name in OWNED:
                continue
            help_text = " ".join(str(f.metadata.get("help", "")).split())
            first = re.split(r"(?<=\.)\s+(?=[A-Z`])", help_text, maxsplit=1)[0]  # the first sentence
            if name in GRPO_DEFAULTS:
                default, first = GRPO_DEFAULTS[name], f"{first} [perception-r1 default; TRL: {trl_default(name)!r}]"
            else:
                default = trl_default(name)
            rows.append((f"{prefix}{name}", repr(default), first))
        return rows


def _owned_values(cfg: TrainConfig, reward_weights: list[float]) -> dict[str, Any]:
    """The GRPOConfig fields set from the recipe's own sections (see :data:`OWNED`)."""
    r, out = cfg.rollout, cfg.output
    values: dict[str, Any] = {
        "output_dir": out.dir,
        "save_steps": out.save_steps,
        "save_total_limit": out.save_total_limit,
        "reward_weights": list(reward_weights),
        "bf16": cfg.model.dtype == "bfloat16",
        "fp16": cfg.model.dtype == "float16",
        "report_to": cfg.logging.report_to,
        "logging_steps": cfg.logging.logging_steps,
        "remove_unused_columns": False,
        "use_vllm": r.mode != "hf",
    }
    # transformers 5 renamed gradient_checkpointing (the old name warns); TRL's default of both is True.
    checkpointing = (
        "activation_checkpointing" if "activation_checkpointing" in grpo_fields() else "gradient_checkpointing"
    )
    values[checkpointing] = cfg.model.gradient_checkpointing
    if r.mode == "vllm_colocate":
        values.update(
            vllm_mode="colocate",
            vllm_gpu_memory_utilization=r.gpu_memory_utilization,
            vllm_tensor_parallel_size=r.tensor_parallel_size,
            vllm_max_model_length=r.max_model_length,
        )
    elif r.mode == "vllm_server":
        values.update(vllm_mode="server", vllm_server_host=r.server_host, vllm_server_port=r.server_port)
    return values


def grpo_config(cfg: TrainConfig, reward_weights: list[float], *, check_only: bool = False) -> Any:
    """``trl.GRPOConfig`` from the recipe: the ``grpo`` section plus the fields the other sections own.

    Args:
        cfg: The recipe.
        reward_weights: One weight per reward function, in recipe order.
        check_only: Build the single-process equivalent of the launch, to run TRL's checks on this machine
            (e.g. a login node): per-device batch sizes are multiplied by ``launch.num_processes`` (TRL checks
            divisibility against the current process count) and ``use_cpu`` is set (the precision flags are
            checked against the devices of the machine that trains).

    Raises:
        ConfigError: a bad key or value, or TRL's own rejection, naming the recipe keys its message mentions.
    """
    from trl import GRPOConfig

    kwargs = {key: coerce_field(key, value, f"grpo.{key}") for key, value in GRPOArgs(cfg.grpo).items()}
    kwargs.update(_owned_values(cfg, reward_weights))
    if "use_cpu" not in kwargs and not check_only:
        import torch

        # With no accelerator, transformers sets up several launched processes only when told they run on the
        # CPU (gloo); otherwise each rank silently trains alone. With one, its own backend (NCCL on GPUs) is used.
        kwargs["use_cpu"] = not torch.accelerator.is_available()
    if check_only:
        n = cfg.launch.num_processes
        for key in ("per_device_train_batch_size", "per_device_eval_batch_size"):
            kwargs[key] = kwargs.get(key, trl_default(key)) * n
        kwargs["use_cpu"] = True
    try:
        return GRPOConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(_trl_error(str(exc))) from exc


def _trl_error(message: str) -> str:
    """TRL's message, prefixed with the recipe keys of the fields it names."""
    found = []
    for name in grpo_fields():
        match = re.search(rf"\b{re.escape(name)}\b", message)
        if match:
            found.append((match.start(), OWNED[name] if name in OWNED else f"grpo.{name}"))
    keys = []
    for _, key in sorted(found):  # in the order the message names them: the field it is about comes first
        if key not in keys:
            keys.append(key)
    named = ", ".join(keys) if keys else "grpo"
    return f"{named}: trl.GRPOConfig rejected the settings: {message}"
