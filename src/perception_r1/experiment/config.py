"""Typed recipe of ``perception-r1 experiment``: every setting of every stage, with its help text.

The dataclass defaults are the *full* mode; :data:`QUICK` lists the overrides of ``--quick``. A YAML recipe
(``recipes/experiment/synthetic.yaml``) overrides any subset, ``--section.key value`` overrides both.
Hyperparameters were fixed on the train / validation splits (``recipes/experiment/README.md``); the test split
is read only by the final evaluation.

Example:
    >>> cfg = from_dict(ExperimentConfig, QUICK)
    >>> cfg.seeds, cfg.data.n_test
    ([0], 360)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perception_r1.config import ConfigError, from_dict, option  # noqa: F401  (from_dict: doctest)
from perception_r1.experiment.policy import PolicySpec

ARMS = ("rlvr", "perception_r1")
# The control run per seed (``grpo.frozen``): learning rate 0, the same prompts, seed and rewards logged, so each
# step's rewards are the warm-up policy's on that step's prompts. Not evaluated: its weights are the warm-up's.
CONTROL = "frozen"


@dataclass
class DataSection:
    """The synthetic testbed: disjoint train / validation / test problems (by default no problem key in two splits)."""

    families: list[str] = option(factory=list, help="problem families (empty: all six)")
    difficulty: int = option(2, "generator difficulty 1-3 (2+: wider values, rotated figures, random letters, decoys)")
    letters: str = option(
        "fixed", "point letters: 'auto' (difficulty decides), 'fixed' (A, B, C... at any difficulty) or 'random'"
    )
    split_by: str = option(
        "key",
        "what may not recur across splits: 'key' (held out by values: a problem's family, question variant and "
        "values, whatever the letters and the drawing) or 'instance' (only the rendered problem, its question and "
        "image: a test problem may share family, variant and values, and so its answer, with a train problem; "
        "not held out by values, kept to reproduce earlier folders)",
    )
    multiple_choice: bool = option(
        False,
        "four options (A-D) in every question, the gold answer the correct letter (a guess is right 1 time in 4): "
        "the setting where a correct answer can come with wrong perception; adds the mechanism analysis to the report",
    )
    n_train: int = option(3000, "training problems (warm-up and GRPO prompts)")
    n_val: int = option(120, "validation problems (used to fix hyperparameters, and logged)")
    n_test: int = option(360, "held-out test problems (read only by the final evaluation)")
    seed: int = option(0, "generator seed")


@dataclass
class ReadingSection:
    """Label-reading pretraining of the vision tower before the warm-up (``perception_r1.experiment.reading``)."""

    steps: int = option(2000, "optimizer steps (0: no reading stage; the warm-up starts from the untrained policy)")
    n_examples: int | None = option(None, "train figures read (None: the whole train split)")
    batch_size: int = option(32, "figures per optimizer step")
    learning_rate: float = option(3e-3, "peak learning rate (cosine decay, 5% warm-up)")
    seed: int = option(0, "seed of the character head and the data order")


@dataclass
class WarmupSection:
    """Supervised warm-up on the generator's exact solutions (TRL SFTTrainer)."""

    n_examples: int | None = option(3000, "train problems used for the warm-up (None: all); the rest only in GRPO")
    epochs: float = option(10.0, "passes over the warm-up examples")
    learning_rate: float = option(2e-3, "peak learning rate (cosine decay, 5% warm-up)")
    batch_size: int = option(16, "examples per optimizer step")
    weight_decay: float = option(0.01, "AdamW weight decay")
    freeze_vision: bool = option(
        False, "train only the language model: the vision tower and patch merger stay as built or as reading left them"
    )
    seed: int = option(0, "seed of initialisation and data order")
    shipped: bool = option(
        False,
        "use the warm-up policy shipped with the package (the full recipe's reading and warm-up stages, "
        "experiment/shipped.py) instead of training one; the data, policy, reading and warm-up settings must match it",
    )


