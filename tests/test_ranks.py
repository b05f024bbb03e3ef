"""Reading a launcher's environment (perception_r1.ranks)."""

from __future__ import annotations

import pytest

from perception_r1.ranks import is_main_process, launched, rank, single_process_env, world_size


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # not launched: one process, rank 0, writes the files
        ({}, (1, 0, True, False)),
        # torchrun rank 0 of 2
        ({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, (2, 0, True, True)),
        # torchrun rank 1 of 2: not the writer
        ({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}, (2, 1, False, True)),
        # a launch of one process is still a launch
        ({"RANK": "0", "WORLD_SIZE": "1"}, (1, 0, True, True)),
        # garbage is read as "not set"
        ({"WORLD_SIZE": "two", "RANK": "x"}, (1, 0, True, True)),
    ],
)
def test_launch_environment(env, expected):
    assert (world_size(env), rank(env), is_main_process(env), launched(env)) == expected


def test_single_process_env_drops_the_launchers_variables():
    env = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x",
           "ACCELERATE_USE_DEEPSPEED": "true", "PATH": "/bin", "PERCEPTION_R1_CACHE": "/c"}  # fmt: skip
    assert single_process_env(env) == {"PATH": "/bin", "PERCEPTION_R1_CACHE": "/c"}
    assert not launched(single_process_env(env))
    # an MPI launcher's rank (which rank() and launched() read) is dropped too
    mpi = {"OMPI_COMM_WORLD_RANK": "1", "PMI_RANK": "1", "MV2_COMM_WORLD_RANK": "1", "PATH": "/bin"}
    assert launched(mpi) and single_process_env(mpi) == {"PATH": "/bin"} and not launched(single_process_env(mpi))
