"""Built-in policies (``model.path: tiny``, and the experiment's ``warmup``), built once per machine and shared
by every rank.

In a multi-process launch every rank asks for the policy at once. One of them builds it and the others wait
(an exclusive file lock beside the cache); the build runs in a child process without the launcher's variables,
so it is a plain single-process build: built inside a launched rank it would join (and wait for) the launch's
process group, and its ``save_pretrained`` would write nothing on ranks other than 0. Each builder writes its
marker only after the weights are on disk and checks an existing entry before using it (a damaged entry is
rebuilt with a message).

Each built-in policy names the module that builds it in a child (``python -m perception_r1.train.policy_cache``
builds ``tiny``; the experiment package builds ``warmup`` with :func:`ensure_built` too, so training never imports
the experiment).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perception_r1.config import ConfigError
from perception_r1.ranks import launched, single_process_env

log = logging.getLogger(__name__)


def cache_root() -> Path:
    """``$PERCEPTION_R1_CACHE`` or ``~/.cache/perception_r1``."""
    return Path(os.environ.get("PERCEPTION_R1_CACHE") or Path.home() / ".cache" / "perception_r1")


@dataclass(frozen=True)
class BuiltInPolicy:
    """A policy built on this machine on first use and cached.

    Attributes:
        name: Its ``model.path`` name.
        find: The cached folder when a complete build is there, else None (a damaged entry is reported and cleared).
        build: Builds it in this process (or finds it complete) and returns its folder.
        module: ``python -m MODULE`` builds it in a child process and prints its folder last.
    """

    name: str
    find: Callable[[], Path | None]
    build: Callable[[], Path]
    module: str


def _build_in_child(policy: BuiltInPolicy) -> Path:
    """Build in a child process that is not part of the launch; its last stdout line is the folder."""
    command = [sys.executable, "-m", policy.module]
    done = subprocess.run(command, env=single_process_env(), stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"building the {policy.name!r} policy failed (exit {done.returncode}); see above")
    return Path(lines[-1].strip())


def ensure_built(policy: BuiltInPolicy) -> Path:
    """The folder of ``policy``, built first when absent or damaged, once for all the processes of this machine.

    Raises:
        RuntimeError: the build failed.
    """
    from filelock import FileLock, Timeout

    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / f".{policy.name}-policy.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is building the %r policy; waiting for it", policy.name)
        lock.acquire()  # the OS drops the lock of a process that dies: a killed builder never blocks the others
    try:
        found = policy.find()
        if found is not None:
            return found
        log.info("building the %r policy (once for this machine; other processes wait for it)", policy.name)
        return _build_in_child(policy) if launched() else policy.build()
    finally:
        lock.release()


def _find_tiny() -> Path | None:
    from perception_r1.model.tiny import cached_tiny_vlm

    return cached_tiny_vlm()


def _build_tiny() -> Path:
    from perception_r1.model.tiny import ensure_tiny_vlm

    return ensure_tiny_vlm()


TINY = BuiltInPolicy("tiny", _find_tiny, _build_tiny, "perception_r1.train.policy_cache")


def resolve_model_path(path: str) -> str:
    """``model.path`` as a folder or hub id: ``tiny`` becomes its cached folder, anything else is kept.

    Raises:
        ConfigError: ``warmup``, which the experiment package builds: ``perception-r1 train`` resolves it before
            training (in code: ``perception_r1.experiment.cache.warmup_policy()``).
    """
    if path == "tiny":
        return str(ensure_built(TINY))
    if path == "warmup":
        raise ConfigError(
            "model.path: 'warmup' is the synthetic experiment's cached warm-up policy, which `perception-r1 train` "
            "builds before training; in code, pass the folder of perception_r1.experiment.cache.warmup_policy()"
        )
    return path


def print_built(policy: BuiltInPolicy) -> int:
    """The body of a ``python -m`` child build: build, then print the folder as the last line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(policy.build(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(print_built(TINY))
