"""``openai`` LLM backend: any OpenAI-compatible chat endpoint through the official async ``openai`` client.

* bounded concurrency (an ``asyncio.Semaphore`` of ``max_concurrency``, held only while a request is in flight,
  not while it waits to be retried);
* a per-request timeout (``timeout_s``) over the whole attempt;
* retries (driven by ``tenacity``) with exponential backoff and full jitter on timeouts, connection errors, 429,
  408, 5xx and malformed replies (a server's ``Retry-After`` is honoured up to ``backoff_max_s``); other 4xx fail
  at once; ``max_retries`` bounds the retries of one request;
* for ``http://`` endpoints the SDK's HTTP client runs on :mod:`perception_r1.llm.transport` (a lean
  keep-alive transport; ``http_transport: sdk`` switches back to the SDK default, ``http_transport: aiohttp`` to
  the SDK's aiohttp client; the transport module's docstring has the benchmark that decided the default);
* the API key is read from the environment variable ``api_key_env`` and kept only inside the ``openai`` client:
  it is never logged, never part of the cache, and never pickled; error texts are passed through
  :func:`perception_r1.redact.redact`, because a server may quote the key back (some gateways put the
  ``Authorization`` header in their 401 message).

The SDK's own retries are switched off so that every retry is ours (counted, jittered, bounded).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from typing import TYPE_CHECKING, Any

from perception_r1.llm.client import ChatRequest, ChatResult, ResultFn, now
from perception_r1.llm.config import LLMConfig, check_base_url
from perception_r1.redact import redact

if TYPE_CHECKING:
    import tenacity

_NO_KEY = "EMPTY"  # local servers (vLLM, llama.cpp) accept any key; the SDK insists on one


class _Retryable(Exception):
    """Internal: a failed attempt worth retrying, with an optional server-requested delay."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Fatal(Exception):
    """Internal: a failed attempt that retrying cannot fix (400, 401, 404, ...)."""


