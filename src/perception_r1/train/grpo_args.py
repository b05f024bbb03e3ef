"""The recipe's ``grpo:`` section: keyword arguments of ``trl.GRPOConfig``, passed through.

Any field of ``trl.GRPOConfig`` (and so of ``transformers.TrainingArguments``) can be set as ``grpo: {field: value}``
in YAML or ``--grpo.field VALUE`` on the command line, with no code here: the value is converted to the field's
declared type, an unknown key fails with a "did you mean" among GRPOConfig's field names. :func:`validate_grpo` is
the one place that checks the section's values; TRL's own checks (``GRPOConfig.__post_init__``) run when the real
config is built (:func:`grpo_config`, before the policy loads) and, for ``train --dry-run``, in :func:`check_with_trl`.

Two kinds of keys are not taken here:
    * fields set from the recipe's own sections (:data:`OWNED`: output folder, reward weights, dtype, logging,
      checkpointing, rollout engine), so that one value never has two places;
    * keys of older recipes that are no GRPOConfig field (:data:`MOVED`): the error names their new place.

A key the recipe leaves out takes TRL's own default: the paper's settings and the embedded CPU default's sizes are
written in their recipes (``recipes/qwen2_5_vl_7b/*.yaml``, ``perception_r1/train/default.yaml``).

Example:
    >>> args = GRPOArgs({"max_steps": 10})
    >>> args["max_steps"], args.learning_rate  # the recipe's value, TRL's default
    (10, 1e-06)
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

from perception_r1.config import ConfigError, check_number, coerce_value
from perception_r1.registry import did_you_mean

if TYPE_CHECKING:
    from perception_r1.train.config import TrainConfig

# TRL's GRPO loss types (the union over the TRL releases this project supports; the trainer rejects the rest).
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")
SCALE_REWARDS = ("group", "batch", "none")

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
    """The ``grpo:`` section: the GRPOConfig keyword arguments the recipe sets.

    A plain mapping (``to_dict`` and JSON see a dict); fields also read as attributes, falling back to TRL's
    default (``cfg.grpo.num_iterations``). The ``config_*`` methods are the hooks of :mod:`perception_r1.config`.
    """

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        # Also takes (key, value) pairs: dataclasses.asdict and copy rebuild a dict subclass from them.
        super().__init__(dict(values or {}))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.effective(name)

    def effective(self, name: str) -> Any:
        """The value training will use: the recipe's, else TRL's default.

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
            rows.append((f"{prefix}{name}", repr(trl_default(name)), first))
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

    kwargs = dict(GRPOArgs.config_coerce(cfg.grpo, "grpo"))
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


def validate_grpo(section: Mapping[str, Any], processes: int) -> GRPOArgs:
    """The one check of the ``grpo:`` section (a recipe built in code gets the same as a loaded one): every key a
    GRPOConfig field this section may set, every value of its field's type and in its range, and a generation
    batch of whole prompt groups for ``processes`` training processes. TRL's own checks come with the real config.

    Returns:
        The section with every value converted to its field's type.

    Raises:
        ConfigError: naming the key, what was expected and what was given.
    """
    g = GRPOArgs.config_coerce(section, "grpo")
    _check_values(g)
    _check_generation_batch(g, processes)
    return g


def _check_values(g: GRPOArgs) -> None:
    """Range and closed-set checks of the fields TRL leaves unchecked until training."""
    check_number("grpo.learning_rate", g.learning_rate, 0.0)
    check_number("grpo.temperature", g.temperature, 0.0, low_open=True)
    check_number("grpo.top_p", g.top_p, 0.0, low_open=True, high=1.0)
    for key in ("epsilon", "beta", "weight_decay", "max_grad_norm"):
        check_number(f"grpo.{key}", g.effective(key), 0.0)
    if g.epsilon_high is not None:
        check_number("grpo.epsilon_high", g.epsilon_high, 0.0)
    if g.max_steps == 0:  # transformers runs num_train_epochs only for a negative max_steps; 0 trains no step
        raise ConfigError("grpo.max_steps: 0 trains no step; use -1 (TRL's default) to run grpo.num_train_epochs")
    check_number("grpo.num_train_epochs", g.num_train_epochs, 0.0, low_open=g.max_steps < 0)
    for key in ("per_device_train_batch_size", "gradient_accumulation_steps", "num_iterations"):
        check_number(f"grpo.{key}", g.effective(key), 1)
    check_number("grpo.num_generations", g.num_generations, 1)
    if g.num_generations < 2:
        raise ConfigError("grpo.num_generations: GRPO needs at least 2 completions per prompt")
    for key in ("steps_per_generation", "generation_batch_size", "max_completion_length"):
        if g.effective(key) is not None:
            check_number(f"grpo.{key}", g.effective(key), 1)
    check_number("grpo.warmup_steps", g.warmup_steps, 0.0)
    if g.warmup_steps >= 1 and g.warmup_steps != int(g.warmup_steps):
        # transformers reads a value >= 1 as a step count and would silently drop the fraction.
        raise ConfigError(
            f"grpo.warmup_steps: a value in [0, 1) is a ratio of the steps, one >= 1 a whole number of steps; "
            f"got {g.warmup_steps}"
        )
    if g.loss_type not in LOSS_TYPES:
        raise ConfigError(f"grpo.loss_type: unknown loss type {g.loss_type!r}; known: {', '.join(LOSS_TYPES)}")
    if g.scale_rewards not in SCALE_REWARDS:
        raise ConfigError(f"grpo.scale_rewards: expected one of {', '.join(SCALE_REWARDS)}, got {g.scale_rewards!r}")
    if g.multi_objective_aggregation not in ("sum_then_normalize", "normalize_then_sum"):
        raise ConfigError("grpo.multi_objective_aggregation: must be sum_then_normalize or normalize_then_sum")


def _check_generation_batch(g: GRPOArgs, processes: int) -> None:
    """The generation batch (per-device batch x processes x steps per generation) must hold whole groups."""
    generation_batch = g.generation_batch_size or (
        g.per_device_train_batch_size * processes * (g.steps_per_generation or g.gradient_accumulation_steps)
    )
    if generation_batch % g.num_generations:
        raise ConfigError(
            f"grpo: the generation batch (generation_batch_size, or per_device_train_batch_size x "
            f"{processes} process(es) x steps_per_generation = {generation_batch}) must be a multiple of "
            f"grpo.num_generations ({g.num_generations})"
        )


def check_with_trl(cfg: TrainConfig) -> None:
    """TRL's own checks (``GRPOConfig.__post_init__``) on the single-process equivalent of the launch, so that
    ``--dry-run`` fails where the launch would. Only for processes that do not train: building a GRPOConfig sets up
    ``torch.distributed`` in a launched process (see :func:`perception_r1.train.config.validate`).

    Raises:
        ConfigError: TRL's rejection, naming the recipe keys its message mentions.
    """
    grpo_config(cfg, [float(spec.weight) for spec in cfg.rewards], check_only=True)
