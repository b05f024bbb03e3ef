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
