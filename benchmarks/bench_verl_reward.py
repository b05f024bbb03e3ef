"""verl's reward path at 256 responses against a slow judge: our async adapter vs verl's sync and legacy paths.

32 prompts x 8 responses, each with 3 annotations, judged by the fake OpenAI-compatible server run standalone
(its own process, ``tests/support/fake_openai_server.py``) with a fixed latency (0.5 s). Every scenario is built
the way verl's trainer builds it, by ``tests/support/verl_driver.py``: our recipe composed with verl's Hydra
config, then verl's ``RewardLoopWorker`` (verl >= 0.8; all responses gathered as the agent loop streams them)
or verl's pre-0.8 reward managers. Timed: the scoring call only, twice per scenario with distinct responses; the
second call is reported (a training step's steady state: the judge connections are open), the first one next to
it. Scenarios:

* ``loop naive + sync``: verl's reward loop with ``compute_score`` (synchronous: verl runs it in its thread
  executor); the baseline.
* ``loop naive + async``: the same manager with ``compute_score_async`` (awaited directly).
* ``loop group manager + async``: the recipe (``PerceptionR1RewardManager``, one worker, group rendezvous).
* ``legacy naive + sync``: verl's pre-0.8 ``naive`` manager (one response after the other).
* ``legacy batch``: verl's pre-0.8 ``batch`` manager with ``compute_score_batch``.

Run in the verl environment (``bash scripts/setup_verl.sh``)::

    .venv-verl/bin/python benchmarks/bench_verl_reward.py [--responses 256] [--latency-ms 500] [--skip-legacy-naive]

Target: the async adapter scores 256 responses in a few seconds (judge latency bound: 0.5 s), against ~22 s for
the synchronous function in the same reward loop and ~2 minutes for the legacy per-response manager.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fakes and the driver live in tests/support
from support.fake_openai_server import free_port, standalone_env  # noqa: E402
from support.verl_driver import byte_tokenizer, run_scenario  # noqa: E402

GROUP = 8


def cases(tag: str, n: int) -> list[dict]:
    """``n`` responses, ``GROUP`` per prompt, each stating some of its prompt's 3 facts (distinct texts)."""
    out = []
    for i in range(n):
        g, r = divmod(i, GROUP)
        facts = [f"AB = {g + 5}", f"angle ABC = {g + 30}°", f"CD = {g + 2}"]
        stated = "; ".join(f for k, f in enumerate(facts) if (r >> k) & 1) or "no facts"
        out.append(
            {
                "uid": f"{tag}-{g}",
                "index": g,
                "response": f"<think>\n{tag} {i}: {stated}\n</think>\n<answer>\n\\boxed{{{r % 3}}}\n</answer>",
                "answer": "1",
                "annotations": facts,
            }
        )
    return out


def start_server(port: int, latency_ms: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "support.fake_openai_server", "--port", str(port), "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=standalone_env())
    assert proc.stdout is not None
    if "listening" not in proc.stdout.readline().decode():
        raise RuntimeError("fake server did not start")
    return proc


def scenarios(url: str, skip_legacy_naive: bool) -> list[dict]:
    judge = [f"reward.custom_reward_function.reward_kwargs.judge.base_url={url}"]
    naive = ["reward.reward_manager.source=register", "reward.reward_manager.name=naive", "reward.num_workers=8"]
    legacy = [
        "custom_reward_function.path=pkg://perception_r1.integrations.verl",
        f"+custom_reward_function.reward_kwargs.judge={{base_url: '{url}', max_concurrency: 512}}",
        "+custom_reward_function.reward_kwargs.isolation=inline",
    ]
    out = [
        {"name": "loop naive + sync", "overrides": [*naive, "reward.custom_reward_function.name=compute_score"]},
        {"name": "loop naive + async", "overrides": naive},
        {"name": "loop group manager + async", "overrides": []},
        {
            "name": "legacy batch",
            "path": "legacy_batch",
            "layout": "legacy",
            "legacy_manager": "batch",
            "overrides": [
                *legacy,
                "reward_model.reward_manager=batch",
                "custom_reward_function.name=compute_score_batch",
            ],
        },
    ]
    if not skip_legacy_naive:
        out.append(
            {
                "name": "legacy naive + sync",
                "path": "legacy_batch",
                "layout": "legacy",
                "legacy_manager": "naive",
                "overrides": [
                    *legacy,
                    "reward_model.reward_manager=naive",
                    "custom_reward_function.name=compute_score",
                ],
            }
        )
    for s in out:
        s["overrides"] = judge + s["overrides"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--skip-legacy-naive", action="store_true", help="skip the ~2-minute serial baseline")
    args = parser.parse_args()
    import verl

    port = free_port()
    server = start_server(port, args.latency_ms)
    spec = {
        "config_dir": str(ROOT / "recipes" / "verl"),
        "overrides": [
            f"actor_rollout_ref.rollout.n={GROUP}",
            "+reward.custom_reward_function.reward_kwargs.isolation=inline",
        ],
    }
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer = byte_tokenizer(Path(tmp) / "tokenizer")
            for k, scenario in enumerate(scenarios(f"http://127.0.0.1:{port}/v1", args.skip_legacy_naive)):
                walls = []
                # twice (the serial legacy manager once): the first call also opens the judge connections; the
                # second is a training step's steady state. Distinct texts each time: nothing is de-duplicated.
                for repeat in range(1 if scenario["name"].startswith("legacy naive") else 2):
                    scenario["cases"] = cases(f"s{k}r{repeat}", args.responses)
                    out = run_scenario(spec, scenario, tokenizer)
                    if "error" in out:
                        raise RuntimeError(f"{scenario['name']}: {out['traceback']}")
                    walls.append(out["wall_s"])
                judged = sum(1 for p in out["stacked"].get("perception", []) if p == p)  # not nan
                results.append((scenario["name"], walls, judged))
    finally:
        server.terminate()
        server.wait(10)
    floor = args.latency_ms / 1000
    print(
        f"verl {verl.__version__}: {args.responses} responses ({GROUP} per prompt, 3 annotations each), judge latency "
        f"{floor:.1f} s (floor: one latency), {os.cpu_count()} CPUs"
    )
    base = next(walls[-1] for name, walls, _ in results if name == "loop naive + sync")
    print(f"  {'scenario':28s} {'wall':>9s}  {'responses/s':>11s}  {'vs baseline':>11s}  first call")
    for name, walls, judged in results:
        wall = walls[-1]
        print(
            f"  {name:28s} {wall:7.2f} s  {args.responses / wall:11.1f}  {base / wall:9.1f} x  {walls[0]:7.2f} s  "
            f"({judged}/{args.responses} judged)"
        )


if __name__ == "__main__":
    main()
