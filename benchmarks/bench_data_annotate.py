"""Annotation throughput of the curation pipeline against a loopback server, and a rerun served from the cache.

Annotates N items (distinct CoTs) with ``perception_r1.data.curate.annotate.annotate`` against the fake
OpenAI-compatible server (run in a separate process, echo responder, fixed latency) at a given concurrency.
The ideal wall is ``ceil(N / concurrency) x latency``; printed: wall, throughput, throughput / ideal (target
>= 0.9), and the wall of an immediate rerun served from the SQLite cache.

Usage: python benchmarks/bench_data_annotate.py [--items 1000] [--concurrency 32] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perception_r1.data.curate.annotate import AnnotateOptions, annotate
from perception_r1.llm.config import LLMConfig

# The fakes live in tests/support, outside the installed package (see tests/support/__init__.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.fake_openai_server import free_port, standalone_env  # noqa: E402


def start_server(port: int, latency_ms: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "support.fake_openai_server", "--port", str(port),
           "--latency-ms", str(latency_ms), "--responder", "echo"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=standalone_env())
    assert proc.stdout is not None
    if "listening" not in proc.stdout.readline().decode():
        raise RuntimeError("fake server did not start")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    rows = [
        {"id": f"i{i}", "cot": f"<think>\nFrom the figure, AB = {i} and angle ABC = {i % 90 + 1}°.\n</think>\n"
         f"<answer>\n\\boxed{{{i}}}\n</answer>"}
        for i in range(args.items)
    ]  # fmt: skip
    port = free_port()
    server = start_server(port, args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = LLMConfig(
                base_url=f"http://127.0.0.1:{port}/v1", model="bench", max_concurrency=args.concurrency,
                cache_path=str(Path(tmp) / "cache.sqlite"),
            )  # fmt: skip
            opts = AnnotateOptions(batch_size=max(args.items, 1))
            warm = [{"id": f"w{i}", "cot": f"warm-up {i}"} for i in range(args.concurrency)]
            start = time.perf_counter()
            annotate(warm, cfg, opts)  # imports the openai SDK and opens connections once, outside the timing
            warmup = time.perf_counter() - start
            start = time.perf_counter()
            first = annotate(rows, cfg, opts)
            wall = time.perf_counter() - start
            start = time.perf_counter()
            second = annotate(rows, cfg, opts)
            rerun = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait()
    ideal = math.ceil(args.items / args.concurrency) * args.latency_ms / 1000
    assert second.rows == first.rows, "a cached rerun must give identical output"
    print(f"items={args.items} concurrency={args.concurrency} latency={args.latency_ms:.0f} ms")
    print(f"annotated={len(first.rows)} failed_requests={first.summary['llm']['failed']}")
    print(f"warm-up ({args.concurrency} items, SDK import + connections): {warmup:.2f} s")
    print(f"wall={wall:.2f} s  ideal={ideal:.2f} s  throughput={args.items / wall:.0f} items/s")
    print(f"throughput/ideal={ideal / wall:.3f}  (target >= 0.9)")
    print(f"rerun from cache: {rerun:.2f} s  (cache hits {second.summary['llm']['cache_hits']})")


if __name__ == "__main__":
    main()
