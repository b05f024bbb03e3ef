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


# --------------------------------------------------------------------------- JSONL line size limit
def _rows(path: Path, limit: int | None = None) -> list[tuple[int, object]]:
    from perception_r1.io_utils import JsonlError, iter_jsonl

    return [(n, row.reason if isinstance(row, JsonlError) else row) for n, row in iter_jsonl(path, limit)]


@pytest.mark.parametrize(
    ("content", "limit", "expected"),
    [
        # a 2 MB line against a 1 MB limit: that line's error; its neighbours and their numbers are intact
        (b'{"a": 1}\n{"x": "' + b"y" * 2_000_000 + b'"}\n{"a": 3}\n', 2**20,
         [(1, {"a": 1}), (2, "line of 2000009 bytes is over the limit of 1048576 bytes (raise it with "
                             "PERCEPTION_R1_MAX_LINE_MB)"), (3, {"a": 3})]),
        (b'{"x": "' + b"y" * 50 + b'"}', 40, [(1, "line of 59 bytes is over the limit of 40 bytes (raise it with "
                                                  "PERCEPTION_R1_MAX_LINE_MB)")]),  # the last line, no newline
        (b'{"a": "12345"}\r\n{"a": 2}\r\n', 14, [(1, {"a": "12345"}), (2, {"a": 2})]),  # exactly the limit, CRLF
        (b'{"a": "123456"}\n\n{"a": 2}\n', 14, [(1, "line of 15 bytes is over the limit of 14 bytes (raise it "
                                                  "with PERCEPTION_R1_MAX_LINE_MB)"), (3, {"a": 2})]),  # one over
    ],
)  # fmt: skip
def test_over_long_lines_are_that_lines_error(tmp_path: Path, content: bytes, limit: int, expected: list) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    assert _rows(path, limit) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, 64 * 2**20),  # the default
        ("0.5", 2**19),  # MiB, fractions allowed
    ],
)
def test_line_limit_from_the_environment(monkeypatch, env: str | None, expected: int) -> None:
    from perception_r1.io_utils import MAX_LINE_ENV, line_limit

    if env is None:
        monkeypatch.delenv(MAX_LINE_ENV, raising=False)
    else:
        monkeypatch.setenv(MAX_LINE_ENV, env)
    assert line_limit() == expected


@pytest.mark.parametrize(("env", "limit"), [("big", None), (None, 0)])  # not a number; no line could pass
def test_bad_line_limits(monkeypatch, env: str | None, limit: int | None) -> None:
    from perception_r1.io_utils import MAX_LINE_ENV, line_limit

    monkeypatch.setenv(MAX_LINE_ENV, env or "")
    with pytest.raises(ValueError, match="MAX_LINE_MB|at least 1 byte"):
        line_limit(limit)


@pytest.mark.parametrize(
    ("content", "count"),
    [
        (b'{"a": 1}\n\n  \n{"b": 2}', 2),  # blank lines do not count; a last line without newline does
        (b"", 0),  # empty file
        (b"\n \r\n", 0),  # whitespace only
        (b"x" * (3 * 2**20) + b"\n" + b" " * (2**20 + 5) + b"\ny\n", 2),  # lines spanning the read chunks
    ],
)
def test_count_jsonl_lines(tmp_path: Path, content: bytes, count: int) -> None:
    from perception_r1.io_utils import count_jsonl_lines

    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    assert count_jsonl_lines(path) == count == sum(1 for line in content.splitlines() if line.strip())


_MEASURE = """
import resource, sys
from perception_r1.io_utils import count_jsonl_lines, iter_jsonl
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = [type(row).__name__ for _, row in iter_jsonl(sys.argv[1], 2**20)]
n = count_jsonl_lines(sys.argv[1])
print(rows, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_an_over_long_line_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    # A fresh process, so that its peak RSS is this reading's: a 64 MB line held whole would add >= 64 MB.
    import subprocess
    import sys

    from support.hostile import write_long_line_jsonl

    path = write_long_line_jsonl(tmp_path / "big.jsonl", 64 * 2**20)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    rows, n, grown_kib = done.stdout.rsplit(" ", 2)
    assert rows == "['dict', 'JsonlError', 'dict']" and int(n) == 3
    assert int(grown_kib) < 16 * 1024  # KiB: measured 4 MB of read buffers; the old reading took 196 MB


# --------------------------------------------------------------------------- gzip-compressed JSONL
@pytest.mark.parametrize(
    ("write", "asked", "expected"),
    [
        # a published folder's rows.jsonl.gz, asked for by the plain name every reader uses
        ("rows.jsonl.gz", "rows.jsonl", [(1, {"a": 1}), (2, {"a": 2})]),
        # ... or by its own name
        ("rows.jsonl.gz", "rows.jsonl.gz", [(1, {"a": 1}), (2, {"a": 2})]),
        # a plain file is read as before
        ("rows.jsonl", "rows.jsonl", [(1, {"a": 1}), (2, {"a": 2})]),
    ],
)
def test_compressed_jsonl_reads_like_the_plain_file(tmp_path: Path, write: str, asked: str, expected: list) -> None:
    from perception_r1.io_utils import atomic_write_jsonl, count_jsonl_lines

    assert atomic_write_jsonl(tmp_path / write, [{"a": 1}, {"a": 2}]) == 2
    assert (tmp_path / write).read_bytes()[:2] == (b"\x1f\x8b" if write.endswith(".gz") else b'{"')
    assert _rows(tmp_path / asked) == expected and count_jsonl_lines(tmp_path / asked) == 2


def test_plain_file_wins_over_its_compressed_twin_and_writes_are_reproducible(tmp_path: Path) -> None:
    from perception_r1.io_utils import atomic_gzip_copy, atomic_write_jsonl, jsonl_file

    atomic_write_jsonl(tmp_path / "a.jsonl", [{"plain": True}])
    atomic_gzip_copy(tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz")
    assert jsonl_file(tmp_path / "a.jsonl") == tmp_path / "a.jsonl"
    first = (tmp_path / "a.jsonl.gz").read_bytes()
    atomic_gzip_copy(tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz")  # no time stamp in the header: same bytes
    assert (tmp_path / "a.jsonl.gz").read_bytes() == first


@pytest.mark.parametrize(
    ("damage", "kept"),
    [
        (lambda b: b[: len(b) // 2], True),  # cut short: the lines before the cut stand, then one error
        (lambda b: b"not gzip at all\n", False),  # a .gz name over plain bytes: one error, no crash
        (lambda b: b[:12] + bytes(x ^ 0xFF for x in b[12:40]) + b[40:], False),  # scrambled deflate data
    ],
)
def test_a_damaged_gzip_file_ends_with_one_error(tmp_path: Path, damage, kept: bool) -> None:
    import gzip

    packed = gzip.compress("".join(f'{{"i": {i}}}\n' for i in range(3000)).encode())
    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(damage(packed))
    rows = _rows(path)
    assert isinstance(rows[-1][1], str) and "gzip" in rows[-1][1]  # the last entry is the error, named
    good = [r for _, r in rows[:-1]]
    assert good == [{"i": i} for i in range(len(good))] and (len(good) > 0) == kept
