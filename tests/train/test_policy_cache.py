"""The built-in policies' cache under concurrent use: one builder, the others wait; damaged entries rebuilt."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from perception_r1.config import ConfigError
from perception_r1.train import policy_cache
from support.fake_model import write_fake_model


def test_warmup_is_resolved_by_the_train_command_not_by_training():
    # training never imports the experiment: the experiment's cached warm-up policy comes as a folder
    with pytest.raises(ConfigError, match="perception_r1.experiment.cache.warmup_policy"):
        policy_cache.resolve_model_path("warmup")


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        # a hub id is passed on untouched
        ("Qwen/Qwen2.5-VL-7B-Instruct", True),
        # so is a local folder
        ("runs/x/final", True),
    ],
)
def test_other_paths_are_passed_on(path, kept):
    assert (policy_cache.resolve_model_path(path) == path) is kept


def test_damaged_warmup_cache_is_reported_and_cleared(monkeypatch, tmp_path, caplog):
    from perception_r1.experiment import cache as runner

    monkeypatch.setenv("PERCEPTION_R1_CACHE", str(tmp_path))
    stage = runner.warmup_cache_dir() / "warmup"
    write_fake_model(stage / "final")
    (stage / "summary.json").write_text("{}")
    assert runner.cached_warmup_policy() == stage / "final"
    # the marker written although the save wrote nothing (the rank-1 race): the weights are gone
    (stage / "final" / "model.safetensors").unlink()
    with caplog.at_level("WARNING"):
        assert runner.cached_warmup_policy() is None
    assert "damaged" in caplog.text and "no weights" in caplog.text
    assert not stage.exists()  # the next ensure_warmup_policy trains it again from a clean stage


@pytest.mark.integration
def test_two_process_launch_on_a_fresh_cache_builds_once(tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    recipe = {
        "model": {"path": "tiny"},
        "data": {"synth_n": 2},
        "rewards": [{"name": "format", "weight": 1.0}, {"name": "repetition", "params": {"n": 1}}],
        "grpo": {"num_generations": 2, "per_device_train_batch_size": 1, "max_completion_length": 8, "max_steps": 1},
        "logging": {"plot": False},
        "output": {"dir": str(out), "save_final": False},
        "launch": {"num_processes": 2},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PERCEPTION_R1_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "perception_r1.cli.main", "train", str(tmp_path / "r.yaml")]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("building the 'tiny' policy") == 1  # one rank built, the other waited
    assert json.loads((out / "summary.json").read_text())["world_size"] == 2
    (entry,) = [p for p in cache.iterdir() if p.name.startswith("tiny-")]
    # the entry is complete (a later single-process run can load it) and no temporary build folder is left
    from perception_r1.model.integrity import model_folder_problem

    assert model_folder_problem(entry) is None
    assert not [p for p in cache.iterdir() if ".building-" in p.name]
