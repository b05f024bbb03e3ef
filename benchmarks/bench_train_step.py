"""GRPO step-time split and peak memory on the embedded default (tiny Qwen2.5-VL, synthetic data, rule judge).

Runs a few real training steps through ``perception_r1.train.trainer.run_training`` and prints, per step and on
average: wall time, generation, rewards (all reward functions), the judge (the perception reward alone), other
rollout work (image/prompt processing, old log-probs) and optimisation (forward/backward/optimizer step), with
the rewards' share checked against the 5% budget measured in the same run, plus peak memory.

Usage:
    python benchmarks/bench_train_step.py [--steps 3] [--set grpo.max_completion_length=64 ...]
    python benchmarks/bench_train_step.py --set model.dtype=bfloat16   # on a GPU machine
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from typing import Any

REWARD_BUDGET = 0.05  # rewards incl. the rule judge should stay under 5% of step time


def _step_wall_callback() -> Any:
    from transformers import TrainerCallback

    class StepWall(TrainerCallback):
        """Wall-clock seconds of each optimizer step (generation, scoring, backward and optimizer included)."""

        def __init__(self) -> None:
            self.walls: list[float] = []
            self._t0 = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._t0 = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.walls.append(time.perf_counter() - self._t0)

    return StepWall()


def _split(row: dict[str, Any], wall: float) -> dict[str, float]:
    """Seconds per category for one logged step (see module docstring)."""
    gen = row.get("timing/transformers.generate", 0.0) + row.get("timing/vLLM.generate", 0.0)
    rewards = row.get("timing/_calculate_rewards", 0.0)
    judge = row.get("timing/perception", 0.0)
    prepare = row.get("timing/_prepare_inputs", 0.0)
    return {
        "wall": wall,
        "generation": gen,
        "rewards": rewards,
        "judge": judge,
        "other_rollout": max(0.0, prepare - gen - rewards),
        "optimisation": max(0.0, wall - prepare),
    }


def _peak_memory_mb() -> dict[str, float]:
    import torch

    out = {"cpu_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.cuda.is_available():
        out["gpu_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps to time (the first is a warm-up)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from perception_r1.config import parse_overrides
    from perception_r1.io_utils import atomic_write_json
    from perception_r1.train.callbacks import METRICS_FILE, read_metrics
    from perception_r1.train.config import embedded_default
    from perception_r1.train.trainer import run_training

    with tempfile.TemporaryDirectory(prefix="bench-train-") as out:
        overrides = {
            "grpo.max_steps": str(args.steps),
            "output.dir": out,
            "output.save_steps": "100000",
            "output.save_final": "false",
            "output.resume": "never",
            "logging.plot": "false",
            **parse_overrides(args.set),
        }
        cfg = embedded_default(overrides)
        wall = _step_wall_callback()
        t0 = time.perf_counter()
        run_training(cfg, extra_callbacks=[wall])
        total = time.perf_counter() - t0
        rows = [r for r in read_metrics(f"{out}/{METRICS_FILE}") if "reward" in r]
    splits = [_split(r, w) for r, w in zip(rows, wall.walls, strict=False)]
    g = cfg.grpo
    completions = g.per_device_train_batch_size * (g.steps_per_generation or g.gradient_accumulation_steps)
    print(
        f"embedded default: {completions // g.num_generations} prompts x {g.num_generations} "
        f"generations x <= {g.max_completion_length} tokens per step, dtype {cfg.model.dtype}, {len(splits)} steps "
        f"(run incl. model load: {total:.1f} s)"
    )
    keys = ["wall", "generation", "rewards", "judge", "other_rollout", "optimisation"]
    print("step  " + "  ".join(f"{k:>13s}" for k in keys))
    for i, s in enumerate(splits, start=1):
        print(f"{i:4d}  " + "  ".join(f"{s[k]:12.3f}s" for k in keys))
    timed = splits[1:] or splits  # the first step includes one-off warm-up work
    mean = {k: statistics.mean(s[k] for s in timed) for k in keys}
    print("mean  " + "  ".join(f"{mean[k]:12.3f}s" for k in keys) + f"   (steps {2 if len(splits) > 1 else 1}..)")
    share = {k: mean[k] / mean["wall"] for k in keys[1:]}
    print("share " + " " * 15 + "  ".join(f"{100 * share[k]:12.2f}%" for k in keys[1:]))
    verdict = "OK" if share["rewards"] < REWARD_BUDGET else "OVER BUDGET"
    print(
        f"rewards incl. judge: {100 * share['rewards']:.2f}% of step time vs budget {100 * REWARD_BUDGET:.0f}%: "
        f"{verdict}"
    )
    memory = _peak_memory_mb()
    print("peak memory: " + ", ".join(f"{k} {v:.0f}" for k, v in memory.items()))
    if args.json:
        atomic_write_json(args.json, {"steps": splits, "mean": mean, "share": share, "memory": memory, "run_s": total})


if __name__ == "__main__":
    main()
