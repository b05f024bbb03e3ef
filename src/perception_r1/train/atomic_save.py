"""Complete-or-absent checkpoints for any transformers ``Trainer`` (GRPO, SFT, plain).

Why: ``Trainer._save_checkpoint`` writes ``checkpoint-N/`` file by file (weights, optimizer, scheduler, RNG
states, ``trainer_state.json`` last). A save cut by a full disk or a signal leaves a ``checkpoint-N/`` holding
some of them, which ``get_last_checkpoint`` then picks on every rerun ("Can't find a valid checkpoint").

How (:func:`atomic_checkpoints`): while the Trainer saves, its output folder is redirected to the hidden
``<output>/.checkpoint-staging/``; once every rank has written its part, the main process flushes the files to
disk and renames ``.checkpoint-staging/checkpoint-N`` to ``<output>/checkpoint-N`` (one atomic rename). A cut save
leaves only the staging folder, which no ``checkpoint-*`` glob sees and the next run discards. Multi-process
runs (DDP, DeepSpeed, FSDP) write per-rank files (``rng_state_<rank>.pth``, ZeRO shards) into the same staging
folder; ``accelerator.wait_for_everyone()`` barriers around the save make rank 0 rename only after all ranks
finished and let no rank go on before the checkpoint is in place. Rotation (``save_total_limit``) runs after the
rename, deletes incomplete checkpoints before complete ones, never the new or the best one, and renames a
checkpoint aside before deleting it, so a cut deletion leaves no half-deleted checkpoint either.

Example:
    >>> from transformers import Trainer
    >>> atomic_checkpoints(Trainer).__name__
    'AtomicTrainer'
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

from perception_r1.disk import disk_errors, free_bytes
from perception_r1.train.checkpoints import (
    STAGING_DIR,
    TRAINER_STATE,
    TRASH_PREFIX,
    checkpoint_dirs,
    checkpoint_problem,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder``, then the folders: the rename must not reach the disk before the data (after
    a power cut, a renamed folder of empty files would look complete)."""
    for root, _, files in os.walk(folder):
        for name in files:
            _fsync(Path(root, name))
        _fsync(Path(root))


