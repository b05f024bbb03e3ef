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
