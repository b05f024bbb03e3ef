"""Judge throughput: our client stack vs a minimal asyncio HTTP client, against the same loopback server.

1,024 judge requests (128 annotation sets x 8 distinct responses) at concurrency 64 against the fake OpenAI-
compatible server with a fixed 250 ms latency, run in a separate process so that it does not share the client's
GIL. Our judge runs with the default lean transport (:mod:`perception_r1.llm.transport`), once with the SDK's
default transport for comparison (``http_transport: sdk``), and once with the SDK's maintained aiohttp client
(``http_transport: aiohttp``, needs ``pip install aiohttp``): the candidate to replace the lean transport if it
stays within 1.15 x the minimal client (the numbers that decided it are in that module's docstring). In the same
run, a minimal asyncio HTTP/1.1 client (64 keep-alive connections, no retries, no validation) sends the very same
request bodies. Printed: the walls, the latency floor (1,024 / 64 x 0.25 s = 4 s), the ratios, an immediate rerun
served from the SQLite cache, and a run against a server injecting 20% transient failures (429/500/503/connection
reset/hang), checking that every request completes or is counted as failed and that every completed verdict
equals the fault-free one.

Usage: python benchmarks/bench_judge.py [--requests 1024] [--concurrency 64] [--latency-ms 250] [--repeats 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perception_r1.judge.config import JudgeConfig
from perception_r1.judge.judges import LLMJudge

# The fakes live in tests/support, outside the installed package (see tests/support/__init__.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.fake_judge import true_verdicts  # noqa: E402
from support.fake_openai_server import free_port, standalone_env  # noqa: E402

FACTS = ["AB = {a}", "angle ABC = {b}°", "CD = {c}", "AB ∥ CD", "OA = {a}"]


def make_cases(n_prompts: int, per_prompt: int) -> list[tuple[list[str], str]]:
    """``n_prompts`` annotation sets x ``per_prompt`` distinct responses (each stating a different subset)."""
    cases = []
    for p in range(n_prompts):
        facts = [f.format(a=p % 17 + 1, b=p % 90 + 10, c=p % 13 + 2) for f in FACTS[: 2 + p % 4]]
        for r in range(per_prompt):
            stated = [f for i, f in enumerate(facts) if (r >> i) & 1]
            cases.append((facts, f"Response {r} to problem {p}: " + ("; ".join(stated) or "no facts") + "."))
    return cases


def start_server(port: int, latency_ms: float, fault_rate: float, hang_s: float) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "support.fake_openai_server",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--fault-rate",
        str(fault_rate),
        "--hang-s",
        str(hang_s),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=standalone_env())
    assert proc.stdout is not None
    if "listening" not in proc.stdout.readline().decode():
        raise RuntimeError("fake server did not start")
    return proc


async def minimal_client(port: int, bodies: list[bytes], concurrency: int) -> list[str]:
    """The baseline: raw asyncio streams, one keep-alive connection per concurrency slot."""
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))

    async def one(body: bytes) -> str:
        reader, writer = await pool.get()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        await writer.drain()
        header = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        reply = json.loads(await reader.readexactly(length))
        pool.put_nowait((reader, writer))
        return reply["choices"][0]["message"]["content"]

    try:
        return await asyncio.gather(*(one(b) for b in bodies))
    finally:
        while not pool.empty():
            pool.get_nowait()[1].close()


def request_bodies(judge: LLMJudge, cases: list[tuple[list[str], str]]) -> list[bytes]:
    """The exact JSON bodies our backend sends for ``cases``."""
    backend = judge.client.backend
    return [json.dumps(backend._params(judge._request(list(a), r))).encode() for a, r in cases]


async def run_judge(cfg: JudgeConfig, cases: list[tuple[list[str], str]]) -> tuple[float, list, LLMJudge]:
    judge = LLMJudge(cfg)
    start = time.perf_counter()
    judgments = await judge.ajudge(cases)
    wall = time.perf_counter() - start
    await judge.aclose()
    return wall, judgments, judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=250.0)
    parser.add_argument("--repeats", type=int, default=1, help="alternate baseline/ours this many times")
    args = parser.parse_args()
    cases = make_cases(args.requests // 8, 8)
    expected = [true_verdicts(a, r) for a, r in cases]
    floor = len(cases) / args.concurrency * args.latency_ms / 1000
    import openai  # noqa: F401  - the SDK's one-off import (seconds) would otherwise land in our first wall

    port = free_port()
    server = start_server(port, args.latency_ms, 0.0, 30.0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    try:
        base = dict(base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=args.concurrency, timeout_s=10.0)
        bodies = request_bodies(LLMJudge(JudgeConfig(**base)), cases)
        for rep in range(args.repeats):
            start = time.perf_counter()
            texts = asyncio.run(minimal_client(port, bodies, args.concurrency))
            minimal_wall = time.perf_counter() - start
            assert len(texts) == len(cases)
            cfg = JudgeConfig(**base, cache_path=str(tmp / f"cache{rep}.sqlite"))
            ours_wall, judgments, judge = asyncio.run(run_judge(cfg, cases))
            ok = [j.verdicts == e for j, e in zip(judgments, expected, strict=True)]
            print(
                f"[run {rep + 1}] {len(cases)} requests, concurrency {args.concurrency}, "
                f"latency {args.latency_ms:.0f} ms, latency floor {floor:.2f} s"
            )
            print(f"  minimal asyncio client : {minimal_wall:6.2f} s  ({minimal_wall / floor:.2f} x floor)")
            print(
                f"  perception-r1 judge    : {ours_wall:6.2f} s  ({ours_wall / floor:.2f} x floor, "
                f"{ours_wall / minimal_wall:.2f} x minimal; target <= 1.15 x minimal)"
            )
            print(f"  correct verdicts       : {sum(ok)}/{len(ok)}; sent {judge.client.stats.sent}")
            sdk_cfg = JudgeConfig(**base, http_transport="sdk")
            sdk_wall, sdk_judgments, _ = asyncio.run(run_judge(sdk_cfg, cases))
            sdk_ok = sum(j.verdicts == e for j, e in zip(sdk_judgments, expected, strict=True))
            print(
                f"  judge, SDK's transport : {sdk_wall:6.2f} s  ({sdk_wall / minimal_wall:.2f} x minimal; "
                f"{sdk_ok} correct; for comparison)"
            )
            aiohttp_run(base, cases, expected, minimal_wall)
            rerun_wall, rerun, _ = asyncio.run(run_judge(cfg, cases))
            print(
                f"  cached rerun           : {rerun_wall:6.3f} s  ({sum(j.cached for j in rerun)} served from "
                f"the cache, {sum(j.verdicts == e for j, e in zip(rerun, expected, strict=True))} correct)"
            )
    finally:
        server.terminate()
        server.wait()
    fault_run(args, cases, expected)


def aiohttp_run(base: dict, cases: list, expected: list, minimal_wall: float) -> None:
    """The maintained alternative to our lean transport: the SDK's aiohttp client (``http_transport: aiohttp``)."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        print("  judge, SDK's aiohttp   : skipped (pip install aiohttp to compare)")
        return
    wall, judgments, _ = asyncio.run(run_judge(JudgeConfig(**base, http_transport="aiohttp"), cases))
    ok = sum(j.verdicts == e for j, e in zip(judgments, expected, strict=True))
    print(
        f"  judge, SDK's aiohttp   : {wall:6.2f} s  ({wall / minimal_wall:.2f} x minimal; {ok} correct; "
        "would replace llm/transport.py if <= 1.15 x minimal)"
    )


