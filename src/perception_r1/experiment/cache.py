"""The experiment's warm-up policy, cached for ``perception-r1 train``'s embedded default (``model.path: warmup``).

The quick experiment's data, policy and warm-up stages build it once per machine into :func:`warmup_cache_dir`;
:func:`warmup_policy` serialises concurrent callers and keeps the build out of a launched process group
(:func:`perception_r1.train.policy_cache.ensure_built`). Training itself never imports this package: the
``train`` command resolves ``warmup`` to the folder before it trains.

Run as ``python -m perception_r1.experiment.cache``: builds the policy and prints its folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perception_r1.config import from_dict, to_dict
from perception_r1.experiment.config import QUICK, ExperimentConfig, validate
from perception_r1.experiment.runner import Stages, _marker, check_recipe
from perception_r1.folder_lock import FolderLock
from perception_r1.train.policy_cache import BuiltInPolicy, cache_root, ensure_built, print_built

log = logging.getLogger(__name__)


def _warmup_shaping(cfg: ExperimentConfig) -> dict[str, Any]:
    """The settings that shape a warm-up policy: its data, policy, reading and warm-up sections (whether it was
    trained here or shipped built with the same settings makes no difference)."""
    from perception_r1.experiment.shipped import shaping

    return shaping(to_dict(cfg))


def share_with_train_default(cfg: ExperimentConfig, warmup_dir: Path) -> None:
    """A warm-up trained with the quick settings is the one ``train``'s default starts from: cache a copy.

    Only the stages that produced it must match (data, policy, warm-up); a cache already present is kept.
    """
    import shutil

    cache = warmup_cache_dir()
    target = cache / "warmup"
    if (
        _warmup_shaping(cfg) != _warmup_shaping(from_dict(ExperimentConfig, QUICK))
        or (target / "summary.json").is_file()
        or Path(cfg.output_dir).resolve() == cache.resolve()
    ):
        return
    tmp = target.with_name(f".warmup-{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(warmup_dir / "final", tmp / "final")
    shutil.copy2(warmup_dir / "summary.json", tmp / "summary.json")  # the marker, copied last
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process cached one first
        shutil.rmtree(tmp, ignore_errors=True)


def warmup_cache_dir() -> Path:
    """Folder of the cached warm-up policy: ``$PERCEPTION_R1_CACHE`` (default ``~/.cache/perception_r1``).

    Its name hashes every setting that shapes the quick warm-up (data, policy, warm-up), so a cache made with
    other settings is never mistaken for the current one.
    """
    import hashlib
    import json

    shaping = _warmup_shaping(from_dict(ExperimentConfig, QUICK))
    # A data key added later, at the value that makes the same warm-up as before it existed: left out of the name,
    # so that caches built before it stay found.
    if shaping["data"].get("multiple_choice") is False:
        del shaping["data"]["multiple_choice"]
    key = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:10]
    return cache_root() / f"warmup-policy-{key}"


def cached_warmup_policy() -> Path | None:
    """The cached warm-up policy's folder when its stage finished and its files are complete, else None.

    A damaged entry (the stage's marker without loadable weights, e.g. written by a rank whose ``save_pretrained``
    wrote nothing) is reported and its stage folder removed, so that the next :func:`ensure_warmup_policy`
    trains it again instead of failing on every run.
    """
    import shutil

    from perception_r1.model.integrity import model_folder_problem

    stage = warmup_cache_dir() / "warmup"
    if _marker(stage / "summary.json") is None:
        return None
    problem = model_folder_problem(stage / "final")
    if problem is None:
        return stage / "final"
    log.warning("the cached warm-up policy at %s is damaged (%s): training it again", stage / "final", problem)
    shutil.rmtree(stage, ignore_errors=True)
    return None


def ensure_warmup_policy(announce: Callable[[str], None] = log.info) -> Path:
    """The warm-up policy of ``perception-r1 experiment --quick``, trained once and cached.

    This is the starting point of ``perception-r1 train``'s embedded default: a policy that can already see
    the figure and write the format, so that GRPO's rewards are not all 0. Building it runs the quick
    experiment's data, policy and warm-up stages (a few minutes on a CPU) into :func:`warmup_cache_dir`;
    an interrupted build continues where it stopped. Several processes on one machine call :func:`warmup_policy`,
    which serialises them and keeps the build out of a launched group.
    """
    found = cached_warmup_policy()
    if found is not None:
        return found
    cfg = from_dict(ExperimentConfig, {**QUICK, "output_dir": str(warmup_cache_dir())})
    # Two `train` runs started together both need it: the second waits for the first to build it, then reuses it.
    with FolderLock(cfg.output_dir, "building the warm-up policy", wait=True):
        found = cached_warmup_policy()
        if found is not None:
            return found
        stages = Stages(cfg, announce)
        validate(cfg)
        check_recipe(stages.root, cfg)
        stages.data()
        return stages.warmup()


WARMUP = BuiltInPolicy("warmup", cached_warmup_policy, ensure_warmup_policy, "perception_r1.experiment.cache")


def warmup_policy() -> Path:
    """The cached warm-up policy's folder, built first (once for all the processes of this machine)."""
    return ensure_built(WARMUP)


if __name__ == "__main__":
    raise SystemExit(print_built(WARMUP))
