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


def test_folder_moved_aside_between_existence_and_type_checks_is_no_file(tmp_path: Path, monkeypatch) -> None:
    # a concurrent writer renames the folder away just after it was seen to exist; the old check then asked
    # is_dir() of a path that no longer existed and refused it as "not a folder"
    target = _folder(tmp_path / "out", "summary.json")
    real_exists = Path.exists

    def exists_then_moved(self: Path, *args, **kwargs) -> bool:
        seen = real_exists(self, *args, **kwargs)
        if self == target and seen:
            os.rename(target, tmp_path / "aside")
        return seen

    monkeypatch.setattr(Path, "exists", exists_then_moved)
    check_replaceable(target, lambda _: True)  # absent or a folder: never "exists and is not a folder"


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        (lambda p: p.write_text("x"), True),  # a file
        (lambda p: p.symlink_to(p.parent / "real", target_is_directory=True), True),  # a symlink to a folder
        (lambda p: None, False),  # absent
    ],
)
def test_what_is_not_a_folder_is_refused(tmp_path: Path, make, refused: bool) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "out"
    make(target)
    if refused:
        with pytest.raises(FileExistsError, match="not a folder"):
            check_replaceable(target, lambda _: True)
    else:
        check_replaceable(target, lambda _: True)


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