class OpenAIBackend:
    """OpenAI-compatible async backend (see module docstring).

    Args:
        cfg: The client configuration.
        rng: Random source of the backoff jitter (tests pass a seeded one).
    """

    name = "openai"

    def __init__(self, cfg: LLMConfig, rng: random.Random | None = None) -> None:
        check_base_url(cfg.base_url)  # the config may have been changed after construction
        self.cfg = cfg
        self._rng = rng or random.Random()
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None
        self.retries = 0  # cumulative retry count, for logs and benchmarks

    def __repr__(self) -> str:  # explicit so that no future attribute can leak the key through repr
        return f"OpenAIBackend(base_url={self.cfg.base_url!r}, model={self.cfg.model!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg, "_rng": self._rng, "retries": self.retries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client, self._loop, self._sem = None, None, None

    def _ensure_client(self) -> Any:
        """Create the SDK client on first use in the current event loop (its connection pool is bound to it)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import openai

            http_client = _http_client(self.cfg)
            self._client = openai.AsyncOpenAI(
                api_key=os.environ.get(self.cfg.api_key_env) or _NO_KEY,
                base_url=self.cfg.base_url,
                timeout=self.cfg.timeout_s,
                max_retries=0,
                http_client=http_client,
            )
            self._loop = loop
            self._sem = asyncio.Semaphore(self.cfg.max_concurrency)
        return self._client

    async def complete(self, requests: list[ChatRequest], on_result: ResultFn | None = None) -> list[ChatResult]:
        """Send all requests concurrently (at most ``max_concurrency`` in flight); one result each.

        ``on_result(index, result)`` is called as each request finishes (the client caches replies there).
        """
        self._ensure_client()

        async def one(index: int, request: ChatRequest) -> ChatResult:
            result = await self._one(request)
            if on_result is not None:
                on_result(index, result)
            return result

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    async def _one(self, request: ChatRequest) -> ChatResult:
        """One request with retries; the outcome (text or the last failure's reason) and the attempts made."""
        start = now()
        attempts = 1
        # The first attempt goes without tenacity: nearly every request succeeds at once, and a retry controller
        # for each one cost a sixth of the client's CPU (1,024 judge calls: 0.68 s against 0.56 s; see
        # benchmarks/bench_judge.py). A failed first attempt is handed to the controller as its own first outcome,
        # so the retry policy (waits, counts, limits) stays all tenacity's.
        try:
            text: str = await self._attempt(request)
            return ChatResult(text=text, latency_s=now() - start, attempts=attempts)
        except _Fatal as exc:
            return ChatResult(text=None, error=str(exc), latency_s=now() - start, attempts=attempts)
        except _Retryable as exc:
            first_failure: _Retryable | None = exc

        async def attempt() -> str:
            nonlocal attempts, first_failure
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            attempts += 1
            return await self._attempt(request)

        try:
            text = await self._retrying()(attempt)
        except (_Fatal, _Retryable) as exc:  # _Fatal at once, _Retryable once the attempts are spent
            return ChatResult(text=None, error=redact(str(exc)), latency_s=now() - start, attempts=attempts)
        return ChatResult(text=text, latency_s=now() - start, attempts=attempts)

    def _retrying(self) -> tenacity.AsyncRetrying:
        """tenacity's retry controller for one request: retry ``_Retryable`` up to ``max_retries`` times, with
        :meth:`backoff` between attempts; the last failure is re-raised (one controller per request: tenacity
        keeps per-call state on it)."""
        import tenacity

        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome is not None else None
            return self.backoff(state.attempt_number, getattr(failure, "retry_after", None))

        def count(state: tenacity.RetryCallState) -> None:
            self.retries += 1

        return tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self.cfg.max_retries + 1),
            wait=wait,
            before_sleep=count,
            reraise=True,
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): full jitter over an exponentially growing cap.

        Args:
            attempt: The failed attempt's number (1 for the first).
            retry_after: A server's ``Retry-After`` in seconds: the delay is at least that, up to ``backoff_max_s``.

        Returns:
            Seconds to wait.
        """
        cap = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2 ** (attempt - 1))
        delay = self._rng.uniform(0.0, cap)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cfg.backoff_max_s))
        return delay

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        temperature = self.cfg.temperature if request.temperature is None else request.temperature
        params: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": request.messages,
            "temperature": temperature,
            "max_tokens": request.max_tokens or self.cfg.max_tokens,
        }
        if request.json_schema is not None:
            if self.cfg.structured_output_type == "json_object":  # llama.cpp's older form
                params["response_format"] = {"type": "json_object", "schema": request.json_schema}
            else:
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": request.json_schema, "strict": True},
                }
        return params

    async def _attempt(self, request: ChatRequest) -> str:
        import openai

        client = self._ensure_client()
        assert self._sem is not None
        try:
            async with self._sem:
                # ``post`` is the SDK's documented raw-request path: the same client, auth, connection pool and
                # error types as ``chat.completions.create``, without re-validating our already well-formed
                # params and building pydantic models of the reply (about a third of the client's CPU per call).
                body = await _within(
                    client.post("/chat/completions", cast_to=object, body=self._params(request)), self.cfg.timeout_s
                )
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise _Retryable("timeout") from None
        except openai.APIConnectionError:
            raise _Retryable("connection error") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status == 429 or status == 408 or status >= 500:
                raise _Retryable(f"HTTP {status}", _retry_after(exc)) from None
            raise _Fatal(f"HTTP {status}: {_short(exc)}") from None
        except (openai.APIResponseValidationError, ValueError):
            # A 200 with a body that is not JSON (truncated by a proxy, ...).
            raise _Retryable("malformed reply") from None
        try:
            text = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _Retryable("malformed reply") from None
        if not isinstance(text, str):
            raise _Retryable("empty reply")
        return text

    async def aclose(self) -> None:
        """Close the HTTP connection pool (only from the loop that created it)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.close()


def _http_client(cfg: LLMConfig) -> Any:
    """The SDK's HTTP client for ``cfg.http_transport`` (None: the SDK's default httpx pool)."""
    if cfg.http_transport == "aiohttp":
        import openai

        return openai.DefaultAioHttpClient(timeout=cfg.timeout_s)
    if cfg.http_transport == "auto" and cfg.base_url.startswith("http://"):
        from perception_r1.llm.transport import lean_http_client

        return lean_http_client(cfg.timeout_s)
    return None


async def _within(coro: Any, timeout_s: float) -> Any:
    """Await ``coro`` with an overall deadline (``asyncio.timeout`` avoids wait_for's extra task per request)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout_s):
            return await coro
    return await asyncio.wait_for(coro, timeout_s)


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, ValueError):
        return None


def _short(exc: Any) -> str:
    """The server's error message, redacted, then shortened (redacting first: a cut must not split a key, leaving
    a piece that no longer matches)."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    return redact(str(message or type(exc).__name__))[:200]
