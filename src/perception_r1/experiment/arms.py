"""The two GRPO arms as training recipes: the same everything, except the perception reward's weight.

Both arms compute and log the perception reward (so the plots compare it across arms); in ``rlvr`` its weight
is 0, so it never enters the advantage: the arm trains on accuracy + format + repetition only, as RLVR does.
The frozen control (:data:`~perception_r1.experiment.config.CONTROL`) is the ``rlvr`` recipe at learning rate 0:
the same prompts in the same order and the same rewards logged, from a policy that never moves.

Example:
    >>> from perception_r1.experiment.config import ExperimentConfig
    >>> cfg = arm_recipe(ExperimentConfig(), "rlvr", 0, "warmup/final", "data/train.parquet", "runs/rlvr-seed0")
    >>> [(r.name, r.weight) for r in cfg.rewards]
    [('accuracy', 0.9), ('format', 0.1), ('perception', 0.0), ('repetition', 1.0)]
"""

from __future__ import annotations

from perception_r1.config import ConfigError
from perception_r1.experiment.config import ARMS, CONTROL, ExperimentConfig
from perception_r1.train.config import (
    DataConfig,
    GRPOArgs,
    LaunchConfig,
    LoggingConfig,
    ModelConfig,
    OutputConfig,
    RewardSpec,
    TrainConfig,
)


def arm_rewards(
    arm: str, perception_weight: float, repetition_n: int, format_template: str = "think_answer"
) -> list[RewardSpec]:
    """The paper's weights (0.9 accuracy, 0.1 format, 1.0 repetition; perception 0.7 in ``perception_r1``).

    ``format_template`` names the format reward's template (``think_answer``: the reference regex). The frozen
    control logs the ``rlvr`` arm's rewards (their weights move nothing at learning rate 0).
    """
    if arm not in (*ARMS, CONTROL):
        raise ConfigError(f"unknown arm {arm!r}; known: {', '.join((*ARMS, CONTROL))}")
    return [
        RewardSpec("accuracy", 0.9),
        RewardSpec("format", 0.1, {"template": format_template}),
        RewardSpec("perception", perception_weight if arm == "perception_r1" else 0.0, {"judge": {"backend": "rule"}}),
        RewardSpec("repetition", 1.0, {"n": repetition_n, "max_penalty": -2.0}),
    ]


def arm_recipe(
    cfg: ExperimentConfig, arm: str, seed: int, model_path: str, train_data: str, out_dir: str
) -> TrainConfig:
    """The ``TrainConfig`` of one arm and seed, started from ``model_path`` on ``train_data``.

    Both arms with the same seed see the same prompts in the same order (TRL's sampler is seeded by
    ``grpo.seed``) and run the same number of steps. With ``processes`` > 1 the step's prompts are split over the
    processes of one data-parallel run (the global batch is unchanged). The frozen control trains at learning
    rate 0: AdamW's step and its weight decay are both scaled by the learning rate, so its weights stay the
    warm-up's.
    """
    g = cfg.grpo
    return TrainConfig(
        model=ModelConfig(path=model_path),
        data=DataConfig(source=train_data, kind="parquet", split=None, max_prompt_length=None),
        rewards=arm_rewards(arm, g.perception_weight, g.repetition_n, g.format_template),
        grpo=GRPOArgs(
            dict(
                num_generations=g.num_generations,
                temperature=g.temperature,
                loss_type=g.loss_type,
                beta=g.beta,
                max_completion_length=g.max_completion_length,
                per_device_train_batch_size=g.prompts_per_step * g.num_generations // cfg.processes,
                gradient_accumulation_steps=1,
                learning_rate=0.0 if arm == CONTROL else g.learning_rate,
                weight_decay=1e-3,  # the paper's
                scale_rewards="group",
                multi_objective_aggregation="sum_then_normalize",
                warmup_steps=0.05,  # transformers 5 reads a value in [0, 1) as a ratio
                lr_scheduler_type="constant_with_warmup",
                num_train_epochs=1.0,
                max_steps=g.max_steps,
                seed=seed,
            )
        ),
        logging=LoggingConfig(samples_per_step=g.num_generations * 2),
        output=OutputConfig(dir=out_dir, save_steps=g.save_steps, save_total_limit=1, resume="auto"),
        launch=LaunchConfig(num_processes=cfg.processes),
    )


class PeakMemory:
    """A ``TrainerCallback``-compatible recorder of the process's peak resident memory during training.

    ``resource.getrusage`` reports the peak of the whole process (earlier stages included), so the resident
    set is sampled at every step instead; the peak is written to ``memory.json`` in the run folder.
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.peak_mb = 0.0

    def _sample(self) -> None:
        import psutil

        self.peak_mb = max(self.peak_mb, psutil.Process().memory_info().rss / 2**20)

    def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
        self._sample()

    def on_train_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
        from pathlib import Path

        from perception_r1.io_utils import atomic_write_json

        self._sample()
        atomic_write_json(Path(self.out_dir) / "memory.json", {"peak_rss_mb": round(self.peak_mb, 1)})

    def __getattr__(self, name: str) -> object:
        # The trainer calls every on_* event; the ones not defined above do nothing.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
