"""Restoring a model's weights from a Trainer checkpoint when a run resumes.

Why this exists: with transformers 5, ``save_pretrained`` writes Qwen2.5-VL weights under their legacy names
(``model.layers.0...``) while the live model names them ``model.language_model.layers.0...``. ``from_pretrained``
maps the names; ``Trainer._load_from_checkpoint`` loads the file with ``strict=False`` and no mapping, so on
resume *no* weight is loaded and training silently continues from the initial weights with the checkpoint's
step, optimizer and learning-rate schedule (seen here: a warm-up resumed at step 500 went back to its initial
loss, 5.4). Loading the checkpoint through ``from_pretrained`` first gives the model its trained weights; the
Trainer then restores the optimizer, scheduler, RNG and step as usual.

Example:
    >>> from pathlib import Path
    >>> has_full_weights(Path("no-such-checkpoint"))
    False
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Files holding a whole model's weights; adapter-only (PEFT) and DeepSpeed checkpoints are left to the Trainer.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def has_full_weights(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` holds a whole model's weights (not just adapters or DeepSpeed shards)."""
    return any((checkpoint / name).is_file() for name in WEIGHT_FILES)


def restore_weights(model: Any, checkpoint: str | Path | None) -> bool:
    """Load ``checkpoint``'s weights into ``model`` in place, mapping saved names as ``from_pretrained`` does.

    Args:
        model: The freshly loaded ``PreTrainedModel`` a resumed run trains.
        checkpoint: The checkpoint folder the run resumes from (None: nothing to do).

    Returns:
        True when weights were loaded; False when there is no checkpoint or it holds no whole-model weights.

    Raises:
        RuntimeError: the checkpoint's weights do not fit the model (names or shapes), naming what is missing.
    """
    if checkpoint is None or not has_full_weights(Path(checkpoint)):
        return False
    dtype = next(model.parameters()).dtype
    saved = type(model).from_pretrained(str(checkpoint), dtype=dtype)
    missing, unexpected = model.load_state_dict(saved.state_dict(), strict=False)
    if missing or unexpected:
        raise RuntimeError(
            f"{checkpoint}: its weights do not fit the model (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )
    return True
