"""The experiment's warm-up policy, cached for ``perception-r1 train``'s embedded default (``model.path: warmup``).

The quick experiment's data, policy and warm-up stages build it once per machine into :func:`warmup_cache_dir`;
:func:`warmup_policy` serialises concurrent callers and keeps the build out of a launched process group
(:func:`perception_r1.train.policy_cache.ensure_built`). Training itself never imports this package: the
``train`` command resolves ``warmup`` to the folder before it trains.

Run as ``python -m perception_r1.experiment.cache``: builds the policy and prints its folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from perception_r1.config import from_dict
from perception_r1.experiment.config import QUICK, ExperimentConfig, validate
from perception_r1.experiment.runner import Stages, _marker, check_recipe
from perception_r1.experiment.warmup import warmup_cache_dir
from perception_r1.folder_lock import FolderLock
from perception_r1.train.policy_cache import BuiltInPolicy, ensure_built, print_built

log = logging.getLogger(__name__)


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
