"""File-level completeness checks of saved model folders (perception_r1.model.integrity)."""

from __future__ import annotations

import json

import pytest

from perception_r1.model.integrity import model_folder_problem, require_complete
from support.fake_model import write_fake_model


def _shard(folder):
    """Split the fake model into an index and one shard (the layout of large models)."""
    (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    index = {"weight_map": {"w": "model-00001-of-00001.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        # a complete folder
        (lambda f: None, None),
        # complete, sharded
        (_shard, None),
        # no config
        (lambda f: (f / "config.json").unlink(), "no config.json"),
        # a config that is not JSON (cut short)
        (lambda f: (f / "config.json").write_text('{"model_'), "config.json: unreadable"),
        # a config without model_type: transformers' "Unrecognized model"
        (lambda f: (f / "config.json").write_text("{}"), "config.json: no model_type"),
        # no weights at all (a save_pretrained on a rank != 0 writes nothing)
        (lambda f: (f / "model.safetensors").unlink(), "no weights"),
        # weights cut short by a full disk
        (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:-1]), "truncated"),
        # a header length beyond the file
        (lambda f: (f / "model.safetensors").write_bytes(b"\xff" * 8), "truncated header"),
        # sharded, with the shard missing
        (lambda f: (_shard(f), (f / "model-00001-of-00001.safetensors").unlink()), "no model-00001-of-00001"),
        # weights but no tokenizer or processor files
        (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer or processor files"),
    ],
)
def test_model_folder_problem(damage, expected, tmp_path):
    folder = write_fake_model(tmp_path / "m")
    damage(folder)
    problem = model_folder_problem(folder)
    if expected is None:
        assert problem is None
        require_complete(folder)
    else:
        assert problem is not None and expected in problem, problem
        with pytest.raises(RuntimeError, match="incomplete"):
            require_complete(folder)
