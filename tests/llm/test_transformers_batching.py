"""Transformers backend batching without a model: one temperature per generated batch, results in request order."""

from __future__ import annotations

import asyncio

from perception_r1.llm.client import ChatRequest
from perception_r1.llm.config import LLMConfig
from perception_r1.llm.transformers_backend import TransformersBackend


def test_batches_never_mix_temperatures_and_keep_order(monkeypatch):
    backend = TransformersBackend(LLMConfig(backend="transformers", temperature=0.0, batch_size=8))
    batches = []

    def fake_generate(requests):
        temperatures = {backend.cfg.temperature if r.temperature is None else r.temperature for r in requests}
        batches.append(temperatures)
        return [r.messages[0]["content"] for r in requests]

    monkeypatch.setattr(backend, "_load", lambda: None)
    monkeypatch.setattr(backend, "_generate_batch", fake_generate)
    requests = [
        ChatRequest.user("a"),  # configured temperature 0.0
        ChatRequest.user("b", temperature=0.7),  # a re-ask at a sampling temperature
        ChatRequest.user("c", temperature=0.0),  # explicit 0.0: same batch as the configured default
        ChatRequest.user("d", temperature=0.7),
    ]
    results = asyncio.run(backend.complete(requests))
    assert [r.text for r in results] == ["a", "b", "c", "d"]
    assert batches == [{0.0}, {0.7}]


def test_a_failed_batch_fails_only_its_requests(monkeypatch):
    backend = TransformersBackend(LLMConfig(backend="transformers", batch_size=1))

    def fake_generate(requests):
        if requests[0].messages[0]["content"] == "bad":
            raise RuntimeError("CUDA out of memory")
        return ["ok"]

    monkeypatch.setattr(backend, "_load", lambda: None)
    monkeypatch.setattr(backend, "_generate_batch", fake_generate)
    good, bad = asyncio.run(backend.complete([ChatRequest.user("good"), ChatRequest.user("bad")]))
    assert good.ok and good.text == "ok"
    assert not bad.ok and bad.error.startswith("generation failed: RuntimeError: CUDA out of memory")
