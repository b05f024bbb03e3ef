"""LLM client layer: requests/results, the backend registry, and the caching, de-duplicating client.

A backend turns a list of :class:`ChatRequest` into one :class:`ChatResult` each and never raises for a failed
request: the failure is reported in ``ChatResult.error``. :class:`LLMClient` wraps a backend with

* de-duplication: identical requests within a batch are sent once;
* the persistent cache (:mod:`perception_r1.llm.cache`): only *accepted* replies are served from it, so a reply
  that the caller rejected (e.g. malformed judge verdicts) is never served again;
* re-asking on rejected replies (``accept`` callback, ``invalid_retries`` rounds).

Every finished call is durable the moment its reply arrives, before the rest of the batch: an accepted reply is
cached, a rejected one is recorded as a spent round. A run that was killed (or interrupted) and is run again
therefore repeats only the calls that were in flight: it serves the accepted replies and resumes each rejected
request at its next round (a request whose rounds were all spent stays rejected without a new call; raise
``invalid_retries`` to give it more). A recorded rejection that the current ``accept`` would accept (the
validator changed) is ignored and the request asked afresh.

Backends are registered in :data:`LLM_BACKENDS` (lazy ``"module:attr"`` targets): ``openai`` and
``transformers``. Clients are bound to the event loop they are first used on (the HTTP connection pool is).

Two ways in, and only two: async code awaits :meth:`LLMClient.agenerate` / ``aclose``; sync code (CLI commands,
evaluation, analysis, curation, rewards) calls :meth:`LLMClient.generate_sync` / ``close_sync``, or uses
:func:`sync_client`, which run on the process-wide loop of :func:`perception_r1.llm.loop.run_sync`. Use a given
client one way only (its connection pool belongs to the loop it first ran on).

Example:
    >>> from perception_r1.llm.config import LLMConfig
    >>> with sync_client(LLMConfig(base_url="http://127.0.0.1:8000/v1")) as client:  # doctest: +SKIP
    ...     results = client.generate_sync([ChatRequest.user("hi")])
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import mimetypes
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from perception_r1.llm.config import LLMConfig
from perception_r1.registry import Registry

# Returns None to accept a reply text, or a short reason to reject it (the request is then asked again).
AcceptFn = Callable[["ChatRequest", str], "str | None"]
# Called with (index in the batch, result) as soon as one request of a batch has its result.
ResultFn = Callable[[int, "ChatResult"], None]


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request.

    Args:
        messages: OpenAI-style chat messages (content may be a list of text/image_url parts).
        json_schema: Constrain the reply to this JSON schema (structured output), or None.
        prompt_version: Version tag of the prompt template; part of the cache key.
        temperature: Overrides the client's configured temperature when not None.
        max_tokens: Overrides the client's configured max_tokens when not None.
    """

    messages: list[dict[str, Any]]
    json_schema: dict[str, Any] | None = None
    prompt_version: str = ""
    temperature: float | None = None
    max_tokens: int | None = None

    @classmethod
    def user(cls, text: str, images: Sequence[Any] = (), **kwargs: Any) -> ChatRequest:
        """A single user turn with optional images (sent as base64 data URLs)."""
        return cls(messages=[user_message(text, images)], **kwargs)

    def cache_key(self, namespace: str) -> str:
        """SHA-256 over the namespace (backend + model) and every field that can change the reply."""
        payload = json.dumps(
            [namespace, self.prompt_version, self.messages, self.json_schema, self.temperature, self.max_tokens],
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChatResult:
    """Outcome of one request.

    Attributes:
        text: Reply text (also kept for a rejected reply, for debugging); None when no reply arrived.
        error: None on success, else a short reason ("timeout", "HTTP 500", "rejected: ...").
        latency_s: Wall time from the first attempt to the final outcome.
        attempts: HTTP (or generation) attempts made, over all rounds.
        cached: Served from the persistent cache.
    """

    text: str | None
    error: str | None = None
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False

    @property
    def ok(self) -> bool:
        """A reply arrived and was accepted."""
        return self.error is None and self.text is not None


class Backend(Protocol):
    """What :class:`LLMClient` needs from a backend."""

    name: str

    async def complete(self, requests: list[ChatRequest], on_result: ResultFn | None = None) -> list[ChatResult]:
        """One result per request, in order; failures are reported, never raised.

        ``on_result(index, result)``, when given, is called as each result arrives (possibly from a worker
        thread), so that the client can cache every reply at once instead of when the whole list is done.
        """
        ...

    async def aclose(self) -> None:
        """Release connections / models."""
        ...


LLM_BACKENDS: Registry[Any] = Registry("LLM backend")
LLM_BACKENDS.register("openai", "perception_r1.llm.openai_backend:OpenAIBackend")
LLM_BACKENDS.register("transformers", "perception_r1.llm.transformers_backend:TransformersBackend")


@dataclass
class ClientStats:
    """Cumulative counters of an :class:`LLMClient` (for logs and benchmark summaries)."""

    requests: int = 0
    unique: int = 0
    cache_hits: int = 0
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class LLMClient:
    """Backend + de-duplication + persistent cache + re-asking on rejected replies.

    Args:
        backend: A backend instance (see :data:`LLM_BACKENDS`).
        cache: An opened :class:`perception_r1.llm.cache.ResponseCache`, or None.
        namespace: Cache namespace, normally ``"<backend>|<model>"``.
    """

    def __init__(self, backend: Backend, cache: Any = None, namespace: str = "") -> None:
        self.backend = backend
        self.cache = cache
        self.namespace = namespace or backend.name
        self.stats = ClientStats()

    async def agenerate(
        self,
        requests: Sequence[ChatRequest],
        accept: AcceptFn | None = None,
        invalid_retries: int = 0,
        retry_temperature: float | None = None,
    ) -> list[ChatResult]:
        """Answer ``requests`` (one result each, in order).

        Args:
            requests: The requests; identical ones are sent once and share the result.
            accept: Validates a reply text: None accepts it, a string rejects it with that reason.
            invalid_retries: How many more times a rejected request is asked.
            retry_temperature: Temperature of the re-asks (a deterministic server would repeat itself at 0).

        Returns:
            One :class:`ChatResult` per request; a request rejected every time has ``error="rejected: ..."``.
        """
        keys = [r.cache_key(self.namespace) for r in requests]
        unique = dict(zip(keys, requests, strict=True))
        self.stats.requests += len(keys)
        self.stats.unique += len(unique)
        results: dict[str, ChatResult] = {}
        spent: dict[str, int] = {}  # rounds already asked and rejected, per key (also in earlier runs)
        if self.cache is not None:
            for key, text in self.cache.get_many(list(unique)).items():
                results[key] = ChatResult(text=text, cached=True)
            self.stats.cache_hits += len(results)
            self._resume_rejected(unique, results, spent, accept, invalid_retries)
        pending = [k for k in unique if k not in results]
        while pending:
            batch = [unique[k] for k in pending]
            if retry_temperature is not None:
                batch = [
                    dataclasses.replace(r, temperature=retry_temperature) if spent.get(k) else r
                    for k, r in zip(pending, batch, strict=True)
                ]
            self.stats.sent += len(batch)
            replies, reasons = await self._complete(batch, pending, accept, spent)
            again = []
            for key, reply in zip(pending, replies, strict=True):
                reply = _merge(results.get(key), reply)
                results[key] = reply
                reason = reasons.get(key)
                if not reply.ok or reason is None:
                    continue
                self.stats.rejected += 1
                results[key] = dataclasses.replace(reply, error=f"rejected: {reason}")
                spent[key] = spent.get(key, 0) + 1
                if spent[key] <= invalid_retries:
                    again.append(key)
            pending = again
        self.stats.failed += sum(1 for k in unique if not results[k].ok)
        return [results[k] for k in keys]

    def _resume_rejected(
        self,
        unique: dict[str, ChatRequest],
        results: dict[str, ChatResult],
        spent: dict[str, int],
        accept: AcceptFn | None,
        invalid_retries: int,
    ) -> None:
        """Count the rounds that earlier runs spent on rejected replies (``spent``); a request with no round left
        gets its last rejected reply as its result, without a call."""
        if accept is None:  # nothing can be rejected now: every recorded rejection is stale
            return
        assert self.cache is not None
        for key, rounds in self.cache.get_rejected([k for k in unique if k not in results]).items():
            reasons = [accept(unique[key], text) for text, _ in rounds]
            if any(reason is None for reason in reasons):
                continue  # the validator changed and accepts one of them now: ask afresh
            spent[key] = len(rounds)
            if len(rounds) > invalid_retries:
                results[key] = ChatResult(text=rounds[-1][0], error=f"rejected: {reasons[-1]}", cached=True)
                self.stats.rejected += 1

    async def _complete(
        self, batch: list[ChatRequest], keys: list[str], accept: AcceptFn | None, spent: dict[str, int]
    ) -> tuple[list[ChatResult], dict[str, str]]:
        """``backend.complete``, with each reply judged by ``accept`` and made durable the moment it arrives.

        An accepted reply is cached, a rejected one recorded with its round, so a killed or interrupted run repeats
        at most the requests that were in flight, not a whole batch.

        Returns:
            The results, and the rejection reason of each key whose reply was rejected.
        """
        reasons: dict[str, str] = {}
        cache = self.cache

        def on_result(index: int, result: ChatResult) -> None:
            if not result.ok:
                return
            key, text = keys[index], result.text or ""
            reason = accept(batch[index], text) if accept is not None else None
            if reason is not None:
                reasons[key] = reason
            if cache is None:
                return
            if reason is None:
                cache.put_many({key: text})
            else:
                cache.put_rejected(key, spent.get(key, 0), text, reason)

        if _takes_on_result(self.backend):
            return await self.backend.complete(batch, on_result=on_result), reasons
        results = await self.backend.complete(batch)
        for index, result in enumerate(results):
            on_result(index, result)
        return results, reasons

    async def aclose(self) -> None:
        """Close the backend (and the cache)."""
        await self.backend.aclose()
        if self.cache is not None:
            self.cache.close()

    def generate_sync(
        self,
        requests: Sequence[ChatRequest],
        accept: AcceptFn | None = None,
        invalid_retries: int = 0,
        retry_temperature: float | None = None,
    ) -> list[ChatResult]:
        """Blocking :meth:`agenerate` on the shared loop (:func:`perception_r1.llm.loop.run_sync`).

        The one way for synchronous code to send requests; callable from any thread and from inside a running
        event loop. Arguments and result are those of :meth:`agenerate`.
        """
        from perception_r1.llm.loop import run_sync

        return run_sync(self.agenerate(requests, accept, invalid_retries, retry_temperature))

    def close_sync(self) -> None:
        """Blocking :meth:`aclose` on the shared loop (closes the connections opened by :meth:`generate_sync`)."""
        from perception_r1.llm.loop import run_sync

        run_sync(self.aclose())


def _takes_on_result(backend: Any) -> bool:
    """Whether a backend's ``complete`` accepts ``on_result`` (third-party backends may predate it)."""
    import inspect

    try:
        return "on_result" in inspect.signature(backend.complete).parameters
    except (TypeError, ValueError):
        return False


def _merge(previous: ChatResult | None, new: ChatResult) -> ChatResult:
    """Fold an earlier round into the new result so attempts and latency cover every round."""
    if previous is None:
        return new
    return dataclasses.replace(
        new, attempts=previous.attempts + new.attempts, latency_s=previous.latency_s + new.latency_s
    )


def build_client(cfg: LLMConfig) -> LLMClient:
    """Build the configured backend, wrapped with the cache when ``cfg.cache_path`` is set.

    Nothing connects or loads until the first request.
    """
    backend = LLM_BACKENDS.get(cfg.backend)(cfg)
    cache = None
    if cfg.cache_path:
        from perception_r1.llm.cache import ResponseCache

        cache = ResponseCache(cfg.cache_path)
    return LLMClient(backend, cache, namespace=f"{cfg.backend}|{cfg.model}")


@contextmanager
def sync_client(cfg: LLMConfig) -> Iterator[LLMClient]:
    """A client for synchronous use (:meth:`LLMClient.generate_sync`), closed when the block ends.

    Args:
        cfg: The client configuration.

    Yields:
        The client (nothing connects before the first request).
    """
    client = build_client(cfg)
    try:
        yield client
    finally:
        client.close_sync()


# --------------------------------------------------------------------------- images
def image_data_url(image: Any) -> str:
    """Encode an image as a ``data:`` URL.

    Args:
        image: A PIL image (sent as PNG), raw bytes (PNG assumed unless JPEG magic), or a file path.

    Returns:
        ``data:<mime>;base64,<...>``.
    """
    if isinstance(image, (str, Path)):
        path = Path(image)
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    if isinstance(image, (bytes, bytearray)):
        mime = "image/jpeg" if bytes(image[:3]) == b"\xff\xd8\xff" else "image/png"
        return f"data:{mime};base64,{base64.b64encode(bytes(image)).decode('ascii')}"
    if hasattr(image, "save"):  # PIL.Image without importing PIL here
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"
    raise TypeError(f"cannot encode an image of type {type(image).__name__}")


def user_message(text: str, images: Sequence[Any] = ()) -> dict[str, Any]:
    """A user message; with images, a list of ``image_url`` parts (data URLs) followed by the text."""
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": image_data_url(i)}} for i in images]
    parts.append({"type": "text", "text": text})
    return {"role": "user", "content": parts}


def now() -> float:
    """Monotonic clock used for latencies."""
    return time.perf_counter()
