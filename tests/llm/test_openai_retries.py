"""Retry policy of the ``openai`` backend (driven by tenacity): what is retried, how often, how long it waits."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from perception_r1.llm.client import ChatRequest
from perception_r1.llm.config import LLMConfig
from perception_r1.llm.openai_backend import OpenAIBackend, _Fatal, _Retryable


def backend_failing_with(failures: list[BaseException], **cfg) -> OpenAIBackend:
    """A backend whose attempts raise ``failures`` one by one, then answer "ok" (no network involved)."""
    base = dict(max_retries=3, backoff_base_s=0.001, backoff_max_s=0.01)
    base.update(cfg)
    backend = OpenAIBackend(LLMConfig(**base), rng=random.Random(0))
    queue = list(failures)

    async def attempt(request: ChatRequest) -> str:
        if queue:
            raise queue.pop(0)
        return "ok"

    backend._attempt = attempt  # type: ignore[method-assign]
    return backend


@pytest.mark.parametrize(
    ("failures", "cfg", "text", "error", "attempts", "retries"),
    [
        ([], {}, "ok", None, 1, 0),  # first attempt answers
        ([_Retryable("timeout")] * 2, {}, "ok", None, 3, 2),  # transient failures are retried
        ([_Retryable("HTTP 503")] * 3, {"max_retries": 2}, None, "HTTP 503", 3, 2),  # 1 + max_retries attempts
        ([_Retryable("HTTP 500")], {"max_retries": 0}, None, "HTTP 500", 1, 0),  # retries switched off
        ([_Fatal("HTTP 400: bad")], {}, None, "HTTP 400: bad", 1, 0),  # a client error is never retried
        ([_Retryable("timeout"), _Fatal("HTTP 401: no")], {}, None, "HTTP 401: no", 2, 1),  # fatal ends retrying
    ],
)
def test_retry_outcomes(failures, cfg, text, error, attempts, retries):
    backend = backend_failing_with(failures, **cfg)
    result = asyncio.run(backend._one(ChatRequest.user("x")))
    assert (result.text, result.error, result.attempts) == (text, error, attempts)
    assert backend.retries == retries


@pytest.mark.parametrize(
    ("retry_after", "backoff_max_s", "low", "high"),
    [
        (0.3, 1.0, 0.3, 0.9),  # a server's Retry-After is waited for ...
        (30.0, 0.2, 0.2, 0.8),  # ... but never longer than backoff_max_s
        (None, 0.01, 0.0, 0.5),  # without it: jitter below the (tiny) cap
    ],
)
def test_retry_after_is_honoured_up_to_the_cap(retry_after, backoff_max_s, low, high):
    backend = backend_failing_with([_Retryable("HTTP 429", retry_after)], backoff_max_s=backoff_max_s)
    start = time.perf_counter()
    result = asyncio.run(backend._one(ChatRequest.user("x")))
    waited = time.perf_counter() - start
    assert result.ok and result.attempts == 2
    assert low <= waited <= high


@pytest.mark.parametrize(
    "failure",
    [
        asyncio.CancelledError(),  # a cancelled batch (Ctrl-C, a timeout above us) must not be swallowed or retried
        RuntimeError("bug"),  # an unexpected error is a bug: raised, not turned into a retry
    ],
)
def test_other_exceptions_propagate_without_retry(failure):
    backend = backend_failing_with([failure])
    with pytest.raises(type(failure)):
        asyncio.run(backend._one(ChatRequest.user("x")))
    assert backend.retries == 0


@pytest.mark.parametrize(
    "api_key_env",
    [
        "PERCEPTION_R1_LLM_API_KEY",  # the default variable
        "PR_TEST_ODD_CRED",  # any variable a config names: the config registers it as secret
    ],
)
def test_a_key_quoted_back_by_the_server_is_redacted_from_the_error(monkeypatch, api_key_env):
    # Some gateways quote the Authorization header in their 401 message; that message becomes the error text.
    from perception_r1.redact import REDACTED
    from support.fake_openai_server import FakeOpenAIServer
    from support.hostile import SECRET_KEY

    monkeypatch.setenv(api_key_env, SECRET_KEY)
    with FakeOpenAIServer(script=["401_echo"]) as server:
        backend = OpenAIBackend(LLMConfig(base_url=server.base_url, api_key_env=api_key_env, max_retries=0))
        result = asyncio.run(backend._one(ChatRequest.user("x")))
    assert server.faults["401_echo"] == 1 and result.attempts == 1  # a 401 is not retried
    assert result.error is not None and result.error.startswith("HTTP 401: Incorrect API key provided: ")
    assert SECRET_KEY not in result.error and REDACTED in result.error
