"""Resuming restores the trained weights (transformers' own resume loads none of a Qwen2.5-VL checkpoint's)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from perception_r1.experiment.policy import PolicySpec, build_policy
from perception_r1.train.checkpoints import has_full_weights, restore_weights

TOY = PolicySpec(
    vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
    vision_depth=1, vision_hidden_size=32, vision_heads=2, vision_intermediate_size=64, image_size=112,
)  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A built policy and a "checkpoint" of it whose every weight differs (saved as the Trainer saves them)."""
    from transformers import AutoModelForImageTextToText

    root = tmp_path_factory.mktemp("ckpt")
    policy = build_policy(root / "policy", TOY, ["<think>angle ABC = 40°</think>", "find x"] * 20)
    model = AutoModelForImageTextToText.from_pretrained(str(policy), dtype=torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    model.save_pretrained(str(root / "checkpoint-7"))
    return policy, root / "checkpoint-7"


def _fresh(policy: Path):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(str(policy), dtype=torch.float32)


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_restore_loads_every_weight_of_the_checkpoint(trained) -> None:
    policy, checkpoint = trained
    model = _fresh(policy)
    assert restore_weights(model, checkpoint) is True
    assert _same(model, _fresh(checkpoint))  # exactly the checkpoint's weights
    assert not _same(model, _fresh(policy))


def test_the_trainers_plain_load_would_restore_nothing(trained) -> None:
    # Why restore_weights exists: the saved names are not the live model's, so a strict=False load (what
    # Trainer._load_from_checkpoint does) matches no key. If a transformers release fixes this, this test says so.
    from safetensors.torch import load_file

    policy, checkpoint = trained
    model = _fresh(policy)
    result = model.load_state_dict(load_file(str(checkpoint / "model.safetensors")), strict=False)
    assert set(result.unexpected_keys) == set(load_file(str(checkpoint / "model.safetensors")))
    assert _same(model, _fresh(policy))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ((), False),  # an empty folder
        (("adapter_model.safetensors",), False),  # a PEFT checkpoint: the Trainer loads adapters itself
        (("model.safetensors",), True),  # a whole model in one file
        (("model.safetensors.index.json",), True),  # a sharded whole model
    ],
)
def test_has_full_weights(tmp_path: Path, files: tuple[str, ...], expected: bool) -> None:
    for name in files:
        (tmp_path / name).write_text("x")
    assert has_full_weights(tmp_path) is expected


def test_nothing_to_restore(trained, tmp_path: Path) -> None:
    model = _fresh(trained[0])
    assert restore_weights(model, None) is False  # a fresh run
    assert restore_weights(model, tmp_path) is False  # a folder without whole-model weights
    assert _same(model, _fresh(trained[0]))


def test_a_checkpoint_of_another_shape_is_refused(trained, tmp_path: Path) -> None:
    from dataclasses import replace

    other = build_policy(tmp_path / "other", replace(TOY, hidden_size=48, num_heads=2), ["abc"] * 20)
    with pytest.raises((RuntimeError, ValueError)):
        restore_weights(_fresh(trained[0]), other)


@pytest.mark.parametrize(
    ("state", "max_steps", "epochs", "expected"),
    [
        # killed after the last step's checkpoint: nothing left to train
        ({"global_step": 200, "max_steps": 200, "num_train_epochs": 1}, 200, 3.0, True),
        # an earlier checkpoint: training goes on
        ({"global_step": 175, "max_steps": 200, "num_train_epochs": 1}, 200, 3.0, False),
        # the rerun asks for more steps than the checkpoint had planned: training goes on
        ({"global_step": 200, "max_steps": 200, "num_train_epochs": 1}, 300, 3.0, False),
        # epoch-based run (max_steps -1), same epochs: the checkpoint's planned end decides
        ({"global_step": 1880, "max_steps": 1880, "num_train_epochs": 10.0}, -1, 10.0, True),
        ({"global_step": 1850, "max_steps": 1880, "num_train_epochs": 10.0}, -1, 10.0, False),
        # epoch-based run whose epochs changed: the end is unknown, so it trains (the Trainer decides)
        ({"global_step": 1880, "max_steps": 1880, "num_train_epochs": 10.0}, -1, 20.0, False),
        # a state without a planned end never counts as ended
        ({"global_step": 5}, -1, 1.0, False),
    ],
)
def test_reached_end(tmp_path: Path, state: dict, max_steps: int, epochs: float, expected: bool) -> None:
    import json
    from types import SimpleNamespace

    from perception_r1.train.checkpoints import reached_end

    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    args = SimpleNamespace(max_steps=max_steps, num_train_epochs=epochs)
    assert reached_end(tmp_path, args) is expected


