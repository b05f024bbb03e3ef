"""A folder that looks like a saved model to file-level checks (``perception_r1.model.integrity``), in
milliseconds: a config with a ``model_type``, a valid one-tensor safetensors file and a tokenizer file.

It stands in for a real build where a test is about caching, markers and locks, not about the weights.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_fake_model(folder: str | Path, marker: str | None = None) -> Path:
    """Write the fake model files into ``folder`` (created), and the empty marker file ``marker`` if given."""
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    save_file({"w": torch.zeros(4)}, str(folder / "model.safetensors"))
    (folder / "tokenizer.json").write_text("{}")
    if marker:
        (folder / marker).write_text("{}")
    return folder
