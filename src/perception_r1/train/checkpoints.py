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

Which checkpoint a run resumes from (:func:`resume_point`): the newest *complete* one. Saves are complete or absent
(:mod:`perception_r1.train.atomic_save`), but a folder can still be damaged later or come from elsewhere:
``get_last_checkpoint`` takes the highest-numbered ``checkpoint-N`` whatever it holds, and the Trainer then fails
("Can't find a valid checkpoint") on a folder holding only ``config.json``, tracebacks on a corrupt
``trainer_state.json`` or weights file, and resumes *silently with a fresh AdamW state* when ``optimizer.pt`` is
gone. :func:`checkpoint_problem` checks each of these (the safetensors header against the file's size, the zip
directory of every ``torch.save`` file) without loading any tensor.

Example:
    >>> from pathlib import Path
    >>> has_full_weights(Path("no-such-checkpoint"))
    False
    >>> checkpoint_problem(Path("no-such-checkpoint"))
    Problem(kind='incomplete', reason='no trainer_state.json (a save cut short)')
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError
from perception_r1.ranks import is_main_process

log = logging.getLogger(__name__)

# Files holding a whole model's weights; adapter-only (PEFT) and DeepSpeed checkpoints are left to the Trainer.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
TRAINER_STATE = "trainer_state.json"
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")  # transformers' PREFIX_CHECKPOINT_DIR naming
# Hidden folders beside the checkpoints (no ``checkpoint-*`` glob of transformers ever sees them): a checkpoint
# is written into STAGING_DIR and renamed into place when complete; a replaced or rotated one is renamed to
# TRASH_PREFIX... before it is deleted, so that a cut deletion leaves no half-deleted checkpoint either.
STAGING_DIR = ".checkpoint-staging"
TRASH_PREFIX = ".trash-"


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


@dataclass(frozen=True)
class Problem:
    """Why a checkpoint folder cannot be resumed from.

    Attributes:
        kind: ``incomplete`` (a save cut short: files missing), ``corrupt`` (a file unreadable or truncated) or
            ``no-optimizer`` (model and trainer state fine, optimizer or scheduler state missing).
        reason: One sentence naming the file.
    """

    kind: str
    reason: str


def checkpoint_dirs(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every ``checkpoint-N`` folder in ``run_dir``, newest step first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := CHECKPOINT_NAME.match(p.name)) and p.is_dir()]
    return sorted(found, reverse=True)


def _torch_file_problem(path: Path) -> str | None:
    """A ``torch.save`` file is a zip archive: its central directory (at the end) is missing when it is cut."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(2)
        if magic != b"PK":  # the legacy pickle format (torch < 1.6) has no directory to check
            return None if magic else f"{path.name} is empty"
        with zipfile.ZipFile(path):
            return None
    except (OSError, zipfile.BadZipFile) as exc:
        return f"{path.name} is truncated or corrupt ({exc})"


def _safetensors_problem(path: Path) -> str | None:
    """safetensors checks that its header parses and that the file holds every byte the header promises."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt"):
            return None
    except Exception as exc:  # SafetensorError (not importable under a stable name) and OSError
        return f"{path.name} is truncated or corrupt ({exc})"


def _weights_problem(folder: Path) -> Problem | None:
    deepspeed = (folder / "latest").is_file()  # ZeRO shards in global_step*/ (with or without gathered weights)
    fsdp = any(folder.glob("pytorch_model_fsdp_*"))
    if not (has_full_weights(folder) or any((folder / n).is_file() for n in ADAPTER_FILES) or deepspeed or fsdp):
        return Problem("incomplete", "no model weights (a save cut short)")
    for path in sorted(folder.glob("*.safetensors")):
        problem = _safetensors_problem(path)
        if problem:
            return Problem("corrupt", problem)
    for index in sorted(folder.glob("*.index.json")):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return Problem("corrupt", f"{index.name} is unreadable ({exc})")
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            return Problem("incomplete", f"{index.name} lists shards that are missing ({', '.join(missing[:3])})")
    return None


def _optimizer_problem(folder: Path) -> Problem | None:
    consequence = "resuming would restart the optimizer (AdamW moments, learning-rate schedule) from zero"
    latest = folder / "latest"
    if latest.is_file():  # DeepSpeed: the optimizer state is in the shards of the tag that `latest` names
        tag = latest.read_text(encoding="utf-8").strip()
        if not any((folder / tag).glob("*optim_states*")):
            return Problem("no-optimizer", f"no DeepSpeed optimizer shards in {tag}/: {consequence}")
        return None
    if any(p.is_dir() for p in folder.glob("optimizer_*")):  # FSDP sharded optimizer state
        return None
    for name in ("optimizer.pt", "scheduler.pt"):
        if not (folder / name).is_file():
            return Problem("no-optimizer", f"no {name}: {consequence}")
    return None


