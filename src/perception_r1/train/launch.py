"""The launch sequence of a recipe (printed by ``perception-r1 train RECIPE --dry-run``), and a data-parallel
run on this node (:func:`run_launched`).

Order: (1) serve the judge LLM (when a perception reward uses an OpenAI-compatible judge) and wait until it
answers, (2) serve vLLM rollouts (``rollout.mode: vllm_server``) and wait, (3) launch training with Accelerate on
every node. The plan's commands are strings for a person or a job script; only :func:`run_launched` starts
processes.

Example:
    >>> from perception_r1.train.config import TrainConfig
    >>> [step.title for step in launch_plan(TrainConfig())]
    ['train']
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from perception_r1.train.config import TrainConfig


@dataclass
class Step:
    """One step of the launch sequence: a title, the command, and a note (where it runs, what to wait for)."""

    title: str
    command: str
    note: str = ""


def served_judge(cfg: TrainConfig) -> Any | None:
    """The perception reward's judge config when it is served over HTTP (``openai`` backend), else None."""
    from perception_r1.judge.config import coerce_judge_config

    for spec in cfg.rewards:
        if spec.name == "perception":
            judge = coerce_judge_config(spec.params.get("judge"))
            return judge if judge.backend == "openai" else None  # rule / in-process judges need no server
    return None


def url_port(base_url: str) -> int:
    """The port of ``base_url``, or its scheme's default (443 for https, else 80)."""
    url = urlparse(base_url)
    return url.port or (443 if url.scheme == "https" else 80)


def judge_serve_command(cfg: TrainConfig, judge: Any) -> str:
    """The command that serves ``judge``, following its URL.

    ``launch.judge_serve`` may use ``{port}``, ``{host}`` and ``{model}``: they are filled from the judge's
    ``base_url`` and ``model``, so a judge URL overridden on the command line moves the printed server with it.
    """
    port = url_port(judge.base_url)
    if cfg.launch.judge_serve:
        fields = {"port": port, "host": urlparse(judge.base_url).hostname or "", "model": judge.model}
        return re.sub(r"\{(port|host|model)\}", lambda m: str(fields[m.group(1)]), cfg.launch.judge_serve)
    return (
        f"vllm serve {shlex.quote(judge.model)} --host 0.0.0.0 --port {port} "
        f"--max-num-seqs {judge.max_concurrency} --max-model-len 8192"
    )


def _judge_step(cfg: TrainConfig) -> Step | None:
    judge = served_judge(cfg)
    if judge is None:
        return None
    wait = f"until curl -sf {judge.base_url.rstrip('/')}/models >/dev/null; do sleep 10; done"
    return Step(
        "judge server",
        judge_serve_command(cfg, judge),
        f"on the judge machine/GPUs; then wait: {wait}; the key (if any) goes in ${judge.api_key_env}",
    )


def context_length(cfg: TrainConfig) -> int:
    """Tokens vLLM must hold per sequence: ``rollout.max_model_length``, else prompt + completion limits."""
    if cfg.rollout.max_model_length is not None:
        return cfg.rollout.max_model_length
    prompt = cfg.data.max_prompt_length or 0
    return prompt + int(cfg.grpo.max_completion_length or 256)


def _rollout_step(cfg: TrainConfig, model_path: str) -> Step | None:
    r = cfg.rollout
    if r.mode != "vllm_server":
        return None
    command = (
        f"CUDA_VISIBLE_DEVICES={r.server_gpus} trl vllm-serve --model {shlex.quote(model_path)} "
        f"--tensor-parallel-size {r.tensor_parallel_size} --max_model_len {context_length(cfg)} "
        f"--host {r.server_host} --port {r.server_port}"
    )
    wait = f"until curl -sf http://{r.server_host}:{r.server_port}/health/ >/dev/null; do sleep 10; done"
    return Step("vLLM rollout server", command, f"on the training node, GPUs not used by training; then wait: {wait}")


def _train_step(cfg: TrainConfig, recipe: str | None, overrides: Mapping[str, str]) -> Step:
    train_args = ["train"] + ([recipe] if recipe else [])
    for key, value in overrides.items():
        train_args += [f"--{key}", str(value)]
    args = " ".join(shlex.quote(a) for a in train_args)
    la = cfg.launch
    env = f"CUDA_VISIBLE_DEVICES={la.training_gpus} " if la.training_gpus else ""
    if la.accelerate_config is None and la.num_processes == 1:
        return Step("train", f"{env}perception-r1 {args}", "single process")
    parts = [f"{env}accelerate launch"]
    if la.accelerate_config:
        parts.append(f"--config_file {shlex.quote(la.accelerate_config)}")
    parts.append(f"--num_processes {la.num_processes} --num_machines {la.num_machines}")
    if la.num_machines > 1:
        parts.append(
            f"--machine_rank $NODE_RANK --main_process_ip {la.main_process_ip} "
            f"--main_process_port {la.main_process_port}"
        )
    parts.append(f"-m perception_r1.cli.main {args}")
    note = "on every node (NODE_RANK = 0..num_machines-1)" if la.num_machines > 1 else "on the training node"
    return Step("train", " ".join(parts), note)


def launch_plan(
    cfg: TrainConfig, recipe: str | None = None, overrides: Mapping[str, str] | None = None, model_path: str = ""
) -> list[Step]:
    """The ordered launch steps of a recipe.

    Args:
        cfg: The validated recipe.
        recipe: The recipe file as given on the command line (repeated in the training command).
        overrides: Command-line overrides (repeated in the training command).
        model_path: Resolved policy path for the vLLM server (default: ``cfg.model.path``).

    Returns:
        Steps in launch order: judge server (if any), vLLM server (if any), training.
    """
    steps = [
        _judge_step(cfg),
        _rollout_step(cfg, model_path or cfg.model.path),
        _train_step(cfg, recipe, overrides or {}),
    ]
    return [s for s in steps if s is not None]


def format_plan(steps: list[Step]) -> str:
    """Numbered, copy-pasteable text of the launch steps."""
    lines = []
    for i, step in enumerate(steps, start=1):
        lines.append(f"# {i}. {step.title}" + (f" ({step.note})" if step.note else ""))
        lines.append(step.command)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def run_launched(cfg: TrainConfig, processes: int) -> dict[str, Any]:
    """Train ``cfg`` as ONE data-parallel run of ``processes`` processes on this node (``torchrun --standalone``).

    The recipe is written to ``output.dir/launch_recipe.yaml`` and each process runs ``perception-r1 train`` on it;
    the launched ranks inherit this process's environment (threads, caches) and its stdout/stderr.

    Returns:
        The run's ``summary.json``.

    Raises:
        RuntimeError: the launch failed (exit status named).
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from perception_r1.config import to_dict
    from perception_r1.io_utils import atomic_write_text
    from perception_r1.processes import stop_process

    out = Path(cfg.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    recipe = out / "launch_recipe.yaml"
    atomic_write_text(recipe, yaml.safe_dump(to_dict(cfg), sort_keys=False))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "perception_r1.cli.main", "train", str(recipe)]  # fmt: skip
    with subprocess.Popen(command) as launch:
        try:
            code = launch.wait()
        except BaseException:
            # Stopped (SIGTERM, Ctrl-C): torchrun stops its ranks when sent SIGTERM. The ranks run in sessions of
            # their own, so killing torchrun outright (as subprocess.run does) would leave them training.
            stop_process(launch)
            raise
    if code != 0:
        raise RuntimeError(f"the {processes}-process training run in {out} failed (exit {code})")
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))
