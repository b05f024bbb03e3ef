"""check_replaceable under concurrent writers: the verdict comes from a look at one unchanged folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perception_r1.io_utils import check_replaceable


def _folder(path: Path, *names: str) -> Path:
    path.mkdir()
    for name in names:
        (path / name).write_text("x")
    return path


def test_folder_moved_aside_while_examined_counts_as_absent(tmp_path: Path) -> None:
    # another writer renames the folder away in the middle of the check (here: inside `owned`)
    target = _folder(tmp_path / "out", "summary.json")

    def owned(folder: Path) -> bool:
        os.rename(folder, tmp_path / "aside")
        (folder / "summary.json").read_text()  # what a real check reads: now missing
        return True

    check_replaceable(target, owned)  # no FileNotFoundError: nothing is left to protect


def test_folder_swapped_while_examined_is_examined_again(tmp_path: Path) -> None:
    # the first look sees a folder being replaced; the second look sees the writer's finished folder
    target = _folder(tmp_path / "out", "summary.json")
    looks = []

    def owned(folder: Path) -> bool:
        looks.append(folder)
        if len(looks) == 1:
            os.rename(folder, tmp_path / "old")
            _folder(tmp_path / "new", "summary.json").rename(folder)
            return False  # the half-seen folder looked foreign
        return True

    check_replaceable(target, owned)
    assert len(looks) == 2


@pytest.mark.parametrize(
    ("names", "owned", "refused"),
    [
        ((), False, False),  # empty folder: replaceable
        (("user.txt",), False, True),  # a folder with someone else's file: refused
        (("summary.json",), True, False),  # an earlier output of the command: replaceable
    ],
)
def test_stable_folders(tmp_path: Path, names: tuple, owned: bool, refused: bool) -> None:
    target = _folder(tmp_path / "out", *names)
    if refused:
        with pytest.raises(FileExistsError, match="refusing to replace"):
            check_replaceable(target, lambda _: owned)
    else:
        check_replaceable(target, lambda _: owned)