def fault_run(args: argparse.Namespace, cases: list, expected: list) -> None:
    """Same requests against a server injecting 20% transient failures."""
    port = free_port()
    server = start_server(port, args.latency_ms, 0.2, 30.0)
    try:
        cfg = JudgeConfig(
            base_url=f"http://127.0.0.1:{port}/v1",
            max_concurrency=args.concurrency,
            timeout_s=2.0,
            max_retries=4,
            backoff_base_s=0.25,
            backoff_max_s=2.0,
        )
        wall, judgments, judge = asyncio.run(run_judge(cfg, cases))
    finally:
        server.terminate()
        server.wait()
    completed = [j for j in judgments if j.status == "ok"]
    failed = [j for j in judgments if j.status == "failed"]
    wrong = sum(1 for j, e in zip(judgments, expected, strict=True) if j.status == "ok" and j.verdicts != e)
    print(f"[20% transient failures: 429/500/503/reset/hang; timeout 2 s, 4 retries] wall {wall:.2f} s")
    print(
        f"  completed {len(completed)}, counted as failed {len(failed)}, total {len(completed) + len(failed)}"
        f"/{len(cases)}; retries {judge.client.backend.retries}; wrong verdicts among completed: {wrong}"
    )
    if failed:
        print(f"  failure reasons: {sorted({j.error for j in failed})}")


if __name__ == "__main__":
    main()
