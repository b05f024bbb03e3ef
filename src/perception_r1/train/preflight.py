"""Preflight of a launch (``perception-r1 train RECIPE --dry-run``): what would stop it on the training node.

Each check answers ok, fail or skip with one line: packages the recipe needs and their version ranges (vLLM
within the range the installed TRL supports, DeepSpeed for a DeepSpeed accelerate config, flash-attn for
``flash_attention_2``, tensorboard/wandb for ``logging.report_to``), the accelerate config file, GPUs against
processes and the vLLM server's GPUs against the training GPUs, and the vLLM context length it will pass.
Nothing here starts a process or loads a model.

Example:
    >>> from perception_r1.train.config import TrainConfig
    >>> [c.status for c in preflight(TrainConfig()) if c.name == "accelerate config"]
    ['skip']
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.train.config import TrainConfig
from perception_r1.train.launch import context_length, judge_serve_command, served_judge, url_port

# Used when the installed TRL does not declare its vLLM range (TRL 1.16 supports 0.22.0 to 0.31.0).
VLLM_RANGE_FALLBACK = ">=0.22.0,<=0.31.0"
DEEPSPEED_RANGE_FALLBACK = ">=0.18.6"


@dataclass(frozen=True)
class Check:
    """One preflight answer: ``status`` is ok, fail or skip; ``detail`` says what was found."""

    name: str
    status: str
    detail: str


def _trl_extra_range(package: str, fallback: str) -> str:
    """The version range TRL's own extras declare for ``package`` (e.g. ``vllm<=0.31.0,>=0.22.0``)."""
    try:
        requirements = importlib.metadata.requires("trl") or []
    except importlib.metadata.PackageNotFoundError:
        return fallback
    for line in requirements:
        match = re.match(rf"{re.escape(package)}\s*([<>=!~][^;]*)", line.strip())
        if match:
            return match.group(1).strip()
    return fallback


def package_check(name: str, dist: str, spec: str, why: str) -> Check:
    """Is distribution ``dist`` installed and within ``spec`` (PEP 440, empty: any)?"""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        hint = "`bash scripts/setup.sh --gpu` installs it" if dist != "flash-attn" else "`--flash-attn` of setup.sh"
        return Check(name, "fail", f"{dist} is not installed ({why}); {hint}")
    if spec and Version(Version(version).base_version) not in SpecifierSet(spec):
        return Check(name, "fail", f"{dist} {version} is outside {spec} ({why})")
    return Check(name, "ok", f"{dist} {version}" + (f" (needs {spec})" if spec else ""))


def _accelerate_config(cfg: TrainConfig) -> tuple[Check, dict[str, Any]]:
    path = cfg.launch.accelerate_config
    if path is None:
        return Check("accelerate config", "skip", "none (launch.accelerate_config)"), {}
    import yaml

    file = Path(path)
    if not file.is_file():
        return Check("accelerate config", "fail", f"{path}: no such file (launch.accelerate_config)"), {}
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return Check("accelerate config", "fail", f"{path}: not valid YAML ({exc})"), {}
    if not isinstance(data, dict):
        return Check("accelerate config", "fail", f"{path}: expected a mapping"), {}
    kind = data.get("distributed_type", "?")
    processes = data.get("num_processes")
    if processes is not None and processes != cfg.launch.num_processes:
        launch = cfg.launch.num_processes
        detail = f"{path}: num_processes {processes}, launch.num_processes {launch} (the command line wins)"
        return Check("accelerate config", "ok", detail), data
    return Check("accelerate config", "ok", f"{path} ({kind})"), data


def package_checks(cfg: TrainConfig, accelerate: dict[str, Any]) -> list[Check]:
    """The packages this recipe needs beyond the base install, each within its supported range."""
    checks = []
    if cfg.rollout.mode != "hf":
        spec = _trl_extra_range("vllm", VLLM_RANGE_FALLBACK)
        checks.append(package_check("vllm", "vllm", spec, f"rollout.mode {cfg.rollout.mode}; the range TRL supports"))
    if accelerate.get("distributed_type") == "DEEPSPEED" or "deepspeed_config" in accelerate:
        spec = _trl_extra_range("deepspeed", DEEPSPEED_RANGE_FALLBACK)
        checks.append(package_check("deepspeed", "deepspeed", spec, "the accelerate config uses DeepSpeed"))
    if cfg.model.attn_implementation == "flash_attention_2":
        checks.append(package_check("flash-attn", "flash-attn", "", "model.attn_implementation flash_attention_2"))
    for integration in cfg.logging.report_to:
        if integration in ("tensorboard", "wandb", "mlflow", "trackio"):
            checks.append(package_check(integration, integration, "", f"logging.report_to {integration}"))
    return checks


def _gpu_list(text: str | None) -> list[str]:
    return [g.strip() for g in (text or "").split(",") if g.strip()]


