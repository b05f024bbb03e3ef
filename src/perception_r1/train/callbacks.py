"""Observability of a GRPO run: metrics JSONL, sample completions, step-time split and the reward plot.

Files written into the output folder (rank 0 only):

* ``metrics.jsonl``: one row per logged step: every reward component's mean/std (``rewards/<name>/mean``),
  ``reward``, ``frac_reward_zero_std`` (groups with zero reward variance, no learning signal), completion
  lengths, anything the rewards logged through ``log_metric`` (judge failure rate, latency...), and
  ``timing/*`` seconds spent in generation, each reward and the whole step.
  With both an ``accuracy`` and a ``perception`` reward, also ``rollouts/correct_wrong_perception`` (the share of
  the step's completions with a correct answer and a perception reward below 1: right for the wrong reasons) and
  ``rollouts/correct_right_perception`` (correct answer, perception reward 1), over the completions both scored.
* ``samples.jsonl``: a few prompts/completions per logged step with their per-reward scores and the extra
  columns rewards logged through ``log_extra`` (e.g. per-annotation verdicts).
* ``reward_components.png``: reward component means over the steps, written at the end.
"""

from __future__ import annotations

import io
import json
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from perception_r1.data.schema import IMAGE_PLACEHOLDER
from perception_r1.io_utils import atomic_open, iter_jsonl
from perception_r1.redact import redact_obj
from perception_r1.train.run_logs import LUCKY_KEY, RIGHT_KEY, log_row, resume_log
from perception_r1.train.run_logs import clean_number as _clean

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
PLOT_FILE = "reward_components.png"


def _prompt_text(prompt: Any) -> str:
    """Text of a (possibly multimodal) conversational prompt; images become ``<image>`` (as in the data)."""
    if isinstance(prompt, str):
        return prompt
    lines = []
    for message in prompt or []:
        content = message.get("content")
        if isinstance(content, str):
            lines.append(content)
            continue
        lines.append(
            "".join(IMAGE_PLACEHOLDER if p.get("type") == "image" else str(p.get("text") or "") for p in content)
        )
    return "\n".join(lines)


def answer_perception_shares(rewards: Mapping[str, Sequence[float | None]]) -> dict[str, float]:
    """Shares of one generation batch's completions by answer and perception reward.

    Args:
        rewards: Per-completion scores by reward name (TRL's ``_logs["rewards"]``; a failed score is NaN or None).

    Returns:
        ``{LUCKY_KEY: correct answer and perception < 1, RIGHT_KEY: correct answer and perception 1}`` as
        fractions of the completions both rewards scored; ``{}`` without both rewards or any such completion.

    Example:
        >>> answer_perception_shares({"accuracy": [1.0, 1.0, 0.0, 1.0], "perception": [0.5, 1.0, 1.0, None]})
        {'rollouts/correct_wrong_perception': 0.333333, 'rollouts/correct_right_perception': 0.333333}
    """
    pairs = [
        (a, p)
        for a, p in zip(rewards.get("accuracy") or [], rewards.get("perception") or [], strict=False)
        if a is not None and p is not None and not math.isnan(a) and not math.isnan(p)
    ]
    if not pairs:
        return {}
    lucky = sum(1 for a, p in pairs if a == 1.0 and p < 1.0)
    right = sum(1 for a, p in pairs if a == 1.0 and p >= 1.0)
    return {LUCKY_KEY: round(lucky / len(pairs), 6), RIGHT_KEY: round(right / len(pairs), 6)}