def _fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(folder: Path) -> None:
    """Delete a checkpoint folder: renamed aside first (one atomic step), then removed."""
    trash = folder.with_name(f"{TRASH_PREFIX}{folder.name}-{os.getpid()}")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def publish(staged: Path, final: Path) -> None:
    """Move the complete folder ``staged`` to ``final`` (replacing an older ``final``), flushed to disk first."""
    _fsync_tree(staged)
    old = None
    if final.exists():  # the step was saved before (a run that went back to an earlier checkpoint)
        old = final.with_name(f"{TRASH_PREFIX}{final.name}-{os.getpid()}")
        os.rename(final, old)
    os.rename(staged, final)
    _fsync(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def rotate(run_dir: Path, limit: int | None, keep: set[Path], optimizer_state: bool = True) -> list[Path]:
    """Keep at most ``limit`` checkpoints in ``run_dir`` (transformers' ``save_total_limit``).

    Args:
        keep: Checkpoints never deleted (the one just saved, the best one).
        optimizer_state: Whether a checkpoint without optimizer state counts as incomplete.

    Returns:
        The checkpoints deleted: incomplete ones first, then the oldest steps.
    """
    if not limit or limit <= 0:
        return []
    found = checkpoint_dirs(run_dir)
    kept = {p.resolve() for p in keep}
    deletable = [(step, p) for step, p in found if p.resolve() not in kept]
    excess = len(found) - max(limit, len(found) - len(deletable))
    if excess <= 0:
        return []  # nothing to delete: no checkpoint is opened
    # Incomplete checkpoints go first (False sorts before True), then the oldest steps.
    candidates = sorted((checkpoint_problem(p, optimizer_state=optimizer_state) is None, s, p) for s, p in deletable)
    deleted = [p for _, _, p in candidates[:excess]]
    for path in deleted:
        log.info("deleting %s (save_total_limit=%d)", path, limit)
        discard(path)
    return deleted


def checkpoint_bytes(model: Any, optimizer_state: bool = True) -> int:
    """Rough size of one checkpoint: the weights, plus AdamW's two moments of every trainable parameter."""
    total = 0
    for p in model.parameters():
        total += p.numel() * p.element_size() * (3 if optimizer_state and p.requires_grad else 1)
    return total


class AtomicCheckpoints:
    """Mixin for a transformers ``Trainer`` subclass: complete-or-absent ``checkpoint-N`` (module docstring).

    Use :func:`atomic_checkpoints` (``atomic_checkpoints(GRPOTrainer)(...)``) rather than this class directly.
    """

    _staging = False
    # The checkpoint whose weights the caller already loaded into the model with their names mapped
    # (train.checkpoints.restore_weights): the Trainer's own load of it maps none of the names of a Qwen2.5-VL
    # under transformers 5, so it would load nothing and warn of every key "missing"; it is skipped.
    weights_restored_from: str | None = None
    # The Trainer's own attributes the mixin uses (declared for mypy; the Trainer sets them).
    args: Any
    state: Any
    accelerator: Any
    model: Any

    def _get_output_dir(self, trial: Any) -> str:
        run_dir: str = super()._get_output_dir(trial)  # type: ignore[misc]  # the Trainer's method, via the MRO
        return os.path.join(run_dir, STAGING_DIR) if self._staging else run_dir

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        if self.weights_restored_from is not None and os.path.samefile(
            self.weights_restored_from, resume_from_checkpoint
        ):
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)  # type: ignore[misc]  # the Trainer's, via the MRO

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        run_dir = Path(self._get_output_dir(trial))
        staging = run_dir / STAGING_DIR
        name = f"checkpoint-{self.state.global_step}"
        writer = bool(self.args.should_save)
        self.accelerator.wait_for_everyone()
        if writer:
            shutil.rmtree(staging, ignore_errors=True)  # what a cut save left
        self.accelerator.wait_for_everyone()
        self._staging = True
        try:
            with disk_errors(run_dir):
                super()._save_checkpoint(model, trial)  # type: ignore[misc]  # the Trainer's method, via the MRO
        finally:
            self._staging = False
        self.accelerator.wait_for_everyone()  # every rank wrote its part (rng_state_<rank>.pth, ZeRO shards)
        if writer and (staging / name).is_dir():
            self._point_best_at(run_dir, staging / name)
            with disk_errors(run_dir):
                publish(staging / name, run_dir / name)
            with contextlib.suppress(OSError):
                staging.rmdir()  # empty now (something else left in it stays for the next save to clear)
            best = self.state.best_model_checkpoint
            keep = {run_dir / name} | ({Path(best)} if best else set())
            rotate(run_dir, self.args.save_total_limit, keep, optimizer_state=not self.args.save_only_model)
        self.accelerator.wait_for_everyone()  # no rank reads the checkpoint before it is in place

    def _point_best_at(self, run_dir: Path, staged: Path) -> None:
        """The Trainer named the best checkpoint inside the staging folder: point it at its final place."""
        step = self.state.best_global_step
        if not step:
            return
        best = run_dir / f"checkpoint-{step}"
        if best.is_dir() or step == self.state.global_step:
            self.state.best_model_checkpoint = str(best)
            self.state.save_to_json(str(staged / TRAINER_STATE))

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        with disk_errors(output_dir or self.args.output_dir):
            super().save_model(output_dir, _internal_call)  # type: ignore[misc]  # the Trainer's, via the MRO

    def train(self, *args: Any, **kwargs: Any) -> Any:
        if self.args.should_save:
            self._warn_if_short_of_space()
        return super().train(*args, **kwargs)  # type: ignore[misc]  # the Trainer's method, via the MRO

    def _warn_if_short_of_space(self) -> None:
        if self.args.save_strategy == "no":
            return
        need = checkpoint_bytes(self.model, optimizer_state=not self.args.save_only_model)
        free = free_bytes(self.args.output_dir)
        if free < need:
            log.warning(
                "%s: %.2f GB free, but one checkpoint of this model takes about %.2f GB (weights and optimizer "
                "state): the first save will fail with a full disk",
                self.args.output_dir,
                free / 1e9,
                need / 1e9,
            )


@functools.cache
def atomic_checkpoints(trainer_cls: type[T]) -> type[T]:
    """``trainer_cls`` (a transformers ``Trainer`` subclass) with complete-or-absent checkpoints."""
    doc = f"{trainer_cls.__name__} whose checkpoints are complete or absent ({__name__})."
    return type(f"Atomic{trainer_cls.__name__}", (AtomicCheckpoints, trainer_cls), {"__doc__": doc})
