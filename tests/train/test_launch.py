"""The launch plan printed by --dry-run."""

from __future__ import annotations

import pytest

from perception_r1.config import from_dict
from perception_r1.train.config import TrainConfig
from perception_r1.train.launch import format_plan, launch_plan

JUDGE = {
    "name": "perception",
    "weight": 0.7,
    "params": {"judge": {"backend": "openai", "base_url": "http://judge:8001/v1", "model": "Qwen/J"}},
}


@pytest.mark.parametrize(
    ("data", "titles", "snippets"),
    [
        # the embedded default: rule judge, HF generate, one process
        ({}, ["train"], ["perception-r1 train r.yaml"]),
        # an OpenAI-compatible judge is served first, on the port of its base_url, and waited for
        (
            {"rewards": [JUDGE]},
            ["judge server", "train"],
            ["vllm serve Qwen/J --host 0.0.0.0 --port 8001", "curl -sf http://judge:8001/v1/models"],
        ),
        # vLLM server rollouts get their own server step
        (
            {"rollout": {"mode": "vllm_server", "server_port": 8123}},
            ["vLLM rollout server", "train"],
            ["trl vllm-serve --model tiny", "--port 8123"],
        ),
        # colocated vLLM needs no server
        ({"rollout": {"mode": "vllm_colocate"}}, ["train"], []),
        # accelerate with a config on one node
        (
            {"launch": {"accelerate_config": "z3.yaml", "num_processes": 8}},
            ["train"],
            [
                "accelerate launch --config_file z3.yaml --num_processes 8 --num_machines 1 -m perception_r1.cli.main "
                "train r.yaml --grpo.seed 3"
            ],
        ),
        # several nodes: rank and rendezvous from the environment
        (
            {"launch": {"accelerate_config": "z3.yaml", "num_processes": 16, "num_machines": 2}},
            ["train"],
            ["--machine_rank $NODE_RANK --main_process_ip $MASTER_ADDR --main_process_port 29500"],
        ),
    ],
)
def test_launch_plan(data, titles, snippets):
    cfg = from_dict(TrainConfig, data)
    steps = launch_plan(cfg, "r.yaml", {"grpo.seed": "3"} if "launch" in data else {})
    assert [s.title for s in steps] == titles
    text = format_plan(steps)
    for snippet in snippets:
        assert snippet in text


# Runs one 2-process launch of a training recipe (argv[1]) as the experiment does, with the CLI's SIGTERM handling.
LAUNCHER = """
import sys
from perception_r1.config import from_dict, load_yaml
from perception_r1.processes import exit_on_sigterm
from perception_r1.train.config import TrainConfig
from perception_r1.train.launch import run_launched

exit_on_sigterm()
run_launched(from_dict(TrainConfig, load_yaml(sys.argv[1])), 2)
"""


@pytest.mark.integration
def test_a_stopped_launch_stops_its_ranks(tmp_path, toy_policy_path):
    # torchrun starts each rank in a session of its own: had the launch been killed outright (as subprocess.run
    # does when interrupted), both ranks would have gone on training and holding the run folder.
    import os
    import signal
    import subprocess
    import sys

    from support.cli_runs import cli_env, descendants, processes_gone, toy_recipe, wait_for

    out = tmp_path / "run"
    recipe = toy_recipe(
        tmp_path / "r.yaml", toy_policy_path, out, grpo={"max_steps": 5000}, launch={"num_processes": 2}
    )
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "launcher.py"), str(recipe)], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        metrics = out / "metrics.jsonl"
        wait_for(lambda: metrics.is_file() and metrics.read_text().count("\n") >= 1, 300, "the first step")
        ranks = descendants(proc.pid)  # torchrun and its 2 ranks
        assert len(ranks) >= 3
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(120) == 143
        assert processes_gone(ranks, within_s=30), "a rank outlived its stopped launch"
    finally:
        if proc.poll() is None:
            proc.kill()
