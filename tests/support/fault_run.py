"""Run the ``perception-r1`` CLI in this process with one fault or pause injected, for tests of cut saves and of
concurrent writers.

Usage (with ``tests/`` on ``PYTHONPATH``, see :func:`support.fake_openai_server.standalone_env`)::

    python -m support.fault_run --signal SIGKILL optimizer.pt 2 -- train RECIPE.yaml
    python -m support.fault_run --pause-until RELEASE_FILE -- train RECIPE.yaml

``--signal NAME FILE STEP``: when ``torch.save`` writes ``FILE`` inside a folder whose path contains
``checkpoint-STEP``, half the bytes are written and the process sends itself the real signal ``NAME``.
``--pause-until FILE``: ``train``, ``eval`` and ``experiment`` stop after claiming their output folder until
``FILE`` exists, so a test can start a second writer while the first one surely holds the folder.
Nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def install(sig: signal.Signals, name: str, step: int) -> None:
    """Patch ``torch.save`` so that writing ``name`` of checkpoint ``step`` writes half the bytes, then signals."""
    import torch

    original = torch.save

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
        path = os.fspath(f) if isinstance(f, (str, os.PathLike)) else ""
        if os.path.basename(path) == name and f"checkpoint-{step}" in path:
            buffer = io.BytesIO()
            original(obj, buffer, *args, **kwargs)
            data = buffer.getvalue()
            with open(path, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
            os.kill(os.getpid(), sig)
            time.sleep(30)  # SIGKILL ends the process here; the CLI's SIGTERM handler raises SystemExit
        return original(obj, f, *args, **kwargs)

    torch.save = save


def pause_until(release: Path) -> None:
    """Make ``train`` (when it loads its data), ``eval`` (when it reads its items) and ``experiment`` (when it
    checks its recipe) wait for ``release``: all happen inside the claimed output folder."""
    from perception_r1.eval import runner
    from perception_r1.experiment import runner as experiment
    from perception_r1.train import trainer

    def paused(original: Any) -> Any:
        def wait_then_call(*args: Any, **kwargs: Any) -> Any:
            deadline = time.monotonic() + 300
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return original(*args, **kwargs)

        return wait_then_call

    trainer.load_rows = paused(trainer.load_rows)
    runner.iter_items = paused(runner.iter_items)
    experiment.check_recipe = paused(experiment.check_recipe)


def main(argv: list[str]) -> None:
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m support.fault_run")
    parser.add_argument("--signal", nargs=3, metavar=("NAME", "FILE", "STEP"))
    parser.add_argument("--pause-until", type=Path)
    args = parser.parse_args(argv[:split])
    if args.signal:
        name, file_name, step = args.signal
        install(signal.Signals[name], file_name, int(step))
    if args.pause_until:
        pause_until(args.pause_until)
    from perception_r1.cli.main import main as cli_main

    sys.argv = ["perception-r1", *argv[split + 1 :]]
    cli_main()


if __name__ == "__main__":
    main(sys.argv[1:])
