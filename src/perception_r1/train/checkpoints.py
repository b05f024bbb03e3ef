"""Restoring a model's weights from a Trainer checkpoint when a run resumes.

Why this exists: with transformers 5, ``save_pretrained`` writes Qwen2.5-VL weights under their legacy names
(``model.layers.0...``) while the live model names them ``model.language_model.layers.0...``. ``from_pretrained``
maps the names; ``Trainer._load_from_checkpoint`` loads the file with ``strict=False`` and no mapping, so on
resume *no* weight is loaded and training silently continues from the initial weights with the checkpoint's
step, optimizer and learning-rate schedule (seen here: a warm-up resumed at step 500 went back to its initial
loss, 5.4). Loading the checkpoint through ``from_pretrained`` first gives the model its trained weights; the
Trainer then restores the optimizer, scheduler, RNG and step as usual.

A run killed after its last checkpoint but before its summary is finished from that checkpoint without training:
resumed there, the Trainer trains one step past ``max_steps`` when the last step falls mid-epoch (seen here: a
200-step GRPO run resumed at step 200 logged a step 201). :func:`train_from` checks for that first.

Example:
    >>> from pathlib import Path
    >>> has_full_weights(Path("no-such-checkpoint"))
    False
"""

from __future__ import annotations

import json
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


def reached_end(checkpoint: str | Path | None, args: Any) -> bool:
    """Whether the run that ``args`` describes already ended at ``checkpoint``.

    Args:
        checkpoint: The checkpoint folder a run resumes from (None: a fresh run).
        args: The run's ``TrainingArguments``; a positive ``max_steps`` is the end, else the end the checkpoint
            planned (its ``max_steps``) when it was made with the same ``num_train_epochs``.

    Returns:
        True when the checkpoint's ``global_step`` is at or past that end; False when it is not, when there is
        no ``trainer_state.json``, or when the end cannot be known (the epochs changed).
    """
    if checkpoint is None:
        return False
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    if args.max_steps > 0:
        end = args.max_steps
    elif state.get("num_train_epochs") == args.num_train_epochs:
        end = state.get("max_steps") or 0
    else:
        return False
    return end > 0 and state.get("global_step", 0) >= end


def train_from(trainer: Any, checkpoint: str | Path | None) -> bool:
    """``trainer.train`` resumed from ``checkpoint``, unless the run already ended there.

    The model's weights must already be restored (:func:`restore_weights`). A run that ended at ``checkpoint``
    takes the checkpoint's ``TrainerState`` (its step and log history) and trains nothing.

    Returns:
        True when it trained; False when the run had already ended.
    """
    if reached_end(checkpoint, trainer.args):
        from transformers import TrainerState

        trainer.state = TrainerState.load_from_json(str(Path(str(checkpoint), "trainer_state.json")))
        return False
    trainer.train(resume_from_checkpoint=checkpoint)
    return True
