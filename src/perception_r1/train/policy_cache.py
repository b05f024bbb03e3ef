"""The built-in policies (``model.path: warmup`` or ``tiny``), built once per machine and shared by every rank.

In a multi-process launch every rank asks for the policy at once. One of them builds it and the others wait
(an exclusive file lock beside the cache); the build runs in a child process without the launcher's variables,
so it is a plain single-process build: built inside a launched rank it would join (and wait for) the launch's
process group, and its ``save_pretrained`` would write nothing on ranks other than 0. Each builder writes its
marker only after the weights are on disk and checks an existing entry before using it (a damaged entry is
rebuilt with a message).

Run as ``python -m perception_r1.train.policy_cache NAME``: builds the policy and prints its folder.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from perception_r1.config import ConfigError
from perception_r1.ranks import launched, single_process_env

log = logging.getLogger(__name__)

BUILT_IN = ("warmup", "tiny")


def cache_root() -> Path:
    """``$PERCEPTION_R1_CACHE`` or ``~/.cache/perception_r1``."""
    return Path(os.environ.get("PERCEPTION_R1_CACHE") or Path.home() / ".cache" / "perception_r1")


def find_built(name: str) -> Path | None:
    """The folder of built-in policy ``name`` when a complete build is cached, else None (a damaged entry is
    reported and moved out of the way, so that the next build starts clean)."""
    if name == "warmup":
        from perception_r1.experiment.runner import cached_warmup_policy

        return cached_warmup_policy()
    from perception_r1.model.tiny import cached_tiny_vlm

    return cached_tiny_vlm()


def build(name: str) -> Path:
    """Build (or find complete) the built-in policy ``name`` in this process; returns its folder."""
    if name == "warmup":
        from perception_r1.experiment.runner import ensure_warmup_policy

        return ensure_warmup_policy()
    if name == "tiny":
        from perception_r1.model.tiny import ensure_tiny_vlm

        return ensure_tiny_vlm()
    raise ConfigError(f"model.path: {name!r} is no built-in policy (known: {', '.join(BUILT_IN)})")


def _build_in_child(name: str) -> Path:
    """:func:`build` in a child process that is not part of the launch; its last stdout line is the folder."""
    command = [sys.executable, "-m", "perception_r1.train.policy_cache", name]
    done = subprocess.run(command, env=single_process_env(), stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"building the {name!r} policy failed (exit {done.returncode}); see the messages above")
    return Path(lines[-1].strip())


def ensure_policy(name: str) -> Path:
    """The folder of built-in policy ``name``, built first when absent or damaged, once for all local ranks.

    Raises:
        ConfigError: an unknown name. RuntimeError: the build failed.
    """
    from filelock import FileLock

    if name not in BUILT_IN:
        raise ConfigError(f"model.path: {name!r} is no built-in policy (known: {', '.join(BUILT_IN)})")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    from filelock import Timeout

    lock = FileLock(str(root / f".{name}-policy.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is building the %r policy; waiting for it", name)
        lock.acquire()  # the OS drops the lock of a process that dies: a killed builder never blocks the others
    try:
        found = find_built(name)
        if found is not None:
            return found
        log.info("building the %r policy (once for this machine; other processes wait for it)", name)
        return _build_in_child(name) if launched() else build(name)
    finally:
        lock.release()


def resolve_model_path(path: str) -> str:
    """``model.path`` as a folder or hub id: a built-in name becomes its cached folder, anything else is kept."""
    return str(ensure_policy(path)) if path in BUILT_IN else path


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m perception_r1.train.policy_cache NAME``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m perception_r1.train.policy_cache {{{','.join(BUILT_IN)}}}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(build(args[0]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
