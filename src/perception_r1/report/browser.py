"""Open a report in headless Chromium: the rendered DOM, the page's console messages and a screenshot.

Used by the browser tests and ``benchmarks/bench_report.py`` to check the page the way a reader sees it. The
Debian package ``chromium`` (installed by ``scripts/setup.sh``) is enough; no driver or Python package is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# Chromium logs every console message of the page (console.*, uncaught exceptions) to stderr as
# "[pid:tid:date:INFO:CONSOLE:line] "text", source: url (line)" with --enable-logging=stderr.
CONSOLE_LINE = re.compile(r":CONSOLE[:(\]]")


class BrowserError(RuntimeError):
    """Chromium could not be found or did not produce a result."""


@dataclass
class PageResult:
    """What a headless load of a page produced.

    Attributes:
        dom: The serialised DOM after scripts ran (empty when only a screenshot was asked for).
        console: The page's console messages (errors, warnings, logs), one line each.
        wall_s: Seconds the browser process ran (start-up included).
        screenshot: The PNG written, or None.
    """

    dom: str
    console: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    screenshot: Path | None = None


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``$CHROMIUM`` first, then the usual names on PATH), or None."""
    candidates = [os.environ.get("CHROMIUM", ""), *BROWSER_NAMES]
    for name in candidates:
        path = shutil.which(name) if name else None
        if path:
            return path
    return None


def _base_args(binary: str, profile: str, window: tuple[int, int], budget_ms: int) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",  # running as root in containers; the page is a local file we wrote
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",  # a private profile: parallel runs do not share locks
        f"--window-size={window[0]},{window[1]}",
        f"--virtual-time-budget={budget_ms}",  # let timers (debounced filters) fire before the dump
        "--enable-logging=stderr",
        "--v=0",
    ]


def load_page(
    page: str | Path,
    *,
    fragment: str = "",
    screenshot: str | Path | None = None,
    window: tuple[int, int] = (1280, 2000),
    budget_ms: int = 3000,
    timeout_s: float = 120.0,
) -> PageResult:
    """Load ``page`` in headless Chromium; return its DOM after the scripts ran and its console messages.

    Args:
        page: The HTML file.
        fragment: URL fragment to open it with (without ``#``), e.g. a filter state.
        screenshot: Also save a PNG of the viewport here (a second browser run).
        window: Viewport width and height in CSS pixels.
        budget_ms: Virtual time given to the page's timers before the DOM is taken.
        timeout_s: Wall-clock limit per browser run.

    Raises:
        BrowserError: no Chromium on this machine, or it failed or timed out (stderr tail in the message).
    """
    binary = find_chromium()
    if binary is None:
        raise BrowserError(f"no Chromium found (looked for $CHROMIUM and {', '.join(BROWSER_NAMES)})")
    url = Path(page).resolve().as_uri() + (f"#{fragment}" if fragment else "")
    with tempfile.TemporaryDirectory(prefix="report-browser-") as profile:
        args = _base_args(binary, profile, window, budget_ms)
        started = time.perf_counter()
        dom, stderr = _run([*args, "--dump-dom", url], timeout_s)
        wall = time.perf_counter() - started
        console = [line for line in stderr.splitlines() if CONSOLE_LINE.search(line)]
        shot = None
        if screenshot is not None:
            shot = Path(screenshot).resolve()
            shot.parent.mkdir(parents=True, exist_ok=True)
            _, shot_err = _run([*args, f"--screenshot={shot}", url], timeout_s)
            console += [line for line in shot_err.splitlines() if CONSOLE_LINE.search(line)]
            if not shot.is_file():
                raise BrowserError(f"Chromium wrote no screenshot {shot}: {shot_err[-2000:]}")
    return PageResult(dom=dom, console=console, wall_s=wall, screenshot=shot)


def _run(args: list[str], timeout_s: float) -> tuple[str, str]:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BrowserError(f"Chromium did not finish within {timeout_s} s: {' '.join(args[-2:])}") from exc
    if proc.returncode != 0:
        raise BrowserError(f"Chromium exited with {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout, proc.stderr
