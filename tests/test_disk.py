"""Output folders on full, read-only or forbidden disks: checked before any work, and named in one line (folder
and errno meaning) by the CLI at any point of a run, never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
import typer

from perception_r1.cli.main import run_command
from perception_r1.disk import check_writable, describe_disk_error, disk_error, disk_errors
from support.cli_runs import error_lines, run_cli


@pytest.fixture
def read_only(tmp_path: Path):
    """A folder this process cannot write: a read-only tmpfs (root, who ignores permissions), else mode 0555.

    Yields:
        ``(folder, the errno meaning the CLI must print)``.
    """
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.decode().strip()}")
        try:
            yield folder, "read-only file system (EROFS)"
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    else:
        folder.chmod(0o555)
        try:
            yield folder, "permission denied (EACCES)"
        finally:
            folder.chmod(0o755)


def test_check_writable_names_the_folder_and_the_reason(read_only) -> None:
    folder, meaning = read_only
    with pytest.raises(OSError) as caught:
        check_writable(folder / "run")
    assert describe_disk_error(caught.value).startswith(f"{folder / 'run'}: {meaning}")


def test_check_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    assert check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert list((tmp_path / "a" / "b").iterdir()) == []


def _chained() -> BaseException:
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded", "/q/file")
        except OSError as inner:
            raise RuntimeError("writing the summary failed") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "free", "expected"),
    [
        # Python's own writes carry the errno
        (OSError(errno.ENOSPC, "No space left on device", "/d/x"), 10**12, errno.ENOSPC),
        (PermissionError(errno.EACCES, "Permission denied", "/d/x"), 10**12, errno.EACCES),
        # safetensors (Rust) names the OS error in its message
        (
            RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),
            10**12,
            errno.ENOSPC,
        ),  # fmt: skip
        # torch.save names no errno: a full disk is recognised by the space left
        (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"), 0, errno.ENOSPC),
        # ... and the same error on a disk with room is left alone (it is not a disk problem)
        (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"), 10**12, None),
        # the cause of a wrapped error counts
        (_chained(), 10**12, errno.EDQUOT),
        # other errors are not disk errors
        (FileNotFoundError(errno.ENOENT, "No such file", "/d/x"), 0, None),
        (ValueError("bad value"), 10**12, None),
    ],
)
def test_disk_error(monkeypatch, exc: BaseException, free: int, expected: int | None) -> None:
    import perception_r1.disk as disk

    monkeypatch.setattr(disk, "free_bytes", lambda path: free)
    found = disk_error(exc, "/d")
    assert (found.errno if found is not None else None) == expected


def test_disk_errors_turns_a_failed_save_on_a_full_disk_into_enospc(monkeypatch) -> None:
    import perception_r1.disk as disk

    monkeypatch.setattr(disk, "free_bytes", lambda path: 4096)
    with pytest.raises(OSError) as caught, disk_errors("/runs/a"):
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "/runs/a"
    assert isinstance(caught.value.__cause__, RuntimeError)  # the original error stays attached


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        # ENOSPC at any point of a command: one line, exit 1
        (
            OSError(errno.ENOSPC, "No space left on device", "/runs/a/metrics.jsonl"),
            1,
            "error: /runs/a/metrics.jsonl: no space left on device (ENOSPC); free space there",
        ),  # fmt: skip
        (
            OSError(errno.EROFS, "Read-only file system", "/runs/a"),
            1,
            "error: /runs/a: read-only file system (EROFS); choose a writable output folder",
        ),  # fmt: skip
    ],
)
def test_the_cli_boundary_prints_one_line(capsys, raised: OSError, code: int, line: str) -> None:
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise raised

    with pytest.raises(SystemExit) as caught:
        run_command(app, [])
    assert caught.value.code == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1


def test_the_cli_boundary_leaves_other_errors_alone() -> None:
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_command(app, [])


@pytest.mark.integration
@pytest.mark.parametrize(
    "command",
    [
        # the model path does not exist: the command must stop at the output folder, before loading anything
        ["train", "--model.path", "/no/such/model", "--output.dir", "{out}"],
        ["eval", "--model", "/no/such/model", "-b", "mmstar", "-o", "{out}"],
        ["experiment", "--quick", "--output_dir", "{out}"],
    ],
    ids=["train", "eval", "experiment"],
)
def test_commands_name_a_read_only_output_folder_before_any_work(read_only, command: list[str]) -> None:
    folder, meaning = read_only
    out = folder / "run"
    done = run_cli(*[a.format(out=out) for a in command], timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    (line,) = error_lines(done.stderr)
    assert line.startswith(f"error: {out}: {meaning}")
