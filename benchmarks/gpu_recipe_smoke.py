"""The 7B recipe's code path at reduced scale: step time, peak memory, and the judge's share of a step.

Runs ``recipes/qwen2_5_vl_7b/perception_r1.yaml`` through ``run_training`` with only what one machine and no
download force to change: the policy is a Qwen2.5-VL-architecture model built here with random weights
(``perception_r1.experiment.policy.build_policy``: about 1.1 B parameters with ``--size 1b``, the default on a
GPU), the data is the synthetic testbed, the perception reward is judged over HTTP by a judge on 127.0.0.1
(``tests/support``'s OpenAI-compatible server with a truthful judge and a fixed latency), and the batch is
smaller. Everything else is the recipe's: bf16 on a GPU, sdpa, the DAPO loss, the reward weights, the judge client,
gradient checkpointing, colocated vLLM rollouts when vLLM is installed.

On a GPU node after ``bash scripts/setup.sh --gpu``::

    python benchmarks/gpu_recipe_smoke.py --out runs/gpu-smoke          # prints JSON; writes smoke.json/.md

``--size tiny`` runs the same path on a CPU in a few minutes (float32, transformers rollouts), to check the
script itself. The output folder keeps the run's ``metrics.jsonl`` (every step's timings) beside the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "qwen2_5_vl_7b" / "perception_r1.yaml"
sys.path.insert(0, str(ROOT / "tests"))  # the judge server lives with the test doubles

# Policy shapes: ~1.1 B parameters (16 x 2048-wide decoder layers, an 8-block 1024-wide vision tower), or tiny.
SIZES: dict[str, dict[str, int]] = {
    "1b": {"vocab_size": 4096, "hidden_size": 2048, "num_layers": 16, "num_heads": 16, "num_kv_heads": 2,
           "intermediate_size": 8192, "vision_depth": 8, "vision_hidden_size": 1024, "vision_heads": 16,
           "vision_intermediate_size": 4096, "image_size": 336},
    "tiny": {"vocab_size": 640, "hidden_size": 128, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
             "intermediate_size": 384, "vision_depth": 1, "vision_hidden_size": 64, "vision_heads": 2,
             "vision_intermediate_size": 128, "image_size": 112},
}  # fmt: skip


def build_policy(out: Path, size: str) -> tuple[int, int]:
    """Build the policy with random weights and a tokenizer fitted on testbed text; returns (parameters, side)."""
    from perception_r1.data.synth import generate_problems
    from perception_r1.experiment.policy import PolicySpec, build_policy

    spec = PolicySpec(**SIZES[size])
    problems = generate_problems(300, 0, size=spec.image_size)
    build_policy(out, spec, [p.problem for p in problems] + [p.cot for p in problems])
    return json.loads((out / "policy_build.json").read_text())["parameters"], spec.image_size


def start_judge(latency_ms: float) -> tuple[subprocess.Popen, int]:
    """The truthful judge server in its own process (off this process's GIL), once it listens."""
    from support.fake_openai_server import free_port, standalone_env

    port = free_port()
    command = [sys.executable, "-m", "support.fake_openai_server", "--port", str(port),
               "--latency-ms", str(latency_ms)]  # fmt: skip
    server = subprocess.Popen(command, env=standalone_env(), stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    server.stdout.readline()  # "listening on ..."
    return server, port


def overrides(args: argparse.Namespace, side: int, port: int, gpu: bool) -> dict[str, str]:
    """What differs from the 7B recipe (see the module docstring)."""
    vllm = gpu and importlib.util.find_spec("vllm") is not None
    return {
        "model.path": str(args.out / "policy"),
        "model.dtype": "bfloat16" if gpu else "float32",
        "model.gradient_checkpointing": str(gpu).lower(),
        "model.min_pixels": str(side * side),
        "model.max_pixels": str(side * side),
        "data.source": "synth",
        "data.synth_n": str(args.prompts_per_step * args.steps),
        "data.synth_params": f"{{size: {side}}}",
        "data.max_prompt_length": "1024",
        "rewards.perception.params.judge.base_url": f"http://127.0.0.1:{port}/v1",
        "rewards.perception.params.judge.model": "fake",
        "grpo.per_device_train_batch_size": str(args.prompts_per_step * 8),
        "grpo.gradient_accumulation_steps": "1",
        "grpo.max_completion_length": str(args.completion_tokens),
        "grpo.max_steps": str(args.steps),
        "rollout.mode": "vllm_colocate" if vllm else "hf",
        "rollout.max_model_length": str(1024 + args.completion_tokens),
        "logging.report_to": "[none]",
        "logging.plot": "false",
        "output.dir": str(args.out / "run"),
        "output.save_steps": "100000",
        "output.save_final": "false",
        "output.resume": "never",
        "launch.accelerate_config": "null",
        "launch.num_processes": "1",
    }


def figures(run: Path) -> dict[str, Any]:
    """Median step and judge seconds over the steps after the first (which warms caches and kernels)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in rows if "loss" in r]
    timed = steps[1:] or steps
    step_s = statistics.median(r["step_time"] for r in timed)
    judge_s = statistics.median(r.get("timing/perception", 0.0) for r in timed)
    return {
        "steps": len(steps),
        "median_step_s": round(step_s, 3),
        "median_judge_s": round(judge_s, 4),
        "judge_share_of_step": round(judge_s / step_s, 4) if step_s else None,
        "max_judge_failure_rate": max((r.get("perception/judge_failure_rate") or 0.0) for r in steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/gpu-smoke"))
    parser.add_argument("--size", choices=sorted(SIZES), default=None, help="policy size (default: 1b on a GPU)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--prompts-per-step", type=int, default=4)
    parser.add_argument("--completion-tokens", type=int, default=256)
    parser.add_argument("--judge-latency-ms", type=float, default=200.0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import psutil
    import torch

    from perception_r1.config import load_config
    from perception_r1.train.config import TrainConfig
    from perception_r1.train.trainer import run_training

    gpu = torch.cuda.is_available()
    size = args.size or ("1b" if gpu else "tiny")
    if size == "1b" and not gpu:
        raise SystemExit("--size 1b needs a CUDA GPU (use --size tiny to check the script on a CPU)")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    params, side = build_policy(args.out / "policy", size)
    built_s = time.perf_counter() - started
    server, port = start_judge(args.judge_latency_ms)
    try:
        cfg = load_config(TrainConfig, RECIPE, overrides(args, side, port, gpu))
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        run_training(cfg)
    finally:
        server.terminate()
    result = {
        "device": torch.cuda.get_device_name(0) if gpu else "cpu",
        "torch": torch.__version__,
        "policy_parameters": params,
        "policy_build_s": round(built_s, 1),
        "rollout": cfg.rollout.mode,
        "completions_per_step": args.prompts_per_step * 8,
        "completion_tokens": args.completion_tokens,
        "judge_latency_ms": args.judge_latency_ms,
        **figures(args.out / "run"),
        "peak_memory_gib": round(
            (torch.cuda.max_memory_allocated() if gpu else psutil.Process().memory_info().rss) / 2**30, 2
        ),
    }
    (args.out / "smoke.json").write_text(json.dumps(result, indent=2))
    table = "\n".join(f"| {k} | {v} |" for k, v in result.items())
    title = "# The 7B recipe's code path at reduced scale\n\n| figure | value |\n|---|---|\n"
    (args.out / "smoke.md").write_text(title + table + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
