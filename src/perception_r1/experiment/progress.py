"""Live progress of GRPO runs training in other processes, read from their ``metrics.jsonl``.

On a terminal: one rich progress bar per run with its step, last reward and seconds per step. Elsewhere (output
piped to a file, a CI log, a notebook), where a live display shows nothing until the end: one line per run at most
every ``every_s`` seconds and when it finishes, so that a long stage never looks stuck.

Example:
    >>> import tempfile, pathlib
    >>> run_status(pathlib.Path(tempfile.mkdtemp()))
    RunStatus(steps=0, reward=None, step_s=None)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands: optimizer steps logged, the last step's total reward and mean seconds per step."""

    steps: int
    reward: float | None
    step_s: float | None

    def text(self, total: int) -> str:
        """``step 40/200, reward 0.210, 3.9 s/step`` (the parts known so far)."""
        parts = [f"step {self.steps}/{total}"]
        if self.reward is not None:
            parts.append(f"reward {self.reward:.3f}")
        if self.step_s is not None:
            parts.append(f"{self.step_s:.1f} s/step")
        return ", ".join(parts)


def run_status(run_dir: Path) -> RunStatus:
    """The status of the run in ``run_dir`` (a line being written is ignored until it is complete)."""
    rows = []
    try:
        with (run_dir / "metrics.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if line.endswith("\n") and '"reward"' in line:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        continue
    except FileNotFoundError:
        return RunStatus(0, None, None)
    if not rows:
        return RunStatus(0, None, None)
    times = [r["step_time"] for r in rows if isinstance(r.get("step_time"), (int, float))]
    return RunStatus(len(rows), rows[-1].get("reward"), sum(times) / len(times) if times else None)


class RunsProgress:
    """Shows the progress of several runs (see the module docstring); use as a context manager.

    Args:
        runs: Display name -> run folder.
        total: Steps each run will train.
        announce: Where lines go when the console is not a terminal.
        every_s: Seconds between those lines.
        console: A ``rich.console.Console`` (None: a new one on stderr-compatible stdout).
    """

    def __init__(
        self,
        runs: dict[str, Path],
        total: int,
        announce: Callable[[str], None],
        every_s: float = 60.0,
        console: Any = None,
    ) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.runs, self.total, self.announce, self.every_s = runs, total, announce, every_s
        self.console = console or Console()
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.live,
        )
        self.tasks = {name: self.progress.add_task(name, total=total, extra="") for name in runs}
        self.last_line = time.monotonic()
        self.finished: set[str] = set()

    def __enter__(self) -> RunsProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.update(force=True)
        self.progress.__exit__(None, None, None)

    def update(self, force: bool = False) -> None:
        """Read every run's status and show it (lines: every ``every_s`` seconds, or when ``force``)."""
        statuses = {name: run_status(folder) for name, folder in self.runs.items()}
        for name, status in statuses.items():
            extra = status.text(self.total).split(", ", 1)[1] if ", " in status.text(self.total) else ""
            self.progress.update(self.tasks[name], completed=status.steps, extra=extra)
        if self.live:
            return
        now = time.monotonic()
        newly_done = {n for n, s in statuses.items() if s.steps >= self.total} - self.finished
        if force or newly_done or now - self.last_line >= self.every_s:
            self.last_line = now
            for name, status in statuses.items():
                if name not in self.finished:
                    self.announce(f"GRPO {name}: {status.text(self.total)}")
            self.finished |= newly_done