@dataclass
class GRPOArmsSection:
    """GRPO settings shared by both arms (they differ only in the perception reward)."""

    max_steps: int = option(200, "optimizer steps per arm and seed (the arms part after 100-150 steps)")
    prompts_per_step: int = option(8, "prompts per step (each sampled num_generations times)")
    num_generations: int = option(8, "completions per prompt (paper: 8)")
    temperature: float = option(1.0, "sampling temperature (paper: 1.0)")
    max_completion_length: int = option(128, "maximum generated tokens")
    learning_rate: float = option(1e-4, "learning rate (constant after a 5% warm-up; chosen on training rollouts)")
    beta: float = option(0.0, "KL coefficient (paper: 0)")
    loss_type: str = option("dapo", "TRL loss type")
    repetition_n: int = option(20, "repetition penalty word n-gram size (paper: 20)")
    perception_weight: float = option(0.7, "weight of the perception reward in the perception_r1 arm (paper: 0.7)")
    format_template: str = option(
        "think_answer",
        "format reward template of both arms: 'think_answer' (the reference regex, which also accepts repeated "
        "tags) or 'think_answer_strict' (each tag exactly once)",
    )
    save_steps: int = option(25, "checkpoint every N steps (an interrupted arm resumes from the last one)")
    frozen: bool = option(
        True,
        "also run the frozen control per seed: the same GRPO run at learning rate 0 (same prompts, seed, logged "
        "rewards), the per-step baseline the arms' training rewards are compared with",
    )


@dataclass
class EvalSection:
    """Greedy evaluation of every policy on the held-out test split."""

    batch_size: int = option(32, "prompts generated together")
    max_new_tokens: int = option(160, "generation limit per response")
    samples: int = option(6, "problems whose responses are shown side by side in the report")


@dataclass
class ExperimentConfig:
    """The controlled experiment: warm-up, then RLVR vs Perception-R1 from the same checkpoint, several seeds."""

    output_dir: str = option("runs/experiment", "experiment folder (every stage resumes from what is there)")
    seeds: list[int] = option(factory=lambda: [0, 1, 2], help="GRPO seeds (each arm runs once per seed)")
    workers: int = option(
        2,
        "GRPO runs (arm x seed) trained at once, each in its own process with an equal share of the CPU threads "
        "(a policy this small keeps one core busy); 1: one after another in this process",
    )
    processes: int = option(
        1,
        "processes per GRPO run (data parallel, one run across them, launched with torchrun; each takes "
        "grpo.prompts_per_step / processes prompts a step): the GPUs of a node, or CPU processes",
    )
    data: DataSection = option(factory=DataSection, help="synthetic testbed")
    policy: PolicySpec = option(factory=PolicySpec, help="policy shape (built here; see policy.py)")
    reading: ReadingSection = option(factory=ReadingSection, help="label-reading pretraining of the vision tower")
    warmup: WarmupSection = option(factory=WarmupSection, help="supervised warm-up")
    grpo: GRPOArmsSection = option(factory=GRPOArmsSection, help="GRPO arms")
    eval: EvalSection = option(factory=EvalSection, help="evaluation")


# --quick: one seed, a smaller test split, fewer steps; still every stage.
QUICK: dict[str, Any] = {
    "output_dir": "runs/experiment-quick",
    "seeds": [0],
    # The full mode's data, policy, reading and warm-up, with its warm-up shipped in the package instead of trained
    # (experiment/shipped.py: the reading stage and 1,880 warm-up steps take about 40 minutes on 2 cores). The
    # quick run is then a slice of the full one: the same held-out test split and the same starting policy, one
    # seed, fewer GRPO prompts and steps (recipes/experiment/README.md, "The quick mode").
    "warmup": {"shipped": True},
    # 160 GRPO steps of 4 prompts x 8 completions per run (the two arms side by side on the two cores, then the
    # frozen control), so that the whole run stays within 15 minutes on 2 cores.
    "grpo": {"prompts_per_step": 4, "max_steps": 160},
}

# The value of each key added after experiment folders were first made that reproduces what those folders ran
# (keys not listed: their default), and the earlier default of a key whose default changed. A folder whose
# recipe.json lacks ``reading`` warmed up without a reading stage; every folder made before the held-out-by-values
# split became the default split by instance (their recipe.json records it; a hand-made one without the key too).
BEFORE_THE_KEY: dict[str, Any] = {"reading.steps": 0, "data.split_by": "instance"}


