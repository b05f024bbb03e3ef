"""A GRPO step in 2 processes against 1 process with the same global batch, on the CPU (gloo).

Both runs train the tiny policy for the same steps with the same global batch (8 completions a step: 4 prompts x
2 completions), the single process with ``per_device_train_batch_size`` 8, the two processes with 4 each
(``torchrun --nproc_per_node 2``). Each process gets ``cores / processes`` threads. Prints the median step time
of each (first step excluded: it warms caches), the speed-up, and the split of a step (generation, loss,
rewards); writes ``OUT/multiprocess.json``.

On 2 cores the two processes split the same compute, so the figure shows the cost of data parallelism here
(gradient all-reduce, duplicated Python work), not a GPU speed-up::

    .venv/bin/python benchmarks/bench_multiprocess.py --steps 5 --out runs/bench-multiprocess
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

SPLIT = {
    "generation": "timing/transformers.generate",
    "loss": "timing/compute_loss",
    "rewards": "timing/_calculate_rewards",
}


def recipe(out: Path, steps: int, per_device: int, processes: int) -> dict:
    return {
        "model": {"path": "tiny"},
        "data": {"synth_n": 4 * steps},
        "rewards": [
            {"name": "accuracy", "weight": 0.9, "params": {"isolation": "inline"}},
            {"name": "format", "weight": 0.1},
            {"name": "perception", "weight": 0.7, "params": {"judge": {"backend": "rule"}}},
            {"name": "repetition", "weight": 1.0, "params": {"n": 1, "max_penalty": -2.0}},
        ],
        "grpo": {
            "num_generations": 2,
            "per_device_train_batch_size": per_device,
            "max_completion_length": 32,
            "max_steps": steps,
            "learning_rate": 1e-4,
            "seed": 7,
        },  # fmt: skip
        "logging": {"plot": False, "samples_per_step": 0},
        "output": {"dir": str(out), "save_steps": 10_000, "save_final": False, "resume": "never"},
        "launch": {"num_processes": processes},
    }


def run(out: Path, steps: int, processes: int) -> dict:
    """Train once with ``processes`` processes; the step figures from its metrics.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe(out / "run", steps, 8 // processes, processes)))
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    train = ["-m", "perception_r1.cli.main", "train", str(path)]
    command = [sys.executable, *train]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(processes), *train]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    timed = [r for r in rows if "loss" in r][1:]
    return {
        "processes": processes,
        "wall_s": round(wall, 1),
        "median_step_s": round(statistics.median(r["step_time"] for r in timed), 3),
        **{f"median_{k}_s": round(statistics.median(r.get(v, 0.0) for r in timed), 3) for k, v in SPLIT.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-multiprocess"))
    args = parser.parse_args()
    one = run(args.out / "1-process", args.steps, 1)
    two = run(args.out / "2-processes", args.steps, 2)
    result = {"steps": args.steps, "completions_per_step": 8, "one": one, "two": two,
              "speedup": round(one["median_step_s"] / two["median_step_s"], 3)}  # fmt: skip
    (args.out / "multiprocess.json").write_text(json.dumps(result, indent=2))
    print(f"{'':14s} {'step s':>8s} {'generate':>9s} {'loss':>7s} {'rewards':>8s} {'wall s':>7s}")
    for name, r in (("1 process", one), ("2 processes", two)):
        print(f"{name:14s} {r['median_step_s']:8.2f} {r['median_generation_s']:9.2f} {r['median_loss_s']:7.2f} "
              f"{r['median_rewards_s']:8.3f} {r['wall_s']:7.1f}")  # fmt: skip
    print(f"2 processes vs 1: {result['speedup']:.2f}x the step rate (same global batch)")


if __name__ == "__main__":
    main()
