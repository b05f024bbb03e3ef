"""The verl adapter driven through a real verl (0.9.1), in verl's own environment, as its trainer drives it.

``tests/support/verl_driver.py`` runs under ``.venv-verl/bin/python`` (``scripts/setup_verl.sh``; or the
interpreter in ``$PERCEPTION_R1_VERL_PYTHON``): it composes our recipe with verl's Hydra config, checks it,
validates it with verl's ``validate_config``, builds verl's reward-loop worker (which loads the manager and our
function from the config) and scores a ``DataProto`` batch whose ``extra_info`` holds numpy arrays, against a
fake judge server started here. Concurrency is counted at the server (requests in flight), never timed.
Skipped, with the reason, where no verl environment exists.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path

import pytest

from support import fake_judge
from support.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "support" / "verl_driver.py"
N_PER_GROUP = 4
CONCURRENT = 48  # responses of the concurrency scenarios: more than verl's thread pool on any machine we run


@cache
def verl_python() -> tuple[str | None, str]:
    """The verl environment's interpreter and its verl version, or None and why not."""
    python = os.environ.get("PERCEPTION_R1_VERL_PYTHON") or str(ROOT / ".venv-verl" / "bin" / "python")
    if not Path(python).exists():
        return None, f"no verl environment at {python} (run scripts/setup_verl.sh or set PERCEPTION_R1_VERL_PYTHON)"
    probe = subprocess.run(
        [python, "-c", "import verl, perception_r1.integrations.verl_manager; print(verl.__version__)"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if probe.returncode != 0:
        return None, f"{python} cannot import verl and the adapter: {probe.stderr.strip()[-500:]}"
    return python, probe.stdout.strip()


def _cases(tag: str, groups: int, fault_in: tuple[int, ...] = (), source: str = "hiyouga/geometry3k") -> list[dict]:
    """``groups`` prompts x N_PER_GROUP responses; the first response of each group in ``fault_in`` fails to be
    judged on every attempt (FAULT marker); texts are distinct, so no judge request is de-duplicated."""
    cases = []
    for g in range(groups):
        annotations = [f"AB = {g + 5}", f"CD = {g + 2}"]
        for r in range(N_PER_GROUP):
            stated = ", ".join(annotations[: r % 3])  # 0, 1 or 2 of the facts
            text = f"{tag} g{g} r{r}: {stated} <answer>\\boxed{{3}}</answer>"
            if r == 0 and g in fault_in:
                text = "FAULT:500 " + text
            cases.append(
                {
                    "uid": f"{tag}-{g}",
                    "index": g,
                    "response": text,
                    "answer": "3",
                    "annotations": annotations,
                    "choices": ["3", "4"],
                    "data_source": source,
                }
            )
    return cases


def _judge(url: str) -> list[str]:
    return [
        f"reward.custom_reward_function.reward_kwargs.judge.base_url={url}",
        "+reward.custom_reward_function.reward_kwargs.judge.max_retries=0",
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every scenario in one driver process (verl's imports take a while), each against its own judge server."""
    python, why = verl_python()
    if python is None:
        pytest.skip(why)
    servers = {name: FakeOpenAIServer(fake_judge.truthful_judge, latency_s=0.3) for name in ("main", "async", "sync")}
    for server in servers.values():
        server.start()
    base = [
        f"actor_rollout_ref.rollout.n={N_PER_GROUP}",
        "+reward.custom_reward_function.reward_kwargs.isolation=inline",
        "reward.custom_reward_function.reward_kwargs.group_wait_s=60",
    ]
    naive = ["reward.reward_manager.source=register", "reward.reward_manager.name=naive", "reward.num_workers=8"]
    legacy_top = [
        "reward_model.reward_manager=batch",
        "custom_reward_function.path=pkg://perception_r1.train.verl_reward",
        "custom_reward_function.name=compute_score_batch",
        "+custom_reward_function.reward_kwargs.judge={backend: rule}",
        "+custom_reward_function.reward_kwargs.isolation=inline",
    ]
    spec = {
        "config_dir": str(ROOT / "recipes" / "verl"),
        "overrides": base,
        "scenarios": [
            # the recipe as shipped: our manager, the async function; groups 0 and 2 have a failed judgment
            {"name": "recipe", "overrides": _judge(servers["main"].base_url), "cases": _cases("rc", 3, (0, 2))},
            # verl's own naive manager with the async function: a failure adds 0
            {"name": "naive", "overrides": naive + _judge(servers["main"].base_url), "cases": _cases("nv", 2, (0,))},
            # verl's DAPO manager: the result carries acc
            {
                "name": "dapo",
                "overrides": [*naive[:1], "reward.reward_manager.name=dapo", *_judge(servers["main"].base_url)],
                "cases": _cases("dp", 1),
            },
            # concurrency: the async function with all responses in one worker, vs the sync one in verl's pool
            {"name": "async", "overrides": _judge(servers["async"].base_url), "cases": _cases("as", CONCURRENT // 4)},
            {
                "name": "sync",
                "overrides": [
                    *naive,
                    "reward.custom_reward_function.name=compute_score",
                    *_judge(servers["sync"].base_url),
                ],
                "cases": _cases("sy", CONCURRENT // 4),
            },
            # the former README command on verl 0.9.1: only the old top-level keys. verl then falls back to its
            # built-in scorer for the data source (gsm8k here: geo3k's would need the mathruler package)
            {
                "name": "old_keys",
                "overrides": ["reward.custom_reward_function.path=null", *naive, *legacy_top],
                "cases": _cases("ok", 1, source="openai/gsm8k"),
            },
            # the legacy layout through verl's retained pre-0.8 batch manager
            {
                "name": "legacy_batch",
                "overrides": legacy_top,
                "layout": "legacy",
                "path": "legacy_batch",
                "cases": _cases("lb", 1),
            },
        ],
    }
    spec_path, out_path = tmp_path_factory.mktemp("verl") / "spec.json", tmp_path_factory.mktemp("verl") / "out.json"
    spec_path.write_text(json.dumps(spec))
    try:
        done = subprocess.run(
            [python, str(DRIVER), str(spec_path), str(out_path)], capture_output=True, text=True, timeout=900
        )
    finally:
        for server in servers.values():
            server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(out_path.read_text())
    scenarios = {s["name"]: s for s in out["scenarios"]}
    for name, s in scenarios.items():
        assert "error" not in s, f"{name}: {s.get('traceback') or s['error']}"
    return {"verl": out["verl"], "scenarios": scenarios, "servers": servers}


def _info(scenario, i):
    return scenario["results"][i]["reward_extra_info"]


def test_reward_loop_calls_our_function_through_verls_own_config(runs):
    s = runs["scenarios"]["recipe"]
    assert runs["verl"] == "0.9.1"
    assert s["problems"] == [] and s["validate"] == "ok"  # our check and verl's validate_config both pass
    assert s["manager"] == "PerceptionR1RewardManager"
    assert (s["function_module"], s["function"]) == ("perception_r1.integrations.verl", "compute_score_async")
    # every response scored by us: perception present, numpy extra_info read (2 facts: 0, 1 or 2 stated)
    perception = s["stacked"]["perception"]
    assert [p for i, p in enumerate(perception) if i % N_PER_GROUP] == [0.5, 1.0, 0.0] * 3
    assert s["stacked"]["acc"] == [1.0] * 12  # the gold "3" among choices ["3", "4"]
    assert s["rm_score_sums"] == pytest.approx([r["reward_score"] for r in s["results"]])


def test_failed_judgment_takes_its_groups_mean_under_our_manager(runs):
    s = runs["scenarios"]["recipe"]
    for i in (0, 2 * N_PER_GROUP):  # the failed response of groups 0 and 2
        info = _info(s, i)
        assert info["perception"] == "nan" and info["perception_missing"] == 1.0 and info["perception_imputed"] == 1.0
        # the group's valid perception scores are 0.5, 1.0, 0.0: mean 0.5; accuracy 0.9, format 0
        assert info["score"] == pytest.approx(0.9 + 0.7 * 0.5)
    assert _info(s, N_PER_GROUP)["perception_imputed"] == 0.0  # group 1 had no failure
    assert set(s["stacked"]) == set(_info(s, 0))  # every response has the same keys (verl stacks by the first)


def test_failed_judgment_adds_zero_under_verls_own_managers(runs):
    s = runs["scenarios"]["naive"]
    assert s["manager"] == "NaiveRewardManager" and s["function"] == "compute_score_async"
    info = _info(s, 0)
    assert info["perception_missing"] == 1.0 and "perception_imputed" not in info
    assert info["score"] == pytest.approx(0.9)
    assert any("adds 0" in note for note in s["notes"])


def test_dapo_manager_gets_acc(runs):
    s = runs["scenarios"]["dapo"]
    assert s["manager"] == "DAPORewardManager" and s["stacked"]["acc"] == [1.0] * N_PER_GROUP


def test_async_function_has_every_judgment_in_flight_at_once(runs):
    servers = runs["servers"]
    assert runs["scenarios"]["async"]["function"] == "compute_score_async"
    assert runs["scenarios"]["sync"]["function"] == "compute_score"
    # the coroutine: all 48 requests together; the sync function: at most verl's executor threads at a time
    assert servers["async"].max_in_flight == CONCURRENT
    assert servers["sync"].max_in_flight <= min(32, (os.cpu_count() or 1) + 4) < CONCURRENT


def test_old_top_level_keys_are_ignored_by_verl_and_caught_by_the_check(runs):
    s = runs["scenarios"]["old_keys"]
    assert any("verl < 0.8 keys" in p for p in s["problems"])
    # what verl 0.9.1 really does with them: its own scorer, not ours (no perception term, just its acc)
    assert s["function"] is None  # no custom function loaded
    assert all(set(r["reward_extra_info"]) == {"acc"} for r in s["results"])


def test_legacy_layout_through_verls_pre_0_8_batch_manager(runs):
    s = runs["scenarios"]["legacy_batch"]
    assert s["problems"] == [] and s["manager"] == "BatchRewardManager"
    assert s["function"] == "compute_score_batch"
    assert s["stacked"]["perception"] == [0.0, 0.5, 1.0, 0.0]  # the rule judge, named explicitly


def test_check_command_composes_with_verls_hydra():
    python, why = verl_python()
    if python is None:
        pytest.skip(why)
    recipe = ROOT / "recipes" / "verl" / "perception_r1.yaml"
    command = [python, "-m", "perception_r1.cli.main", "verl", "check", str(recipe), "reward.num_workers=8"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    # verl composed our recipe with its own ppo_trainer config, and the check found the one problem
    assert done.returncode == 1, done.stderr[-2000:]
    assert "verl 0.9.1: reward_loop layout (composed by verl)" in done.stdout
    assert "problem: reward.num_workers=8: PerceptionR1RewardManager needs 1" in done.stderr
