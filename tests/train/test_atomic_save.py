"""Complete-or-absent checkpoints: a save cut by a signal or a full disk leaves no ``checkpoint-N`` behind, in one
process and in a multi-process (torchrun) run, and the rerun resumes from the last complete checkpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from perception_r1.train.atomic_save import discard, publish, rotate
from perception_r1.train.checkpoints import STAGING_DIR, checkpoint_dirs, checkpoint_problem
from support.cli_runs import error_lines, run_cli, toy_recipe
from train.test_checkpoints import make_checkpoint


def _names(run_dir: Path) -> list[str]:
    return sorted(p.name for _, p in checkpoint_dirs(run_dir))


def test_publish_moves_the_staged_folder_in_whole_and_replaces_an_older_one(tmp_path: Path) -> None:
    staged = make_checkpoint(tmp_path / STAGING_DIR / "checkpoint-4", 4)
    old = make_checkpoint(tmp_path / "checkpoint-4", 3)  # the step was saved before (a run that went back)
    (old / "stale.txt").write_text("from the earlier save")
    publish(staged, tmp_path / "checkpoint-4")
    assert not staged.exists() and not (tmp_path / "checkpoint-4" / "stale.txt").exists()
    assert checkpoint_problem(tmp_path / "checkpoint-4") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [STAGING_DIR, "checkpoint-4"]  # no trash left


@pytest.mark.parametrize(
    ("steps", "incomplete", "limit", "keep", "left"),
    [
        # the oldest goes first
        ((1, 2, 3), (), 2, (3,), ["checkpoint-2", "checkpoint-3"]),
        # an incomplete checkpoint goes before any complete one, even a newer one
        ((1, 2, 3), (2,), 2, (3,), ["checkpoint-1", "checkpoint-3"]),
        # the new and the best checkpoints are never deleted, even beyond the limit
        ((1, 2, 3), (), 1, (3, 1), ["checkpoint-1", "checkpoint-3"]),
        # no limit: nothing is deleted
        ((1, 2, 3), (), None, (3,), ["checkpoint-1", "checkpoint-2", "checkpoint-3"]),
    ],
)
def test_rotate(tmp_path: Path, steps, incomplete, limit, keep, left) -> None:
    for step in steps:
        folder = make_checkpoint(tmp_path / f"checkpoint-{step}", step)
        if step in incomplete:
            (folder / "trainer_state.json").unlink()
    rotate(tmp_path, limit, {tmp_path / f"checkpoint-{s}" for s in keep})
    assert _names(tmp_path) == left
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".trash")]


def test_discard_of_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    discard(tmp_path / "checkpoint-9")
    assert list(tmp_path.iterdir()) == []


# ---- real runs ------------------------------------------------------------------------------------------------------


def _training_steps(out: Path) -> list[int]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "loss" in r]


def _all_complete(out: Path) -> bool:
    return all(checkpoint_problem(p) is None for _, p in checkpoint_dirs(out))


@pytest.mark.integration
@pytest.mark.parametrize(
    ("signal_name", "file_name", "returncode"),
    [
        # killed outright while the optimizer state is half written (no cleanup can run)
        ("SIGKILL", "optimizer.pt", -9),
        # terminated while the RNG state is half written: the CLI exits 143 after its cleanup
        ("SIGTERM", "rng_state.pth", 143),
    ],
)
def test_a_save_cut_by_a_signal_leaves_no_checkpoint_and_the_rerun_resumes(
    tmp_path: Path, toy_policy_path, signal_name: str, file_name: str, returncode: int
) -> None:
    out = tmp_path / "run"
    recipe = toy_recipe(tmp_path / "r.yaml", toy_policy_path, out)
    cut = run_cli("--signal", signal_name, file_name, "2", "--", "train", str(recipe), module="support.fault_run")
    assert cut.returncode == returncode, cut.stderr[-3000:]
    # the step-2 save was cut: checkpoint-2 does not exist, checkpoint-1 is whole
    assert _names(out) == ["checkpoint-1"] and _all_complete(out)
    rerun = run_cli("train", str(recipe))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "interrupted save" in rerun.stderr and "checkpoint-2" in rerun.stderr
    # the weights are restored with their names mapped; the Trainer's own unmapped load (which matches no name of
    # a Qwen2.5-VL under transformers 5 and warns of every key "missing") does not run
    assert "missing keys" not in rerun.stderr and "restored the policy's weights" in rerun.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert Path(summary["resumed_from"]).name == "checkpoint-1" and summary["steps"] == 3
    assert _training_steps(out) == [1, 2, 3]
    assert _names(out) == ["checkpoint-3"] and _all_complete(out)
    assert not (out / STAGING_DIR).exists()


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real tmpfs of 1.5 MB (root only): too small for one checkpoint of the toy policy (about 2 MB)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.integration
def test_a_full_disk_gives_one_line_and_no_checkpoint_then_resumes_once_space_is_freed(
    tmp_path: Path, toy_policy_path, small_disk: Path
) -> None:
    out = small_disk / "run"
    recipe = toy_recipe(tmp_path / "r.yaml", toy_policy_path, out)
    full = run_cli("train", str(recipe))
    assert full.returncode == 1, full.stderr[-3000:]
    assert "Traceback" not in full.stderr
    (line,) = error_lines(full.stderr)
    assert "no space left on device (ENOSPC)" in line and str(out) in line
    assert _names(out) == []  # the cut save left nothing that looks like a checkpoint
    # free space (a bigger disk), rerun: the leftover staging folder is discarded and the run completes
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    rerun = run_cli("train", str(recipe))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "interrupted save" in rerun.stderr
    assert _training_steps(out) == [1, 2, 3] and _names(out) == ["checkpoint-3"] and _all_complete(out)


@pytest.mark.integration
def test_two_ranks_write_one_checkpoint_and_a_rank_cut_mid_save_leaves_none(tmp_path: Path) -> None:
    def launch(out: Path, *extra: str) -> subprocess.CompletedProcess:
        args = ["--standalone", "--nproc_per_node", "2", "-m", "support.ddp_trainer", str(out), "3", *extra]
        return run_cli(*args, module="torch.distributed.run")

    whole = launch(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    # both ranks' files are in each checkpoint (rank 0 renamed only after rank 1 had written its part)
    assert _names(tmp_path / "whole") == ["checkpoint-2", "checkpoint-3"]
    for _, folder in checkpoint_dirs(tmp_path / "whole"):
        assert {"rng_state_0.pth", "rng_state_1.pth", "trainer_state.json"} <= {p.name for p in folder.iterdir()}
        assert checkpoint_problem(folder) is None
    # rank 1 killed while writing its RNG state of step 2: rank 0 wrote everything else (trainer_state.json
    # included) but never renamed the folder, so checkpoint-2 does not exist
    cut = launch(tmp_path / "cut", "1", "2")
    assert cut.returncode != 0
    assert _names(tmp_path / "cut") == ["checkpoint-1"] and _all_complete(tmp_path / "cut")
    staged = tmp_path / "cut" / STAGING_DIR / "checkpoint-2"
    assert (staged / "trainer_state.json").is_file() and checkpoint_problem(staged) is not None
    shutil.rmtree(tmp_path / "cut")
