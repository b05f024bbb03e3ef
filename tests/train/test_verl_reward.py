"""perception_r1.train.verl_reward, the former home of the verl adapter, still resolves for existing configs."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async", "compute_score_batch", "result"])
def test_former_module_path_names_the_same_functions(name):
    # pkg://perception_r1.train.verl_reward in a verl config imports this module and takes the attribute
    old = importlib.import_module("perception_r1.train.verl_reward")
    new = importlib.import_module("perception_r1.integrations.verl")
    assert getattr(old, name) is getattr(new, name)