def checkpoint_problem(folder: str | Path, *, optimizer_state: bool = True) -> Problem | None:
    """Why ``folder`` cannot be resumed from, or None when it is complete.

    Args:
        folder: A ``checkpoint-N`` folder written by a transformers ``Trainer``.
        optimizer_state: Require the optimizer and scheduler state (False for ``save_only_model`` runs).

    Returns:
        None, or the first :class:`Problem` found: the trainer state, the weights, every ``torch.save`` file
        (optimizer, scheduler, RNG states), then the optimizer state's presence. No tensor is loaded.
    """
    folder = Path(folder)
    try:
        state = json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Problem("incomplete", f"no {TRAINER_STATE} (a save cut short)")
    except (OSError, ValueError) as exc:
        return Problem("corrupt", f"{TRAINER_STATE} is not valid JSON ({exc})")
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return Problem("corrupt", f"{TRAINER_STATE} has no integer global_step")
    problem = _weights_problem(folder)
    if problem:
        return problem
    for path in sorted([*folder.glob("*.pt"), *folder.glob("*.pth"), *folder.glob("*.bin")]):
        reason = _torch_file_problem(path)
        if reason:
            return Problem("corrupt", reason)
    return _optimizer_problem(folder) if optimizer_state else None


def check_resumable(checkpoint: str | Path, *, optimizer_state: bool = True) -> Path:
    """An explicitly chosen checkpoint, or a ConfigError saying why it cannot be resumed and what to do."""
    path = Path(checkpoint).expanduser()  # `~/runs/x/checkpoint-4`, as the recipe's validation accepts it
    if not path.is_dir():
        raise ConfigError(f"output.resume: {path}: no such checkpoint folder")
    problem = checkpoint_problem(path, optimizer_state=optimizer_state)
    if problem is None:
        return path
    hint = (
        f"restore the file, resume from another checkpoint, or start a new run from its weights "
        f"(model.path={path}, output.resume=never)"
        if problem.kind == "no-optimizer"
        else "resume from another checkpoint, or start over (output.resume=never)"
    )
    raise ConfigError(f"output.resume: {path}: {problem.reason}; {hint}")


def interrupted_saves(run_dir: str | Path) -> list[Path]:
    """Leftovers of saves and deletions that were cut short (hidden staging and trash folders)."""
    run_dir = Path(run_dir)
    staged = sorted((run_dir / STAGING_DIR).glob("checkpoint-*")) if (run_dir / STAGING_DIR).is_dir() else []
    trash = sorted(run_dir.glob(f"{TRASH_PREFIX}*")) if run_dir.is_dir() else []
    return staged + trash


def resume_point(run_dir: str | Path, *, optimizer_state: bool = True) -> str | None:
    """The newest complete checkpoint in ``run_dir`` (None: start afresh), saying what it skipped and why.

    Leftovers of cut saves are reported and (by the launch's main process) deleted. Checkpoints that cannot be
    resumed are skipped with a warning naming the problem, and the previous one is used.

    Raises:
        ConfigError: no checkpoint is usable while some hold trained state (corrupt, or only the optimizer state
            missing): starting over would discard it without a word, so the user decides.
    """
    run_dir = Path(run_dir)
    for path in interrupted_saves(run_dir):
        log.warning("%s: an interrupted save or deletion (%s) was discarded; it never was a checkpoint", run_dir,
                    path.relative_to(run_dir))  # fmt: skip
        if is_main_process():
            shutil.rmtree(path, ignore_errors=True)
    skipped: list[tuple[Path, Problem]] = []
    for _, folder in checkpoint_dirs(run_dir):
        problem = checkpoint_problem(folder, optimizer_state=optimizer_state)
        if problem is None:
            if skipped:
                log.warning("resuming from %s, the newest complete checkpoint", folder)
            return str(folder)
        log.warning("skipping checkpoint %s: %s (%s)", folder, problem.reason, problem.kind)
        skipped.append((folder, problem))
    if any(p.kind != "incomplete" for _, p in skipped):
        listed = "; ".join(f"{f.name}: {p.reason}" for f, p in skipped)
        raise ConfigError(
            f"{run_dir}: no checkpoint can be resumed ({listed}); restore the missing or damaged files, resume from "
            "a checkpoint elsewhere (output.resume=PATH), or start over here (output.resume=never)"
        )
    if skipped:
        log.warning("%s: no complete checkpoint; training starts from the beginning", run_dir)
    return None
