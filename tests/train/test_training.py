"""End-to-end GRPO on the tiny model (CPU): a 2-step smoke run, and resume with the same data order.

Kept small: 2 prompts x 2 generations x 16 tokens per step. ``repetition`` with n=1 gives sampled completions
different rewards, so the advantages (and hence the gradients) are not all zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.config import from_dict

pytestmark = pytest.mark.integration

REWARDS = [
    {"name": "accuracy", "weight": 0.9, "params": {"isolation": "inline"}},
    {"name": "format", "weight": 0.1},
    {"name": "perception", "weight": 0.7, "params": {"judge": {"backend": "rule"}}},
    {"name": "repetition", "weight": 1.0, "params": {"n": 1, "max_penalty": -2.0}},
]


def _cfg(out: Path, **sections):
    from perception_r1.train.config import TrainConfig

    data = {
        "model": {"path": "tiny"},
        "data": {"synth_n": 4},
        "rewards": REWARDS,
        "grpo": {
            "num_generations": 2,
            "per_device_train_batch_size": 4,
            "max_completion_length": 16,
            "max_steps": 2,
            "learning_rate": 1e-4,
            "seed": 7,
        },
        "logging": {"samples_per_step": 4},
        "output": {"dir": str(out), "save_steps": 100, "save_final": False, "resume": "never"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return from_dict(TrainConfig, data)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_model_path):
    from perception_r1.train.trainer import run_training

    out = tmp_path_factory.mktemp("full")
    summary = run_training(_cfg(out, output={"save_final": True}))
    return out, summary


def test_smoke_two_steps_change_weights_and_log_every_component(full_run, tiny_model_path):
    import torch
    from safetensors import safe_open

    out, summary = full_run
    assert summary["steps"] == 2 and summary["examples"] == 4
    metrics = [r for r in _rows(out / "metrics.jsonl") if "rewards/format/mean" in r]
    assert [r["step"] for r in metrics] == [1, 2]
    for row in metrics:
        for name in ("accuracy", "format", "perception", "repetition"):
            assert row[f"rewards/{name}/mean"] is not None and f"rewards/{name}/std" in row
        assert "perception/judge_failure_rate" in row and "perception/judge_latency_s" in row
        assert "frac_reward_zero_std" in row and "completions/mean_length" in row
        # rollouts split by answer and perception reward (callbacks.answer_perception_shares), through TRL's log
        assert 0.0 <= row["rollouts/correct_wrong_perception"] <= 1.0 and "rollouts/correct_right_perception" in row
        assert row["timing/transformers.generate"] > 0 and row["timing/perception"] >= 0
    assert (out / "reward_components.png").read_bytes()[:4] == b"\x89PNG"
    # recipe.json records the prompt templates' versions and digests (the rule judge reads no prompt)
    templates = json.loads((out / "recipe.json").read_text())["prompt_templates"]
    assert templates["format"]["version"] == "format-v1" and len(templates["format"]["digest"]) == 16
    samples = _rows(out / "samples.jsonl")
    assert len(samples) == 8 and "perception_verdicts" in samples[0]
    # the trainable parameters moved
    changed = total = 0
    with (
        safe_open(Path(tiny_model_path) / "model.safetensors", "pt") as before,
        safe_open(out / "final" / "model.safetensors", "pt") as after,
    ):
        for key in before.keys():
            total += 1
            changed += not torch.equal(before.get_tensor(key), after.get_tensor(key))
    assert changed > total // 2, f"only {changed}/{total} tensors changed"
    # and the saved model loads back with transformers
    from transformers import AutoModelForImageTextToText, AutoProcessor

    AutoModelForImageTextToText.from_pretrained(out / "final")
    AutoProcessor.from_pretrained(out / "final")


def test_interrupted_run_resumes_with_the_same_data_order(full_run, tmp_path):
    from transformers import TrainerCallback

    from perception_r1.train.trainer import run_training

    class StopAfterFirstStep(TrainerCallback):  # stands in for a crash right after the step-1 checkpoint
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                control.should_training_stop = True

    out = tmp_path / "run"
    first = run_training(_cfg(out, output={"save_steps": 1}), extra_callbacks=[StopAfterFirstStep()])
    assert first["steps"] == 1 and (out / "checkpoint-1").is_dir()
    second = run_training(_cfg(out, output={"resume": "auto"}))
    assert second["resumed_from"].endswith("checkpoint-1") and second["steps"] == 2

    reference = _rows(full_run[0] / "samples.jsonl")
    resumed = _rows(out / "samples.jsonl")
    # same prompts at each step as the uninterrupted run: the data order survived the interruption
    assert [(r["step"], r["prompt"]) for r in resumed] == [(r["step"], r["prompt"]) for r in reference]
    # the checkpoint also restored the sampling RNG: on the CPU the resumed completions are the same ones
    assert [r["completion"] for r in resumed] == [r["completion"] for r in reference]
    assert [r["step"] for r in _rows(out / "metrics.jsonl") if "loss" in r] == [1, 2]


def test_rerun_after_the_last_checkpoint_trains_no_extra_step(tmp_path):
    from perception_r1.train.trainer import run_training

    # a run killed after writing its step-2 (last) checkpoint but before its summary: the rerun must finish it
    # from that checkpoint, not train a step past max_steps. 8 problems of 2 per step: step 2 is mid-epoch, where
    # the Trainer's resume runs one more step (at an epoch's end it runs none).
    out = tmp_path / "run"
    first = run_training(_cfg(out, data={"synth_n": 8}, output={"save_steps": 2}))
    assert first["steps"] == 2 and (out / "checkpoint-2").is_dir()
    (out / "summary.json").unlink()
    second = run_training(_cfg(out, data={"synth_n": 8}, output={"resume": "auto", "save_final": True}))
    assert second["resumed_from"].endswith("checkpoint-2") and second["steps"] == 2
    assert [r["step"] for r in _rows(out / "metrics.jsonl") if "loss" in r] == [1, 2]
    assert (out / "final" / "model.safetensors").is_file()


# ---- damaged checkpoints, torn logs and concurrent writers (toy policy: a step takes well under a second) -------


def _toy_cfg(out: Path, policy: Path, **sections):
    from perception_r1.train.config import TrainConfig

    data = {
        "model": {"path": str(policy)},
        "data": {"synth_n": 4, "synth_params": {"size": 112}},
        "grpo": {"num_generations": 2, "per_device_train_batch_size": 4, "max_completion_length": 16,
                 "max_steps": 4, "seed": 7},
        "logging": {"samples_per_step": 2, "plot": False},
        "output": {"dir": str(out), "save_steps": 2, "save_total_limit": None, "save_final": False},
    }  # fmt: skip
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return from_dict(TrainConfig, data)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory, toy_policy_path):
    """A finished 4-step run with checkpoint-2 and checkpoint-4."""
    from perception_r1.train.trainer import run_training

    out = tmp_path_factory.mktemp("toy") / "run"
    run_training(_toy_cfg(out, toy_policy_path))
    return out


def _copy(run: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(run, dest, ignore=shutil.ignore_patterns(".perception-r1.lock"))
    return dest


def _cut(name: str):
    def cut(folder: Path) -> None:
        (folder / name).write_bytes((folder / name).read_bytes()[:1000])

    return cut


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # a save cut after config.json: the folder a full disk or SIGTERM used to leave
        (lambda f: [p.unlink() for p in f.iterdir() if p.name != "config.json"], "no trainer_state.json"),
        # optimizer.pt deleted: the Trainer would have resumed with a fresh AdamW state and no word
        (lambda f: (f / "optimizer.pt").unlink(), "no optimizer.pt"),
        # truncated weights, unparseable trainer state
        (_cut("model.safetensors"), "model.safetensors is truncated or corrupt"),
        (lambda f: (f / "trainer_state.json").write_text("{"), "trainer_state.json is not valid JSON"),
    ],
    ids=["only config.json", "optimizer.pt deleted", "truncated safetensors", "corrupt trainer_state.json"],
)
def test_a_damaged_last_checkpoint_falls_back_to_the_previous_one(
    toy_run, toy_policy_path, tmp_path, caplog, damage, reason
):
    from perception_r1.train.trainer import run_training

    out = _copy(toy_run, tmp_path / "run")
    (out / "summary.json").unlink()
    damage(out / "checkpoint-4")
    with caplog.at_level("WARNING"):
        summary = run_training(_toy_cfg(out, toy_policy_path))
    assert Path(summary["resumed_from"]).name == "checkpoint-2" and summary["steps"] == 4
    assert f"skipping checkpoint {out / 'checkpoint-4'}: {reason}" in caplog.text
    assert [r["step"] for r in _rows(out / "metrics.jsonl") if "loss" in r] == [1, 2, 3, 4]
    from perception_r1.train.checkpoints import checkpoint_problem

    assert checkpoint_problem(out / "checkpoint-4") is None  # saved again, whole


def test_a_checkpoint_without_optimizer_state_is_refused_before_the_model_loads(toy_run, tmp_path, monkeypatch):
    from perception_r1.config import ConfigError
    from perception_r1.train import trainer

    out = _copy(toy_run, tmp_path / "run")
    (out / "checkpoint-4" / "optimizer.pt").unlink()
    monkeypatch.setattr(trainer, "load_policy", lambda *a: pytest.fail("the model was loaded"))
    # named explicitly: refused, with the ways out
    with pytest.raises(ConfigError, match="no optimizer.pt: resuming would restart the optimizer"):
        trainer.run_training(_toy_cfg(out, "unused", output={"resume": str(out / "checkpoint-4")}))
    # found by `auto` with no complete checkpoint to fall back to: refused too (no silent fresh start)
    import shutil

    shutil.rmtree(out / "checkpoint-2")
    with pytest.raises(ConfigError, match="no checkpoint can be resumed"):
        trainer.run_training(_toy_cfg(out, "unused"))


def test_a_torn_metrics_row_is_restored_from_the_checkpoint(toy_run, toy_policy_path, tmp_path, caplog):
    import shutil

    from perception_r1.train.trainer import run_training

    out = _copy(toy_run, tmp_path / "run")
    shutil.rmtree(out / "checkpoint-4")  # the run is resumed from checkpoint-2
    (out / "summary.json").unlink()
    lines = (out / "metrics.jsonl").read_text().splitlines(keepends=True)
    (i,) = [n for n, line in enumerate(lines) if json.loads(line)["step"] == 2 and "loss" in line]
    original = json.loads(lines[i])
    lines[i] = lines[i][: len(lines[i]) // 2] + "\n"  # the step-2 row torn mid-line
    (out / "metrics.jsonl").write_text("".join(lines))
    with caplog.at_level("WARNING"):
        run_training(_toy_cfg(out, toy_policy_path))
    rows = [r for r in _rows(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    restored = rows[1]
    assert restored["restored_from"] == "checkpoint-2/trainer_state.json"
    # every logged figure is back; only the callback's own step-time split is not in the checkpoint
    assert {k: v for k, v in original.items() if not k.startswith("timing/")} == {
        k: v for k, v in restored.items() if k != "restored_from"
    }
    assert (out / "metrics.jsonl.malformed").read_text().startswith(f"line {i + 1}: ")
    assert "restored from the checkpoint" in caplog.text and "malformed" in caplog.text


def test_two_trains_on_one_folder_one_is_refused(tmp_path, toy_policy_path):
    from support.cli_runs import error_lines, holder_pid, run_cli, start_cli, toy_recipe, wait_for

    out, release = tmp_path / "run", tmp_path / "release"
    recipe = toy_recipe(tmp_path / "r.yaml", toy_policy_path, out)
    first = start_cli("--pause-until", str(release), "--", "train", str(recipe), module="support.fault_run")
    try:
        wait_for(lambda: holder_pid(out) == first.pid, 300, "the first train to hold the folder", first)
        second = run_cli("train", str(recipe))
    finally:
        release.touch()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    (line,) = error_lines(second.stderr)
    assert f"{out} is in use by another run: train (pid {first.pid}" in line and "train " in line
    assert first.finish().returncode == 0
    # one run's rows only: each step once, in order
    assert [r["step"] for r in _rows(out / "metrics.jsonl") if "loss" in r] == [1, 2, 3]
    assert sorted({r["step"] for r in _rows(out / "samples.jsonl")}) == [1, 2, 3]
    assert len(_rows(out / "samples.jsonl")) == 3 * 2


def test_two_trains_started_together_never_mix(tmp_path, toy_policy_path):
    from support.cli_runs import start_cli, toy_recipe

    out = tmp_path / "run"
    recipe = toy_recipe(tmp_path / "r.yaml", toy_policy_path, out)
    runs = [start_cli("train", str(recipe)) for _ in range(2)]
    done = [run.finish() for run in runs]
    codes = sorted(d.returncode for d in done)
    # one is refused; or, when the machine delays one until the other has finished, it finds the run complete
    assert codes in ([0, 2], [0, 0]), [d.stderr[-2000:] for d in done]
    assert [r["step"] for r in _rows(out / "metrics.jsonl") if "loss" in r] == [1, 2, 3]
    assert len(_rows(out / "samples.jsonl")) == 3 * 2