def test_reached_end_without_a_checkpoint_or_its_state(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from perception_r1.train.checkpoints import reached_end

    args = SimpleNamespace(max_steps=10, num_train_epochs=1.0)
    assert reached_end(None, args) is False  # a fresh run
    assert reached_end(tmp_path, args) is False  # a folder without trainer_state.json (not a Trainer checkpoint)


# ---- which checkpoint a run resumes from -------------------------------------------------------------------------


def make_checkpoint(folder: Path, step: int) -> Path:
    """A checkpoint with every file a Trainer writes (real safetensors and torch.save files, tiny tensors)."""
    import json

    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    save_file({"w": torch.arange(64, dtype=torch.float32)}, str(folder / "model.safetensors"))
    torch.save({"state": {0: {"exp_avg": torch.ones(64)}}, "param_groups": []}, folder / "optimizer.pt")
    torch.save({"last_epoch": step}, folder / "scheduler.pt")
    torch.save({"cpu": torch.random.get_rng_state()}, folder / "rng_state.pth")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    return folder


def _truncate(name: str):
    def cut(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return cut


def _delete(*names: str):
    def remove(folder: Path) -> None:
        for name in names:
            (folder / name).unlink()

    return remove


def _write(name: str, text: str):
    return lambda folder: (folder / name).write_text(text)


FAULTS = [
    # a complete checkpoint
    ("none", lambda folder: None, None),
    # a save cut after config.json (the "checkpoint-N with only config.json")
    (
        "only config",
        _delete("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"),
        "incomplete",
    ),  # fmt: skip
    # a save cut before trainer_state.json, which the Trainer writes last
    ("no trainer state", _delete("trainer_state.json"), "incomplete"),
    # the weights never written
    ("no weights", _delete("model.safetensors"), "incomplete"),
    # trainer_state.json cut mid-write or overwritten
    ("torn trainer state", _write("trainer_state.json", '{"global_step": 4, "log_hi'), "corrupt"),
    ("trainer state without step", _write("trainer_state.json", '{"log_history": []}'), "corrupt"),
    # weights cut short (a full disk) or with a garbage header
    ("truncated weights", _truncate("model.safetensors"), "corrupt"),
    ("garbage weights", _write("model.safetensors", "not a safetensors file at all"), "corrupt"),
    # optimizer state cut short: the zip directory at its end is missing
    ("truncated optimizer", _truncate("optimizer.pt"), "corrupt"),
    ("truncated rng state", _truncate("rng_state.pth"), "corrupt"),
    # optimizer or scheduler state deleted: resuming would silently restart AdamW / the schedule
    ("no optimizer", _delete("optimizer.pt"), "no-optimizer"),
    ("no scheduler", _delete("scheduler.pt"), "no-optimizer"),
]


@pytest.mark.parametrize(("fault", "mutate", "kind"), FAULTS, ids=[f[0] for f in FAULTS])
def test_checkpoint_problem_names_each_fault(tmp_path: Path, fault, mutate, kind) -> None:
    from perception_r1.train.checkpoints import checkpoint_problem

    folder = make_checkpoint(tmp_path / "checkpoint-4", 4)
    mutate(folder)
    problem = checkpoint_problem(folder)
    assert (problem.kind if problem else None) == kind, problem


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        # save_only_model: no optimizer state by design
        ({"optimizer_state": False, "drop": ("optimizer.pt", "scheduler.pt")}, None),
        # a PEFT checkpoint holds adapters instead of the whole model
        ({"adapters": True, "drop": ("model.safetensors",)}, None),
        # DeepSpeed: `latest` names the tag whose shards hold the optimizer state
        ({"deepspeed": "global_step4", "drop": ("optimizer.pt", "model.safetensors")}, None),
        # DeepSpeed shards missing their optimizer state
        ({"deepspeed": "", "drop": ("optimizer.pt", "model.safetensors")}, "no-optimizer"),
        # a sharded model whose index names a shard that was never written
        ({"index": True}, "incomplete"),
    ],
)
def test_checkpoint_problem_other_layouts(tmp_path: Path, layout: dict, expected) -> None:
    import json

    from safetensors.torch import save_file

    from perception_r1.train.checkpoints import checkpoint_problem

    folder = make_checkpoint(tmp_path / "checkpoint-4", 4)
    for name in layout.get("drop", ()):
        (folder / name).unlink()
    if layout.get("adapters"):
        save_file({"lora": torch.zeros(2)}, str(folder / "adapter_model.safetensors"))
    if "deepspeed" in layout:
        (folder / "latest").write_text("global_step4")
        (folder / "global_step4").mkdir()
        if layout["deepspeed"]:
            torch.save({}, folder / "global_step4" / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt")
    if layout.get("index"):
        weight_map = {"w": "model-00001-of-00002.safetensors", "v": "model-00002-of-00002.safetensors"}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    problem = checkpoint_problem(folder, optimizer_state=layout.get("optimizer_state", True))
    assert (problem.kind if problem else None) == expected, problem


@pytest.mark.parametrize(
    ("checkpoints", "expected", "warned"),
    [
        # the newest is complete
        ({2: "none", 4: "none"}, "checkpoint-4", []),
        # the issue: a cut save left checkpoint-4 with only config.json; the complete checkpoint-2 is resumed
        ({2: "none", 4: "only config"}, "checkpoint-2", ["checkpoint-4"]),
        # corrupt newest: the previous one, with a message
        ({2: "none", 4: "truncated weights"}, "checkpoint-2", ["checkpoint-4"]),
        ({2: "none", 4: "torn trainer state"}, "checkpoint-2", ["checkpoint-4"]),
        # optimizer state deleted: never resumed with a fresh AdamW, the previous one instead
        ({2: "none", 4: "no optimizer"}, "checkpoint-2", ["checkpoint-4"]),
        # numbers compare as numbers, not text
        ({9: "none", 10: "none"}, "checkpoint-10", []),
        # only a cut save: start afresh (nothing trained is lost), saying so
        ({4: "only config"}, None, ["checkpoint-4"]),
        # nothing at all
        ({}, None, []),
    ],
)
def test_resume_point_takes_the_newest_complete_checkpoint(tmp_path, caplog, checkpoints, expected, warned) -> None:
    from perception_r1.train.checkpoints import resume_point

    mutations = {name: mutate for name, mutate, _ in FAULTS}
    for step, fault in checkpoints.items():
        mutations[fault](make_checkpoint(tmp_path / f"checkpoint-{step}", step))
    with caplog.at_level("WARNING"):
        chosen = resume_point(tmp_path)
    assert (Path(chosen).name if chosen else None) == expected
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping checkpoint")]
    assert [Path(m.split()[2].rstrip(":")).name for m in skipped] == warned


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        # trained state whose optimizer is gone: the user decides, with the ways out named
        ("no optimizer", "no optimizer.pt: resuming would restart the optimizer"),
        # a corrupt only checkpoint is not replaced by a silent fresh start either
        ("truncated weights", "model.safetensors is truncated or corrupt"),
    ],
)
def test_resume_point_refuses_to_start_over_silently(tmp_path, fault, message) -> None:
    from perception_r1.config import ConfigError
    from perception_r1.train.checkpoints import resume_point

    mutations = {name: mutate for name, mutate, _ in FAULTS}
    mutations[fault](make_checkpoint(tmp_path / "checkpoint-4", 4))
    with pytest.raises(ConfigError, match=message) as caught:
        resume_point(tmp_path)
    assert "output.resume=never" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("none", None),
        # the Trainer itself would resume this with a fresh AdamW state and no word
        ("no optimizer", r"no optimizer\.pt.*model\.path=.*output\.resume=never"),
        ("torn trainer state", "trainer_state.json is not valid JSON"),
    ],
)
def test_an_explicit_checkpoint_is_checked(tmp_path, fault, message) -> None:
    from perception_r1.config import ConfigError
    from perception_r1.train.checkpoints import check_resumable

    mutations = {name: mutate for name, mutate, _ in FAULTS}
    folder = make_checkpoint(tmp_path / "checkpoint-4", 4)
    mutations[fault](folder)
    if message is None:
        assert check_resumable(folder) == folder
    else:
        with pytest.raises(ConfigError, match=message):
            check_resumable(folder)


