"""Hold an output folder the way a command does (``perception_r1.folder_lock.claims_output_folder``) until a
release file appears: run alone, or by ``torchrun`` as the ranks of one launch.

Usage::

    python -m support.hold_folder FOLDER RELEASE_FILE [--wait]

Each process writes ``FOLDER/rank-<RANK>.held`` once it is inside the claimed call, then waits for
``RELEASE_FILE`` (at most 120 s). A refused process exits as the CLI does: one ``error:`` line, status 2.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from perception_r1.folder_lock import FolderBusyError, claims_output_folder


def hold(folder: str, release: str) -> None:
    marker = Path(folder) / f"rank-{os.environ.get('RANK', '0')}.held"
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def main(argv: list[str]) -> None:
    wait = "--wait" in argv
    folder, release = [a for a in argv if a != "--wait"]
    claimed = claims_output_folder("test hold", lambda folder, release: folder, wait=wait)(hold)
    try:
        claimed(folder, release)
    except FolderBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main(sys.argv[1:])
