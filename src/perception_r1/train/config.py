"""Typed training recipe: the sections of ``perception-r1 train RECIPE.yaml``.

A YAML recipe sets any subset of keys; ``--section.key value`` on the command line overrides it. Unknown keys fail
with "did you mean". The project's own sections are typed dataclasses; ``grpo`` is a mapping of ``trl.GRPOConfig``
fields passed through to TRL (:mod:`perception_r1.train.grpo_args`): a key left out takes TRL's default. The
embedded default (``perception-r1 train`` with no recipe, a few CPU steps) is a recipe file like any other,
:data:`EMBEDDED_DEFAULT`.

Example:
    >>> cfg = from_dict(TrainConfig, {"data": {"synth_n": 8}})
    >>> cfg.data.synth_n, cfg.grpo.max_steps  # TRL's max_steps: -1, train num_train_epochs
    (8, -1)
    >>> embedded_default().grpo["max_steps"]
    4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perception_r1.config import ConfigError, check_number, from_dict, load_config, option  # noqa: F401
from perception_r1.train.grpo_args import GRPOArgs, validate_grpo

# The recipe `perception-r1 train` runs without one (shipped with the package).
EMBEDDED_DEFAULT = Path(__file__).with_name("default.yaml")


@dataclass
class LoraConfig:
    """LoRA adapters on the language model (PEFT)."""

    enabled: bool = option(False, "train LoRA adapters instead of all weights")
    r: int = option(16, "LoRA rank")
    alpha: int = option(32, "LoRA alpha")
    dropout: float = option(0.05, "LoRA dropout")
    target_modules: list[str] = option(
        factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        help="module names that get adapters",
    )


@dataclass
class ModelConfig:
    """The policy model."""

    path: str = option(
        "tiny",
        "model folder or hub id; 'warmup' = the synthetic experiment's warm-up policy (trained once, cached), "
        "'tiny' = the tiny Qwen2.5-VL with SmolLM2 text weights and an untrained vision tower (cached)",
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = option("float32", "weights dtype")
    attn_implementation: str | None = option(None, "eager, sdpa or flash_attention_2 (None: transformers' choice)")
    freeze_vision_tower: bool = option(False, "do not train the vision encoder and merger")
    gradient_checkpointing: bool = option(False, "recompute activations in the backward pass to save memory")
    min_pixels: int | None = option(None, "image processor minimum pixels per image (None: processor default)")
    max_pixels: int | None = option(None, "image processor maximum pixels per image (None: processor default)")
    lora: LoraConfig = option(factory=LoraConfig, help="LoRA settings")


@dataclass
class DataConfig:
    """Training data (rows in the schema of perception_r1.data.schema)."""

    source: str = option("synth", "'synth' (synthetic testbed generated in memory), a file/folder, or hf:ID")
    kind: str | None = option(None, "loader kind (hf, parquet, jsonl, json, disk); None: detected from source")
    split: str | None = option("train", "split to read (hf and DatasetDict folders)")
    config: str | None = option(None, "dataset configuration (hf)")
    columns: dict[str, str] = option(factory=dict, help="schema column -> source column renames")
    limit: int | None = option(None, "keep only the first N examples")
    max_prompt_length: int | None = option(
        1024, "drop examples whose prompt (with image tokens) is longer than this many tokens; None: keep all"
    )
    max_image_pixels: int | None = option(
        None,
        "an example with an image of more pixels is refused, naming its row (decompression bombs); None: "
        "$PERCEPTION_R1_MAX_IMAGE_PIXELS or 64,000,000 (perception_r1.images)",
    )
    synth_n: int = option(16, "synthetic testbed: number of problems")
    synth_seed: int = option(0, "synthetic testbed: generator seed")
    synth_params: dict[str, Any] = option(
        factory=dict, help="synthetic testbed: extra generator parameters, e.g. {size: 168, difficulty: 2}"
    )
    prompt_template: str | None = option(
        None,
        "file with the policy prompt's user text: {question} plus the format instruction (.txt, or .yaml with "
        "template/version); None: the built-in format-v1",
    )


@dataclass
class RewardSpec:
    """One reward term: ``weight * get_reward(name, **params)``."""

    name: str = option(help="reward name (accuracy, format, repetition, perception)")
    weight: float = option(1.0, "weight in the summed reward")
    params: dict[str, Any] = option(factory=dict, help="constructor parameters, e.g. {judge: {backend: rule}}")


def _default_rewards() -> list[RewardSpec]:
    # The paper's total: 0.9 r_a + 0.1 r_f + 0.7 r_v + r_p (docs/reference.md#total-reward); rule judge on CPU.
    return [
        RewardSpec("accuracy", 0.9),
        RewardSpec("format", 0.1),
        RewardSpec("perception", 0.7, {"judge": {"backend": "rule"}}),
        # The paper's word 20-grams: the warm-up policy's solutions run to 40-80 words.
        RewardSpec("repetition", 1.0, {"n": 20, "max_penalty": -2.0}),
    ]


@dataclass
class RolloutConfig:
    """Where completions are generated."""

    mode: Literal["hf", "vllm_colocate", "vllm_server"] = option("hf", "hf generate, vLLM colocated or vLLM server")
    server_host: str = option("127.0.0.1", "vLLM server host (vllm_server)")
    server_port: int = option(8000, "vLLM server port (vllm_server)")
    gpu_memory_utilization: float = option(0.3, "vLLM GPU memory share (vllm_colocate)")
    tensor_parallel_size: int = option(1, "vLLM tensor parallel size")
    max_model_length: int | None = option(
        None, "vLLM context length (vllm_colocate); None: the model's own (128k for Qwen2.5-VL, memory wasted)"
    )
    server_gpus: str = option("7", "CUDA_VISIBLE_DEVICES of the vLLM server in the launch plan (vllm_server)")


@dataclass
class LoggingConfig:
    """Logging and observability."""

    report_to: list[str] = option(factory=lambda: ["none"], help="trainer integrations: none, tensorboard, wandb")
    logging_steps: int = option(1, "log every N optimizer steps")
    samples_per_step: int = option(4, "completions saved to samples.jsonl per logged step")
    plot: bool = option(True, "write reward_components.png at the end")


@dataclass
class OutputConfig:
    """Output folder and checkpointing."""

    dir: str = option("runs/train", "output folder (metrics, plot, checkpoints, final model)")
    save_steps: int = option(2, "checkpoint every N optimizer steps")
    save_total_limit: int | None = option(1, "keep at most N checkpoints (tiny model: 1.6 GB each with optimizer)")
    resume: str = option("auto", "auto (continue from the last checkpoint in dir), never, or a checkpoint path")
    save_final: bool = option(True, "save the final model and processor into dir/final")


@dataclass
class LaunchConfig:
    """Multi-process launch settings, used by --dry-run to print the launch sequence."""

    accelerate_config: str | None = option(None, "accelerate config file (None: single process)")
    num_processes: int = option(1, "training processes in total (all nodes)")
    num_machines: int = option(1, "nodes")
    main_process_ip: str = option("$MASTER_ADDR", "rank-0 node address (multi-node)")
    main_process_port: int = option(29500, "rank-0 port (multi-node)")
    training_gpus: str | None = option(None, "CUDA_VISIBLE_DEVICES of the trainer (None: all)")
    judge_serve: str | None = option(None, "command that serves the judge (printed first by --dry-run)")


@dataclass
class JudgeGuardConfig:
    """Guards against a failing judge (perception_r1.train.judge_guard): a probe at start, an alarm per step."""

    probe: bool = option(
        True, "before the policy loads, send one case to every served judge; stop unless it returns valid verdicts"
    )
    max_failure_rate: float = option(
        0.2, "a logged step whose judge failure rate is above this share is reported loudly"
    )
    stop: bool = option(False, "stop training (exit 1) at the first such step instead of going on")


@dataclass
class TrainConfig:
    """A full GRPO training recipe."""

    model: ModelConfig = option(factory=ModelConfig, help="policy model")
    data: DataConfig = option(factory=DataConfig, help="training data")
    rewards: list[RewardSpec] = option(factory=_default_rewards, help="reward terms and weights")
    grpo: GRPOArgs = option(factory=GRPOArgs, help="GRPO hyperparameters: trl.GRPOConfig fields, passed through")
    rollout: RolloutConfig = option(factory=RolloutConfig, help="rollout engine")
    logging: LoggingConfig = option(factory=LoggingConfig, help="logging")
    output: OutputConfig = option(factory=OutputConfig, help="output and checkpoints")
    launch: LaunchConfig = option(factory=LaunchConfig, help="launch plan (multi-GPU / multi-node)")
    judge_guard: JudgeGuardConfig = option(factory=JudgeGuardConfig, help="guards against a failing judge")


RESUME_KEYWORDS = ("auto", "never")
_DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".arrow", ".csv")


def _check_local_source(source: str) -> None:
    """Fail on a local-looking data path that is missing although its folder is here (a typo).

    A path whose folder is not on this machine either (e.g. the paper recipe's ``data/perception_r1/...`` before
    ``data build`` ran, or a cluster mount) is left to the loader: --dry-run reports it as not on this machine.
    """
    from pathlib import Path

    from perception_r1.registry import did_you_mean

    looks_local = source.startswith(("/", "./", "../", "~")) or source.lower().endswith(_DATA_SUFFIXES)
    path = Path(source).expanduser()
    if not looks_local and len(path.parts) < 2:
        return
    if path.exists() or not path.parent.is_dir() or (not looks_local and path.parent == Path(".")):
        return
    siblings = sorted(p.name for p in path.parent.iterdir())
    raise ConfigError(
        f"data.source: {source}: no such file or folder in {path.parent}{did_you_mean(path.name, siblings)} "
        "(for a hub dataset use 'hf:ID')"
    )


def _check_synth_memory(d: DataConfig) -> None:
    """The in-memory testbed holds every rendered figure: refuse a ``synth_n`` that cannot fit in memory."""
    import os

    size = d.synth_params.get("size", 224)
    per_problem = (size if isinstance(size, int) else 224) ** 2 * 3 + 16_384  # RGB figure + PNG bytes + text
    needed = d.synth_n * per_problem
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not knowable on this platform
        return
    if needed > available:
        raise ConfigError(
            f"data.synth_n: {d.synth_n} problems generated in memory need about {needed / 1e9:.1f} GB, "
            f"{available / 1e9:.1f} GB is available; write them to disk with `perception-r1 data synth` and "
            "set data.source to that folder"
        )


def validate_values(cfg: TrainConfig) -> None:
    """Range checks of every numeric and closed-set value, done before any model or data is loaded.

    Raises:
        ConfigError: naming the offending key, what was expected and what was given.
    """
    from pathlib import Path

    for i, spec in enumerate(cfg.rewards):
        check_number(f"rewards[{i}].weight", spec.weight, float("-inf"))
    r = cfg.rollout
    check_number("rollout.server_port", r.server_port, 1, high=65535)
    check_number("rollout.gpu_memory_utilization", r.gpu_memory_utilization, 0.0, low_open=True, high=1.0)
    check_number("rollout.tensor_parallel_size", r.tensor_parallel_size, 1)
    if r.max_model_length is not None:
        check_number("rollout.max_model_length", r.max_model_length, 1)
    m = cfg.model
    for key in ("min_pixels", "max_pixels"):
        if getattr(m, key) is not None:
            check_number(f"model.{key}", getattr(m, key), 1)
    if m.min_pixels is not None and m.max_pixels is not None and m.min_pixels > m.max_pixels:
        raise ConfigError(f"model.min_pixels ({m.min_pixels}) is larger than model.max_pixels ({m.max_pixels})")
    check_number("model.lora.r", m.lora.r, 1)
    check_number("model.lora.alpha", m.lora.alpha, 0.0, low_open=True)
    check_number("model.lora.dropout", m.lora.dropout, 0.0, high=1.0)
    check_number("judge_guard.max_failure_rate", cfg.judge_guard.max_failure_rate, 0.0, high=1.0)
    check_number("logging.logging_steps", cfg.logging.logging_steps, 1)
    check_number("logging.samples_per_step", cfg.logging.samples_per_step, 0)
    check_number("output.save_steps", cfg.output.save_steps, 1)
    if cfg.output.save_total_limit is not None:
        check_number("output.save_total_limit", cfg.output.save_total_limit, 1)
    for key in ("num_processes", "num_machines"):
        check_number(f"launch.{key}", getattr(cfg.launch, key), 1)
    check_number("launch.main_process_port", cfg.launch.main_process_port, 1, high=65535)
    d = cfg.data
    for key in ("limit", "max_prompt_length"):
        if getattr(d, key) is not None:
            check_number(f"data.{key}", getattr(d, key), 1)
    if d.source == "synth":
        check_number("data.synth_n", d.synth_n, 1)
        _check_synth_memory(d)
    elif not d.source.startswith("hf:") and d.kind != "hf":
        _check_local_source(d.source)
    resume = cfg.output.resume
    if resume not in RESUME_KEYWORDS and not Path(resume).expanduser().is_dir():
        raise ConfigError(
            f"output.resume: expected auto, never or an existing checkpoint folder, got {resume!r}"
            + (" (no such folder)" if resume else "")
        )


def world_size(cfg: TrainConfig) -> int:
    """Processes that train together: the launch's inside a launched process, else the recipe's
    ``launch.num_processes`` (the launch it describes, e.g. for ``--dry-run`` on a login node)."""
    import perception_r1.ranks as ranks

    return ranks.world_size() if ranks.launched() else cfg.launch.num_processes


def validate(cfg: TrainConfig) -> None:
    """Consistency checks that need no model or data: the ``grpo:`` section
    (:func:`perception_r1.train.grpo_args.validate_grpo`), then every other value's range, then the rewards.

    Builds no ``trl.GRPOConfig``: building one sets up ``torch.distributed`` (and accelerate's process state) for
    the process that does it, so only the real config may be built in a training process, once, before the policy
    loads (:func:`perception_r1.train.trainer.run_training`; it runs TRL's own checks). ``--dry-run`` runs TRL's
    checks with :func:`check_with_trl`.

    Raises:
        ConfigError: naming the offending key.
    """
    validate_grpo(cfg.grpo, world_size(cfg))
    validate_values(cfg)
    if not cfg.rewards:
        raise ConfigError("rewards: at least one reward is required")
    check_reward_names(cfg.rewards)
    seen = set()
    for i, spec in enumerate(cfg.rewards):
        if spec.name in seen:
            raise ConfigError(f"rewards[{i}].name: reward {spec.name!r} is listed twice")
        seen.add(spec.name)


def check_reward_names(specs: Sequence[RewardSpec]) -> None:
    """Fail on the first reward name that is not registered (the one unknown-reward check of a recipe).

    Raises:
        ConfigError: ``rewards[i].name: unknown reward 'x' (did you mean 'y'?); known: ...`` (the registry's
            message, prefixed with the recipe key).
    """
    from perception_r1.registry import UnknownNameError
    from perception_r1.rewards import REWARDS

    for i, spec in enumerate(specs):
        try:
            REWARDS.get(spec.name)
        except UnknownNameError as exc:
            raise ConfigError(f"rewards[{i}].name: {exc}") from None


def embedded_default(overrides: dict[str, str] | None = None) -> TrainConfig:
    """The embedded default recipe (:data:`EMBEDDED_DEFAULT`), with command-line style ``overrides``."""
    return load_config(TrainConfig, EMBEDDED_DEFAULT, overrides or {})
