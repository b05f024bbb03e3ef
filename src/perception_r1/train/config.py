"""Typed training recipe: the sections of ``perception-r1 train RECIPE.yaml``.

The dataclass defaults ARE the embedded default: the tiny local Qwen2.5-VL (SmolLM2 text weights), the
synthetic geometry testbed, the rule judge, a few GRPO steps on a CPU. A YAML recipe overrides any subset of
keys; ``--section.key value`` on the command line overrides both. Unknown keys fail with "did you mean".

Example:
    >>> cfg = from_dict(TrainConfig, {"grpo": {"num_generations": 8}})
    >>> cfg.grpo.num_generations, cfg.model.path
    (8, 'tiny')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from perception_r1.config import ConfigError, from_dict, option  # noqa: F401  (from_dict: doctest)

# Columns each reward reads from the dataset; one tuple = alternatives (any one of them suffices).
REWARD_COLUMNS: dict[str, list[tuple[str, ...]]] = {
    "accuracy": [("answer",)],
    "perception": [("visual_annotations", "visual_key_info")],
    "format": [],
    "repetition": [],
}


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

    path: str = option("tiny", "model folder or hub id; 'tiny' = the locally built tiny Qwen2.5-VL (cached)")
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
    synth_n: int = option(16, "synthetic testbed: number of problems")
    synth_seed: int = option(0, "synthetic testbed: generator seed")
    synth_params: dict[str, Any] = option(factory=dict, help="synthetic testbed: extra generator parameters")


@dataclass
class RewardSpec:
    """One reward term: ``weight * get_reward(name, **params)``."""

    name: str = option(help="reward name (accuracy, format, repetition, perception)")
    weight: float = option(1.0, "weight in the summed reward")
    params: dict[str, Any] = option(factory=dict, help="constructor parameters, e.g. {judge: {backend: rule}}")


def _default_rewards() -> list[RewardSpec]:
    # The paper's total: 0.9 r_a + 0.1 r_f + 0.7 r_v + r_p (reference section 3); rule judge for the CPU default.
    return [
        RewardSpec("accuracy", 0.9),
        RewardSpec("format", 0.1),
        RewardSpec("perception", 0.7, {"judge": {"backend": "rule"}}),
        # The paper's n is 20 words; the tiny default's 32-token completions rarely reach 20 words, so n=3 keeps a
        # reward with variance (a learning signal) in the CPU demo. The paper recipes set n=20.
        RewardSpec("repetition", 1.0, {"n": 3, "max_penalty": -2.0}),
    ]


@dataclass
class GRPOSection:
    """GRPO hyperparameters (mapped onto trl.GRPOConfig)."""

    num_generations: int = option(4, "completions sampled per prompt (paper: 8)")
    temperature: float = option(1.0, "sampling temperature")
    top_p: float = option(1.0, "nucleus sampling")
    loss_type: str = option("dapo", "TRL loss: grpo, dr_grpo, dapo, bnpo, ...")
    beta: float = option(0.0, "KL coefficient (paper: 0, no KL term and no reference model)")
    epsilon: float = option(0.2, "clip range")
    epsilon_high: float | None = option(None, "upper clip range (None: epsilon)")
    num_iterations: int = option(1, "policy updates per generation batch")
    scale_rewards: str = option("group", "advantage scaling: group, batch or none")
    multi_objective_aggregation: str = option(
        "sum_then_normalize", "sum_then_normalize (a None reward counts as 0) or normalize_then_sum (neutral)"
    )
    max_prompt_length: int | None = option(1024, "drop examples whose prompt (with image tokens) is longer")
    max_completion_length: int = option(32, "maximum generated tokens")
    per_device_train_batch_size: int = option(4, "completions per device per micro-batch")
    gradient_accumulation_steps: int = option(1, "micro-batches per optimizer step")
    steps_per_generation: int | None = option(None, "micro-batches per generation round (None: grad accumulation)")
    learning_rate: float = option(1e-5, "peak learning rate (paper: 1e-6)")
    weight_decay: float = option(1e-3, "AdamW weight decay")
    warmup_ratio: float = option(0.0, "fraction of steps of linear warm-up (paper: 0.05)")
    lr_scheduler_type: str = option("constant_with_warmup", "transformers scheduler name")
    max_grad_norm: float = option(1.0, "gradient clipping")
    num_train_epochs: float = option(1.0, "epochs (used when max_steps <= 0)")
    max_steps: int = option(4, "optimizer steps; <= 0: run num_train_epochs")
    seed: int = option(42, "seed of sampling, data order and initialisation")
    shuffle_dataset: bool = option(True, "shuffle the prompts (seeded; resumed runs keep the order)")


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

    dir: str = option("runs/tiny-default", "output folder (metrics, plot, checkpoints, final model)")
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
class TrainConfig:
    """A full GRPO training recipe."""

    model: ModelConfig = option(factory=ModelConfig, help="policy model")
    data: DataConfig = option(factory=DataConfig, help="training data")
    rewards: list[RewardSpec] = option(factory=_default_rewards, help="reward terms and weights")
    grpo: GRPOSection = option(factory=GRPOSection, help="GRPO hyperparameters")
    rollout: RolloutConfig = option(factory=RolloutConfig, help="rollout engine")
    logging: LoggingConfig = option(factory=LoggingConfig, help="logging")
    output: OutputConfig = option(factory=OutputConfig, help="output and checkpoints")
    launch: LaunchConfig = option(factory=LaunchConfig, help="launch plan (multi-GPU / multi-node)")


def validate(cfg: TrainConfig) -> None:
    """Cheap consistency checks that need no model or data.

    Raises:
        ConfigError: naming the offending key.
    """
    from perception_r1.registry import did_you_mean
    from perception_r1.rewards import REWARDS

    if not cfg.rewards:
        raise ConfigError("rewards: at least one reward is required")
    seen = set()
    for i, spec in enumerate(cfg.rewards):
        if spec.name not in REWARDS:
            known = REWARDS.names()
            raise ConfigError(
                f"rewards[{i}].name: unknown reward {spec.name!r}{did_you_mean(spec.name, known)}; "
                f"known: {', '.join(known)}"
            )
        if spec.name in seen:
            raise ConfigError(f"rewards[{i}].name: reward {spec.name!r} is listed twice")
        seen.add(spec.name)
    g = cfg.grpo
    if g.num_generations < 2:
        raise ConfigError("grpo.num_generations: GRPO needs at least 2 completions per prompt")
    generation_batch = (
        g.per_device_train_batch_size
        * cfg.launch.num_processes
        * (g.steps_per_generation or g.gradient_accumulation_steps)
    )
    if generation_batch % g.num_generations:
        raise ConfigError(
            f"grpo: the generation batch (per_device_train_batch_size x num_processes x steps_per_generation = "
            f"{generation_batch}) must be a multiple of grpo.num_generations ({g.num_generations})"
        )
    if not 0.0 <= g.warmup_ratio < 1.0:
        # transformers reads warmup_steps >= 1 as a step count: a ratio of 1.0 would silently mean one step.
        raise ConfigError(f"grpo.warmup_ratio: must be within [0, 1), got {g.warmup_ratio}")
    if g.multi_objective_aggregation not in ("sum_then_normalize", "normalize_then_sum"):
        raise ConfigError("grpo.multi_objective_aggregation: must be sum_then_normalize or normalize_then_sum")
    if cfg.output.resume not in ("auto", "never") and not cfg.output.resume:
        raise ConfigError("output.resume: auto, never or a checkpoint path")