class StepTimes:
    """Collects TRL's profiling durations (``GRPOTrainer.<block>`` -> seconds) between two logged steps.

    TRL times generation, every reward function and the loss through ``trl.extras.profiling``, but only reports
    the figures to wandb/mlflow; :meth:`recording` routes them here as well.
    """

    def __init__(self) -> None:
        self.pending: dict[str, float] = defaultdict(float)

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the block ``name`` (``GRPOTrainer.`` prefix dropped)."""
        self.pending[name.split(".", 1)[-1]] += seconds

    def pop(self) -> dict[str, float]:
        """Seconds per block since the last call, and reset."""
        out, self.pending = dict(self.pending), defaultdict(float)
        return out

    @contextmanager
    def recording(self) -> Iterator[StepTimes]:
        """Within the block, every TRL profiling measurement is also added here (restored on exit)."""
        from trl.extras.profiling import ProfilingContext

        original = ProfilingContext._log_metrics
        times = self

        def _log_metrics(ctx: ProfilingContext, duration: float) -> None:
            times.add(ctx.name, duration)
            original(ctx, duration)

        # Patching TRL's method on purpose (restored below). mypy refuses assignments to methods, and types the
        # class attribute as a method bound twice, so a plain function never matches it.
        ProfilingContext._log_metrics = _log_metrics  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            ProfilingContext._log_metrics = original  # type: ignore[method-assign]  # TRL's own method back


class MetricsCallback(TrainerCallback):
    """Writes metrics.jsonl / samples.jsonl on every log and the reward plot at the end.

    Args:
        output_dir: Run folder.
        reward_names: Reward component names (for the plot and the samples).
        samples_per_step: Completions saved per logged step (0: none).
        times: Step-time collector (see :class:`StepTimes`), or None.
        plot: Write the PNG at the end of training.
    """

    def __init__(
        self,
        output_dir: str | Path,
        reward_names: list[str],
        samples_per_step: int = 4,
        times: StepTimes | None = None,
        plot: bool = True,
    ) -> None:
        self.dir = Path(output_dir)
        self.reward_names = list(reward_names)
        self.samples_per_step = samples_per_step
        self.times = times
        self.plot = plot
        self.trainer: Any = None  # set by the trainer wiring: samples come from GRPOTrainer._logs

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.dir.mkdir(parents=True, exist_ok=True)
            # A resumed run starts at the checkpoint's step: rows the interrupted run wrote later are stale, and a
            # torn metrics row is rebuilt from the checkpoint's log history (perception_r1.train.run_logs).
            step, source = state.global_step, f"checkpoint-{state.global_step}/trainer_state.json"
            # (resume_log reports what it repaired itself)
            resume_log(self.dir / METRICS_FILE, step, list(getattr(state, "log_history", [])), source)
            resume_log(self.dir / SAMPLES_FILE, step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Add the step's rollout shares by answer and perception (:func:`answer_perception_shares`) to the
        trainer's metrics, which TRL averages over the steps of a log and writes with its own (log history too)."""
        logs, metrics = getattr(self.trainer, "_logs", None), getattr(self.trainer, "_metrics", None)
        if not isinstance(logs, Mapping) or not isinstance(metrics, Mapping) or "train" not in metrics:
            return
        # TRL keeps the last generation batch in _logs: this step's (a batch reused over steps counts once a step)
        for key, value in answer_perception_shares(logs.get("rewards") or {}).items():
            metrics["train"].setdefault(key, []).append(value)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        row = log_row(state.global_step, state.epoch, logs)
        if self.times is not None:
            row.update({f"timing/{k}": round(v, 4) for k, v in self.times.pop().items()})
        with open(self.dir / METRICS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        if "reward" in logs:  # a training log (not the end-of-run summary): its generation batch is fresh
            self._write_samples(state.global_step)

    def _write_samples(self, step: int) -> None:
        logs = getattr(self.trainer, "_logs", None)  # TRL keeps the last generation batch here
        if not self.samples_per_step or not logs or not logs.get("completion"):
            return
        completions = list(logs["completion"])[-self.samples_per_step :]
        prompts = list(logs["prompt"])[-len(completions) :]
        n = len(completions)
        rewards = {name: list(values)[-n:] for name, values in logs.get("rewards", {}).items()}
        # Extra columns hold failure reasons (judge errors quote servers, which may quote our key back).
        extra = {name: redact_obj(list(values)[-n:]) for name, values in logs.get("extra", {}).items()}
        advantages = list(logs.get("advantages", []))[-n:]
        with open(self.dir / SAMPLES_FILE, "a", encoding="utf-8") as handle:
            for i in range(n):
                completion = completions[i]
                row = {
                    "step": step,
                    "prompt": _prompt_text(prompts[i]),
                    "completion": _prompt_text(completion),
                    "rewards": {k: _clean(v[i]) for k, v in rewards.items() if i < len(v)},
                    "advantage": _clean(advantages[i]) if i < len(advantages) else None,
                    **{k: v[i] for k, v in extra.items() if i < len(v)},
                }
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero and self.plot and (self.dir / METRICS_FILE).is_file():
            plot_rewards(self.dir / METRICS_FILE, self.dir / PLOT_FILE, self.reward_names)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a metrics.jsonl (malformed lines are skipped)."""
    return [row for _, row in iter_jsonl(path) if isinstance(row, dict)]


def plot_rewards(metrics_path: str | Path, out_path: str | Path, reward_names: list[str]) -> Path:
    """Plot each reward component's mean (with a +-std band) and the total reward over steps.

    Args:
        metrics_path: metrics.jsonl of a run.
        out_path: PNG to write (atomically).
        reward_names: Components to draw (``rewards/<name>/mean`` and ``/std`` keys).

    Returns:
        ``out_path``.
    """
    # The object-oriented API with an Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = [r for r in read_metrics(metrics_path) if any(k.startswith("rewards/") for k in r)]
    names = [*reward_names, "total"]
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig = Figure(figsize=(4 * ncols, 2.8 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    # One panel per component: components on different scales (a penalty near 0, a 0/1 accuracy) stay readable.
    for i, name in enumerate(names):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        key = "reward" if name == "total" else f"rewards/{name}/mean"
        std_key = "reward_std" if name == "total" else f"rewards/{name}/std"
        pts = [(r["step"], r[key], r.get(std_key) or 0.0) for r in rows if r.get(key) is not None]
        ax.set_title("total (weighted)" if name == "total" else name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # optimizer steps are whole numbers
        ax.grid(alpha=0.3)
        if not pts:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
            continue
        steps, means, stds = zip(*pts, strict=True)
        ax.plot(steps, means, marker="o", color="black" if name == "total" else f"C{i}")
        lo = [m - s for m, s in zip(means, stds, strict=True)]
        hi = [m + s for m, s in zip(means, stds, strict=True)]
        ax.fill_between(steps, lo, hi, alpha=0.2, color="gray" if name == "total" else f"C{i}")
    fig.suptitle("Reward components per step (mean; band = std over completions)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    with atomic_open(out_path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(out_path)
