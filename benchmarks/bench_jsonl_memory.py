"""Peak memory of ``perception-r1 rewards score`` on a file with one over-long line, against a baseline file.

Each run is a fresh process (``python -m perception_r1.cli.main rewards score ... --skip-invalid``) whose peak RSS
is read from ``os.wait4`` (its own ``ru_maxrss``) when it ends. The baseline file holds the same small rows
without the long line; the long line (``--line-mb``, default 1024 = 1 GB) is over the default 64 MiB limit, so it
is skipped and counted. Printed: both peaks, their difference (target: a few MB, not a multiple of the line) and
the wall times. Before the line size limit, a 1 GB line took the command to 8.2 GB before a MemoryError.

Usage: python benchmarks/bench_jsonl_memory.py [--line-mb 1024] [--rows 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# The fakes live in tests/support, outside the installed package (see tests/support/__init__.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.hostile import write_long_line_jsonl  # noqa: E402


def peak_of_run(src: Path, out: Path) -> tuple[float, float, dict]:
    """Run the command in a fresh process; returns (its peak RSS in MiB, wall seconds, the summary)."""
    cmd = [sys.executable, "-m", "perception_r1.cli.main", "rewards", "score", str(src), "-o", str(out),
           "--skip-invalid"]  # fmt: skip
    start = time.perf_counter()
    code = os.fork()
    if code == 0:  # the child execs the command, so that RUSAGE_CHILDREN holds this run alone
        os.execv(sys.executable, cmd)
    _, status, usage = os.wait4(code, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"rewards score failed on {src}")
    summary = json.loads(out.with_name(out.name + ".summary.json").read_text())
    return usage.ru_maxrss / 1024, wall, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line-mb", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = json.dumps({"response": "<answer>\\boxed{1}</answer>", "answer": "1"}) + "\n"
        base = folder / "base.jsonl"
        base.write_text(small * args.rows)
        big = write_long_line_jsonl(folder / "big.jsonl", args.line_mb * 2**20, args.rows // 2, args.rows // 2)
        base_peak, base_wall, base_summary = peak_of_run(base, folder / "base.out.jsonl")
        big_peak, big_wall, big_summary = peak_of_run(big, folder / "big.out.jsonl")
    print(f"baseline: {base_summary['scored']} rows scored, peak RSS {base_peak:.0f} MiB, {base_wall:.1f} s")
    print(
        f"with a {args.line_mb} MiB line: {big_summary['scored']} rows scored, {big_summary['skipped']} skipped, "
        f"peak RSS {big_peak:.0f} MiB, {big_wall:.1f} s"
    )
    print(f"extra peak memory for the long line: {big_peak - base_peak:.0f} MiB (line: {args.line_mb} MiB)")


if __name__ == "__main__":
    main()
