"""Fixtures for the tiny-model tests: the built model is cached, so only the first test run pays for the build."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def tiny_model_path():
    """Folder of the tiny Qwen2.5-VL (built once into the default cache, then reused)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from perception_r1.model.tiny import ensure_tiny_vlm

    return ensure_tiny_vlm()


@pytest.fixture(scope="session")
def toy_policy_path(tmp_path_factory):
    """A policy of the experiment's architecture at toy size (about 0.2 M parameters, 112 px figures): GRPO
    steps of a few hundred milliseconds and checkpoints of about 2 MB, for the checkpoint and resume tests."""
    from perception_r1.data.synth import generate_problems, to_row
    from perception_r1.experiment.policy import PolicySpec, build_policy

    spec = PolicySpec(
        vocab_size=400, hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=128,
        vision_depth=1, vision_hidden_size=32, vision_heads=2, vision_intermediate_size=64, image_size=112,
    )  # fmt: skip
    rows = [to_row(p, f"toy-{i}", 1) for i, p in enumerate(generate_problems(16, 0, size=112))]
    corpus = [r["problem"] for r in rows] + [r.get("cot") or "" for r in rows]
    return build_policy(tmp_path_factory.mktemp("toy-policy"), spec, corpus)
