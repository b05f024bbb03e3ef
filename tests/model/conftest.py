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
