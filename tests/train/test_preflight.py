"""The launch preflight of ``train --dry-run`` (perception_r1.train.preflight): GPUs and the vLLM context."""

from __future__ import annotations

import pytest

from perception_r1.config import from_dict
from perception_r1.train.config import TrainConfig
from perception_r1.train.preflight import context_check, gpu_checks, package_check


def _cfg(**sections) -> TrainConfig:
    return from_dict(TrainConfig, sections)


@pytest.mark.parametrize(
    ("sections", "gpus", "expected"),
    [
        # 8 processes on an 8-GPU node
        ({"launch": {"num_processes": 8}}, 8, {"GPU count": "ok"}),
        # 8 processes on a 4-GPU node
        ({"launch": {"num_processes": 8}}, 4, {"GPU count": "fail"}),
        # two nodes of 8: 8 processes each
        ({"launch": {"num_processes": 16, "num_machines": 2}}, 8, {"GPU count": "ok"}),
        # a login node without GPUs: the count is not knowable here
        ({"launch": {"num_processes": 8}}, None, {"GPU count": "skip"}),
        # a vLLM server whose GPU is also a training GPU
        ({"rollout": {"mode": "vllm_server", "server_gpus": "7"}, "launch": {"num_processes": 7,
          "training_gpus": "0,1,2,3,4,5,6,7"}}, 8, {"GPU overlap": "fail"}),
        # a vLLM server with training on all GPUs (training_gpus unset): they overlap
        ({"rollout": {"mode": "vllm_server"}, "launch": {"num_processes": 7}}, 8, {"GPU overlap": "fail"}),
        # disjoint GPUs
        ({"rollout": {"mode": "vllm_server", "server_gpus": "7"}, "launch": {"num_processes": 7,
          "training_gpus": "0,1,2,3,4,5,6"}}, 8, {"GPU overlap": "ok", "GPU count": "ok"}),
        # tensor parallelism over more GPUs than the server has
        ({"rollout": {"mode": "vllm_server", "server_gpus": "7", "tensor_parallel_size": 2},
          "launch": {"training_gpus": "0"}}, 8, {"vLLM server GPUs": "fail"}),
        # a training GPU this node does not have
        ({"launch": {"training_gpus": "0,9"}}, 8, {"GPU count": "fail"}),
    ],
)  # fmt: skip
def test_gpu_checks(sections, gpus, expected):
    checks = {c.name: c.status for c in gpu_checks(_cfg(**sections), gpus)}
    assert {k: checks.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("sections", "status", "detail"),
    [
        # transformers rollouts: no vLLM context to check
        ({}, None, None),
        # colocated vLLM with the recipe's 8192 over 4096 + 4096
        ({"rollout": {"mode": "vllm_colocate", "max_model_length": 8192}, "data": {"max_prompt_length": 4096},
          "grpo": {"max_completion_length": 4096}}, "ok", "vllm_max_model_length 8192"),
        # a server context too short for prompt + completion
        ({"rollout": {"mode": "vllm_server", "max_model_length": 4096}, "data": {"max_prompt_length": 4096},
          "grpo": {"max_completion_length": 1024}}, "fail", "--max_model_len 4096 < "),
        # unset: prompt + completion limits are passed
        ({"rollout": {"mode": "vllm_server"}, "data": {"max_prompt_length": 2048},
          "grpo": {"max_completion_length": 1024}}, "ok", "--max_model_len 3072"),
    ],
)  # fmt: skip
def test_context_check(sections, status, detail):
    check = context_check(_cfg(**sections))
    if status is None:
        assert check is None
    else:
        assert check.status == status and detail in check.detail


@pytest.mark.parametrize(
    ("installed", "spec", "status"),
    [
        # installed, in range (TRL 1.16's vLLM range)
        ("0.31.0", ">=0.22.0,<=0.31.0", "ok"),
        # a local build tag does not take it out of range
        ("0.24.0+cu129", ">=0.22.0,<=0.31.0", "ok"),
        # too new for TRL
        ("0.34.0", ">=0.22.0,<=0.31.0", "fail"),
        # not installed
        (None, ">=0.22.0", "fail"),
    ],
)
def test_package_check(monkeypatch, installed, spec, status):
    import importlib.metadata

    def version(name):
        if installed is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert package_check("vllm", "vllm", spec, "test").status == status