def grpo_runs(cfg: ExperimentConfig) -> list[tuple[str, int]]:
    """The ``(arm, seed)`` GRPO runs of the recipe, seed by seed: the two arms, then the frozen control if on.

    Example:
        >>> grpo_runs(from_dict(ExperimentConfig, {"seeds": [0]}))
        [('rlvr', 0), ('perception_r1', 0), ('frozen', 0)]
    """
    arms = (*ARMS, CONTROL) if cfg.grpo.frozen else ARMS
    return [(arm, seed) for seed in cfg.seeds for arm in arms]


def validate(cfg: ExperimentConfig) -> None:
    """Check every value before any data or model is touched.

    Raises:
        ConfigError: naming the offending key.
    """
    from perception_r1.data.synth import FAMILIES
    from perception_r1.registry import UnknownNameError, did_you_mean
    from perception_r1.rewards.format import FORMAT_TEMPLATES

    for name in cfg.data.families:
        if name not in FAMILIES:
            known = FAMILIES.names()
            raise ConfigError(f"data.families: unknown family {name!r}{did_you_mean(name, known)}; known: {known}")
    if cfg.data.split_by not in ("instance", "key"):
        raise ConfigError(f"data.split_by: 'instance' or 'key', got {cfg.data.split_by!r}")
    if cfg.data.difficulty not in (1, 2, 3):
        raise ConfigError(f"data.difficulty: 1, 2 or 3, got {cfg.data.difficulty}")
    positive: dict[str, float] = {
        "data.n_train": cfg.data.n_train,
        "data.n_val": cfg.data.n_val,
        "data.n_test": cfg.data.n_test,
        "warmup.batch_size": cfg.warmup.batch_size,
        "reading.batch_size": cfg.reading.batch_size,
        "grpo.max_steps": cfg.grpo.max_steps,
        "workers": cfg.workers,
        "grpo.prompts_per_step": cfg.grpo.prompts_per_step,
        "grpo.max_completion_length": cfg.grpo.max_completion_length,
        "grpo.save_steps": cfg.grpo.save_steps,
        "eval.batch_size": cfg.eval.batch_size,
        "eval.max_new_tokens": cfg.eval.max_new_tokens,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}: must be >= 1, got {value}")
    if cfg.grpo.num_generations < 2:
        raise ConfigError("grpo.num_generations: GRPO needs at least 2 completions per prompt")
    try:
        FORMAT_TEMPLATES.get(cfg.grpo.format_template)
    except UnknownNameError as err:  # the registry's message already suggests and lists the known templates
        raise ConfigError(f"grpo.format_template: {err}") from None
    for key, value in {
        "warmup.learning_rate": cfg.warmup.learning_rate,
        "reading.learning_rate": cfg.reading.learning_rate,
        "grpo.learning_rate": cfg.grpo.learning_rate,
        "grpo.temperature": cfg.grpo.temperature,
        "warmup.epochs": cfg.warmup.epochs,
    }.items():
        if not value > 0 or value == float("inf"):
            raise ConfigError(f"{key}: must be a finite number > 0, got {value}")
    if cfg.reading.steps < 0:
        raise ConfigError(f"reading.steps: must be >= 0 (0: no reading stage), got {cfg.reading.steps}")
    if cfg.reading.n_examples is not None and not 1 <= cfg.reading.n_examples <= cfg.data.n_train:
        raise ConfigError(
            f"reading.n_examples: within [1, data.n_train={cfg.data.n_train}], got {cfg.reading.n_examples}"
        )
    if cfg.warmup.n_examples is not None and not 1 <= cfg.warmup.n_examples <= cfg.data.n_train:
        raise ConfigError(
            f"warmup.n_examples: within [1, data.n_train={cfg.data.n_train}], got {cfg.warmup.n_examples}"
        )
    if cfg.processes < 1 or cfg.grpo.prompts_per_step % cfg.processes:
        raise ConfigError(
            f"processes: a divisor of grpo.prompts_per_step ({cfg.grpo.prompts_per_step}) >= 1, got {cfg.processes}"
        )
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ConfigError(f"seeds: one or more distinct seeds, got {cfg.seeds}")
    cfg.policy.check()