def _overlap_checks(cfg: TrainConfig) -> list[Check]:
    """The vLLM server's GPUs against the training GPUs and its tensor parallelism (``vllm_server`` only)."""
    la, r = cfg.launch, cfg.rollout
    if r.mode != "vllm_server":
        return []
    server, training = _gpu_list(r.server_gpus), _gpu_list(la.training_gpus)
    shared = sorted(set(server) & set(training))
    if not training:
        overlap = Check(
            "GPU overlap",
            "fail",
            f"rollout.mode vllm_server: set launch.training_gpus to GPUs other than rollout.server_gpus "
            f"({r.server_gpus}); unset, training uses every GPU",
        )
    elif shared:
        overlap = Check(
            "GPU overlap", "fail", f"GPU(s) {','.join(shared)} in rollout.server_gpus and launch.training_gpus"
        )
    else:
        overlap = Check("GPU overlap", "ok", f"vLLM server on {r.server_gpus}, training on {la.training_gpus}")
    checks = [overlap]
    if len(server) < r.tensor_parallel_size:
        detail = f"rollout.tensor_parallel_size {r.tensor_parallel_size} > {len(server)} rollout.server_gpus"
        checks.append(Check("vLLM server GPUs", "fail", detail))
    return checks


def gpu_checks(cfg: TrainConfig, device_count: int | None) -> list[Check]:
    """Training GPUs against processes, and the vLLM server's GPUs against the training GPUs.

    Args:
        cfg: The recipe.
        device_count: GPUs visible on this machine, or None when it has none (a login node: counts skipped).
    """
    la = cfg.launch
    checks = _overlap_checks(cfg)
    if device_count is None:
        return [*checks, Check("GPU count", "skip", "no GPU visible here; run --dry-run on the training node")]
    per_node = -(-la.num_processes // la.num_machines)
    training = _gpu_list(la.training_gpus)
    available = len(training) if training else device_count
    if any(not g.isdigit() or int(g) >= device_count for g in training):
        count = Check(
            "GPU count", "fail", f"launch.training_gpus {la.training_gpus}: the node has {device_count} GPU(s)"
        )
    elif per_node > available:
        count = Check("GPU count", "fail", f"{per_node} process(es) per node but {available} training GPU(s)")
    else:
        count = Check("GPU count", "ok", f"{per_node} process(es) per node on {available} GPU(s)")
    return [*checks, count]


def context_check(cfg: TrainConfig) -> Check | None:
    """The vLLM context length it will pass, and whether prompts plus completions fit in it."""
    if cfg.rollout.mode == "hf":
        return None
    needed = (cfg.data.max_prompt_length or 0) + int(cfg.grpo.max_completion_length or 256)
    length = context_length(cfg)
    flag = "--max_model_len" if cfg.rollout.mode == "vllm_server" else "vllm_max_model_length"
    if cfg.data.max_prompt_length and length < needed:
        detail = f"{flag} {length} < data.max_prompt_length + grpo.max_completion_length = {needed}"
        return Check("vLLM context", "fail", detail)
    return Check("vLLM context", "ok", f"{flag} {length}")


def judge_serve_check(cfg: TrainConfig) -> Check | None:
    """Preflight: does the judge server command listen on the port of the judge's URL? None: no served judge."""
    judge = served_judge(cfg)
    if judge is None:
        return None
    served = re.search(r"--port[ =](\d+)", judge_serve_command(cfg, judge))
    if served and int(served.group(1)) != url_port(judge.base_url):
        detail = (
            f"launch.judge_serve listens on port {served.group(1)} but the judge URL is {judge.base_url}; "
            "write --port {port} in launch.judge_serve"
        )
        return Check("judge server", "fail", detail)
    return Check("judge server", "ok", f"serves {judge.base_url} ({judge.model})")


def preflight(cfg: TrainConfig, device_count: int | None = -1) -> list[Check]:
    """Every preflight check of the recipe (see the module docstring).

    Args:
        cfg: The validated recipe.
        device_count: GPUs to assume (None: none); -1 asks torch on this machine.
    """
    if device_count == -1:
        import torch

        device_count = torch.cuda.device_count() if torch.cuda.is_available() else None
    accelerate_check, accelerate = _accelerate_config(cfg)
    checks = [accelerate_check, *package_checks(cfg, accelerate), *gpu_checks(cfg, device_count)]
    context = context_check(cfg)
    if context is not None:
        checks.append(context)
    judge = judge_serve_check(cfg)
    if judge is not None:
        checks.append(judge)
    return checks


def format_checks(checks: list[Check]) -> str:
    """One line a check: ``[ok]``/``[FAIL]``/``[skip]``, name, detail."""
    marks = {"ok": "[ok]  ", "fail": "[FAIL]", "skip": "[skip]"}
    return "\n".join(f"{marks[c.status]} {c.name}: {c.detail}" for c in checks)
