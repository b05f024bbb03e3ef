"""Cost of ``perception-r1 experiment``: wall time against its budget, step-time split and peak memory per arm.

Runs (or, given an existing folder, only reads) an experiment and prints:

* wall time per stage and in total, against the mode's budget (quick: 20 min, full: 2 h, on 2 CPU cores); GRPO
  runs trained in parallel (``workers``) each list their own time, and the negative ``grpo/parallel overlap``
  entry removes the time they shared, so the entries sum to the wall time;
* per arm, the mean GRPO step split into generation, loss (forward + backward), rewards and the rule judge,
  and the share of the rewards and judge in a step (target: under 5%);
* per arm, the peak resident memory during training.

Usage::

    .venv/bin/python benchmarks/bench_experiment.py --quick [--dir runs/bench-quick]
    .venv/bin/python benchmarks/bench_experiment.py --read runs/experiment      # figures of a finished run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

BUDGET_S = {"quick": 20 * 60, "full": 2 * 3600}


def _split(run: Path) -> dict[str, float]:
    """Mean seconds per GRPO step of each block, from the run's metrics.jsonl."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"reward"' in line]
    keys = {
        "step": "step_time",
        "generation": "timing/transformers.generate",
        "loss": "timing/compute_loss",
        "logprobs": "timing/_get_per_token_logps_and_entropies",
        "rewards (all)": "timing/_calculate_rewards",
        "perception (rule judge)": "timing/perception",
        "accuracy (math-verify)": "timing/accuracy",
    }
    out = {}
    for name, key in keys.items():
        values = [r[key] for r in rows if r.get(key) is not None]
        out[name] = sum(values) / len(values) if values else float("nan")
    return out


def report(root: Path, mode: str) -> None:
    timings = json.loads((root / "timings.json").read_text())
    total = sum(timings.values())
    print(f"experiment folder: {root}")
    print(f"{'stage':32s} {'seconds':>9s}")
    for name, seconds in timings.items():
        print(f"{name:32s} {seconds:9.1f}")
    budget = BUDGET_S[mode]
    verdict = "within" if total <= budget else "OVER"
    print(f"{'total (wall)':32s} {total:9.1f}   budget {budget} s ({mode}): {verdict}")
    print()
    for run in sorted((root / "runs").iterdir()):
        if not (run / "metrics.jsonl").is_file():
            continue
        split = _split(run)
        memory = run / "memory.json"
        peak = json.loads(memory.read_text())["peak_rss_mb"] if memory.is_file() else float("nan")
        share = split["rewards (all)"] / split["step"] if split["step"] else float("nan")
        print(f"{run.name}: peak RSS {peak:.0f} MB; mean step {split['step']:.2f} s")
        for name, seconds in split.items():
            if name != "step":
                print(f"    {name:26s} {seconds:7.3f} s  ({100 * seconds / split['step']:5.1f}% of a step)")
        print(f"    rewards + judge share: {100 * share:.2f}% (target < 5%: {'ok' if share < 0.05 else 'OVER'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick mode (default: full)")
    parser.add_argument("--dir", type=Path, help="experiment folder (default: runs/bench-<mode>)")
    parser.add_argument("--read", type=Path, help="only print the figures of an existing experiment folder")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    if args.read:
        recipe = json.loads((args.read / "recipe.json").read_text())
        report(args.read, "quick" if len(recipe["seeds"]) == 1 else mode)
        return 0
    from perception_r1.config import from_dict
    from perception_r1.experiment.config import QUICK, ExperimentConfig
    from perception_r1.experiment.runner import run_experiment

    root = args.dir or Path(f"runs/bench-{mode}")
    cfg = from_dict(ExperimentConfig, {**(QUICK if args.quick else {}), "output_dir": str(root)})
    started = time.perf_counter()
    run_experiment(cfg, announce=lambda msg: print(f"[{time.perf_counter() - started:7.1f} s] {msg}", flush=True))
    print(f"wall time of this invocation: {time.perf_counter() - started:.1f} s\n")
    report(root, mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