def test_an_explicit_checkpoint_under_home_is_found(tmp_path, monkeypatch) -> None:
    from perception_r1.train.checkpoints import check_resumable

    # the recipe's validation accepts output.resume ~/...; the resume must find the same folder
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = make_checkpoint(tmp_path / "runs" / "checkpoint-4", 4)
    assert check_resumable("~/runs/checkpoint-4") == folder


def test_leftovers_of_cut_saves_are_reported_and_removed(tmp_path, caplog) -> None:
    from perception_r1.train.checkpoints import STAGING_DIR, TRASH_PREFIX, resume_point

    make_checkpoint(tmp_path / "checkpoint-2", 2)
    (tmp_path / STAGING_DIR / "checkpoint-3").mkdir(parents=True)  # a save cut before its rename
    (tmp_path / f"{TRASH_PREFIX}checkpoint-1-99").mkdir()  # a rotation cut before its deletion finished
    with caplog.at_level("WARNING"):
        assert Path(resume_point(tmp_path)).name == "checkpoint-2"
    assert "interrupted save" in caplog.text and "checkpoint-3" in caplog.text
    assert not (tmp_path / STAGING_DIR / "checkpoint-3").exists()
    assert not (tmp_path / f"{TRASH_PREFIX}checkpoint-1-99").exists()
