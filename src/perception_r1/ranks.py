"""Where this process stands in a multi-process launch (``torchrun``, ``accelerate launch``), read from the
launcher's environment, before ``torch.distributed`` exists.

Training code needs these answers early: which process writes the run's files, whether a cache build must run
outside the launched process group, and how many processes share the global batch. Once the real
``GRPOConfig`` exists, ``trainer.is_world_process_zero()`` is the authority; these agree with it.

Example:
    >>> world_size({"WORLD_SIZE": "2", "RANK": "1"}), rank({"RANK": "1"}), is_main_process({"RANK": "1"})
    (2, 1, False)
    >>> launched({})
    False
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Where launchers put the global rank: torchrun/accelerate (RANK), and the MPI launchers accelerate also reads.
RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
# Variables through which torchrun / accelerate tell a process that it belongs to a launched group. A child that
# must run as a plain single process (a cache build) is started without them, so that it is not `launched()`.
LAUNCH_VARIABLES = (
    *RANK_VARIABLES,
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "GROUP_WORLD_SIZE",
    "ROLE_RANK",
    "ROLE_NAME",
    "ROLE_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "NODE_RANK",
)
LAUNCH_PREFIXES = ("TORCHELASTIC_", "ACCELERATE_", "FSDP_", "TORCH_NCCL_")


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    value = env.get(key, "")
    return int(value) if value.strip().isdigit() else default


def world_size(env: Mapping[str, str] | None = None) -> int:
    """Processes in the launch (1 when not launched)."""
    return max(1, _int(_env(env), "WORLD_SIZE", 1))


def rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank (0 when not launched, or unreadable)."""
    env = _env(env)
    for name in RANK_VARIABLES:
        if name in env:
            return _int(env, name, 0)
    return 0


def is_main_process(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process writes the run's files (global rank 0)."""
    return rank(env) == 0


def launched(env: Mapping[str, str] | None = None) -> bool:
    """Whether a launcher started this process as part of a group (of any size)."""
    env = _env(env)
    return any(name in env for name in (*RANK_VARIABLES, "LOCAL_RANK")) or world_size(env) > 1


def single_process_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without the launcher's variables, for a child that must not join the group."""
    return {
        key: value
        for key, value in _env(env).items()
        if key not in LAUNCH_VARIABLES and not key.startswith(LAUNCH_PREFIXES)
    }
