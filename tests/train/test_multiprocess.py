"""Data-parallel training in several real processes: ``torchrun --nproc_per_node 2 ... perception-r1 train``.

Two processes on the CPU (gloo) must be ONE run: each prompt judged once (counted at a real judge server on
127.0.0.1), one metrics row per step, the summary printed once, every rank's RNG state in the checkpoints, and a
run killed after a checkpoint continues exactly where the uninterrupted run went.

Sizes: 2 processes x 2 prompts x 2 completions x 16 tokens per step, the tiny model (about 15-20 s per step here).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support.fake_judge import parse_case, truthful_judge
from support.fake_openai_server import FakeOpenAIServer, last_user_text

pytestmark = pytest.mark.integration

CHECKPOINT_FILES = ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state_0.pth", "rng_state_1.pth")


def _recipe(path: Path, out: Path, judge: dict, **sections) -> Path:
    recipe = {
        "model": {"path": "tiny"},
        "data": {"synth_n": 4},
        "rewards": [
            {"name": "accuracy", "weight": 0.9, "params": {"isolation": "inline"}},
            {"name": "format", "weight": 0.1},
            {"name": "perception", "weight": 0.7, "params": {"judge": judge}},
            {"name": "repetition", "weight": 1.0, "params": {"n": 1, "max_penalty": -2.0}},
        ],
        "grpo": {
            "num_generations": 2,
            "per_device_train_batch_size": 2,
            "max_completion_length": 16,
            "max_steps": 2,
            "learning_rate": 1e-4,
            "seed": 7,
        },
        "logging": {"samples_per_step": 4, "plot": False},
        "output": {"dir": str(out), "save_steps": 2, "save_final": False},
        "launch": {"num_processes": 2},
    }
    for name, values in sections.items():
        recipe[name] = {**recipe[name], **values}
    path.write_text(yaml.safe_dump(recipe))
    return path


def _env() -> dict[str, str]:
    # One thread per rank: two ranks on two cores.
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _torchrun(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "perception_r1.cli.main", "train", str(recipe)]  # fmt: skip


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _accelerate(recipe: Path) -> list[str]:
    # `--multi_gpu` on a machine without GPUs: what a user copies from a GPU recipe; accelerate runs it on gloo.
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", "perception_r1.cli.main", "train", str(recipe)]  # fmt: skip


@pytest.mark.parametrize(
    "launcher",
    [
        _torchrun,  # torchrun --nproc_per_node 2
        _accelerate,  # accelerate launch --multi_gpu --num_processes 2 (torchrun underneath, its own env variables)
    ],
    ids=["torchrun", "accelerate"],
)
def test_two_processes_are_one_run(tmp_path, tiny_model_path, launcher):
    out = tmp_path / "run"
    with FakeOpenAIServer(truthful_judge) as server:
        judge = {"backend": "openai", "base_url": server.base_url, "model": "fake", "max_retries": 0}
        recipe = _recipe(tmp_path / "recipe.yaml", out, judge)
        done = subprocess.run(launcher(recipe), env=_env(), capture_output=True, text=True, timeout=900)
        requests = [parse_case(last_user_text(body)) for body in server.requests]
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 2
    # the summary is printed by rank 0 only
    assert done.stdout.count('"output_dir"') == 1
    # one metrics row per step (plus the trainer's end-of-run row), one sample block per step
    assert [r["step"] for r in _rows(out / "metrics.jsonl") if "loss" in r] == [1, 2]
    assert collections.Counter(r["step"] for r in _rows(out / "samples.jsonl")) == {1: 4, 2: 4}
    # 4 problems, 2 prompts a step over 2 steps: the two ranks drew different prompts and judged each
    # completion once (two independent runs would judge the same 2 problems twice each). One probe per rank.
    cases = [case for case in requests if case is not None]
    probes = [facts for facts, _ in cases if facts == ["AB = 5", "angle ABC = 90°", "BC = 12"]]
    judged = collections.Counter(tuple(facts) for facts, _ in cases if list(facts) not in probes)
    assert len(probes) == 2
    assert len(judged) == 4 and max(judged.values()) <= 2
    # every rank's state is in the checkpoint
    for name in CHECKPOINT_FILES:
        assert (out / "checkpoint-2" / name).is_file(), name


def _wait_for_checkpoint(proc: subprocess.Popen, folder: Path, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all((folder / name).is_file() for name in (*CHECKPOINT_FILES, "trainer_state.json")):
            time.sleep(1.0)  # the last writes of the other rank
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {folder} was written")
        time.sleep(0.2)
    raise AssertionError(f"{folder} did not appear within {timeout_s} s")


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a launcher and every process under it, and wait until all are gone.

    torchrun starts each rank in a session of its own, so killing the launcher's process group leaves the ranks
    running (training on, and holding the output folder).
    """
    import psutil

    launcher = psutil.Process(proc.pid)
    everyone = [launcher, *launcher.children(recursive=True)]
    for p in everyone:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    _, alive = psutil.wait_procs(everyone, timeout=60)
    assert not alive, alive


def test_two_process_run_killed_after_a_checkpoint_continues_exactly(tmp_path, tiny_model_path):
    judge = {"backend": "rule"}
    sections = {"data": {"synth_n": 8}, "grpo": {"max_steps": 4}}
    reference = tmp_path / "reference"
    recipe = _recipe(tmp_path / "reference.yaml", reference, judge, **sections)
    done = subprocess.run(_torchrun(recipe), env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "killed"
    recipe = _recipe(tmp_path / "killed.yaml", out, judge, **sections)
    proc = subprocess.Popen(
        _torchrun(recipe), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for_checkpoint(proc, out / "checkpoint-2")
    finally:
        _kill_tree(proc)  # the launcher and both ranks, mid step 3
    assert not (out / "summary.json").exists()
    resumed = subprocess.run(_torchrun(recipe), env=_env(), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["resumed_from"].endswith("checkpoint-2")

    keys = ("step", "loss", "reward", "completions/mean_length", "rewards/perception/mean", "rewards/accuracy/mean")
    want = [{k: r.get(k) for k in keys} for r in _rows(reference / "metrics.jsonl") if "loss" in r]
    got = [{k: r.get(k) for k in keys} for r in _rows(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in got] == [1, 2, 3, 4]
    _assert_close(got, want)
    # the same prompts and, with every rank's RNG restored, the same sampled completions after the resume
    pairs = [(r["step"], r["prompt"], r["completion"]) for r in _rows(out / "samples.jsonl")]
    assert pairs == [(r["step"], r["prompt"], r["completion"]) for r in _rows(reference / "samples.jsonl")]


def _assert_close(got: list[dict], want: list[dict]) -> None:
    for a, b in zip(got, want, strict=True):
        for key, value in b.items():
            if isinstance(value, float):
                assert a[key] == pytest.approx(value, rel=1e-5, abs=1e-7), (a["step"], key)
            else:
                assert a[key] == value, (a["step"], key)
