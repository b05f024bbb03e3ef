"""Running the ``perception-r1`` CLI in real subprocesses, and a toy training recipe that trains in seconds.

Used by the tests of concurrent writers, cut saves and full or read-only disks: those faults involve several
processes, real signals or a real file system, so the tests run the command as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from support.fake_openai_server import standalone_env


def toy_recipe(path: Path, policy: str | Path, out: Path, **sections: dict[str, Any]) -> Path:
    """Write a training recipe for the toy policy (2 prompts x 2 generations x 16 tokens a step) to ``path``.

    Args:
        sections: Keys merged into the recipe's sections (``grpo={"max_steps": 4}``...).
    """
    recipe: dict[str, dict[str, Any]] = {
        "model": {"path": str(policy)},
        "data": {"synth_n": 4, "synth_params": {"size": 112}},
        "grpo": {"num_generations": 2, "per_device_train_batch_size": 4, "max_completion_length": 16,
                 "max_steps": 3, "seed": 7},
        "logging": {"samples_per_step": 2, "plot": False},
        "output": {"dir": str(out), "save_steps": 1, "save_final": False},
    }  # fmt: skip
    for name, values in sections.items():
        recipe[name] = {**recipe.get(name, {}), **values}
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    """Environment of a CLI subprocess: ``tests/`` on the path (support modules), no hub access, quiet threads."""
    env = standalone_env()
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    return env


def cli_command(*args: str, module: str = "perception_r1.cli.main") -> list[str]:
    return [sys.executable, "-m", module, *args]


def run_cli(*args: str, module: str = "perception_r1.cli.main", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI (or ``module``) to the end; stdout and stderr captured as text."""
    return subprocess.run(
        cli_command(*args, module=module), env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


class Background:
    """A CLI subprocess running in the background; its output goes to temporary files (a pipe nobody reads
    would fill up and block the child)."""

    def __init__(self, args: list[str]) -> None:
        self.out, self.err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(args, env=cli_env(), stdout=self.out, stderr=self.err, text=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def finish(self, timeout: float = 600) -> subprocess.CompletedProcess:
        """Wait for the end; the exit status with the whole stdout and stderr."""
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        texts = []
        for handle in (self.out, self.err):
            handle.seek(0)
            texts.append(handle.read())
            handle.close()
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, texts[0], texts[1])


def start_cli(*args: str, module: str = "perception_r1.cli.main") -> Background:
    """Start the CLI (or ``module``) in the background; :meth:`Background.finish` collects it."""
    return Background(cli_command(*args, module=module))


def wait_for(condition: Any, timeout: float = 120, what: str = "condition", run: Background | None = None) -> None:
    """Poll ``condition()`` every 50 ms until it is true; fail after ``timeout`` s or when ``run`` ended first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run is not None and run.proc.poll() is not None:
            done = run.finish()
            raise AssertionError(
                f"the process ended (rc {done.returncode}) before {what}:\n{done.stdout}\n{done.stderr}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def error_lines(stderr: str) -> list[str]:
    """The ``error: ...`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def holder_pid(folder: Path) -> int | None:
    """The pid recorded in a folder's lock file (perception_r1.folder_lock), or None."""
    from perception_r1.folder_lock import lock_details

    details = lock_details(folder)
    return details.get("pid") if details else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (children, their children...), by parent pid: sessions do not hide them."""
    import psutil

    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def processes_gone(pids: list[int], within_s: float) -> bool:
    """Whether every process of ``pids`` has ended (or is a zombie) within ``within_s`` seconds."""
    import psutil

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + within_s
    while any(running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
