"""Typed configuration of an LLM client (judge, teacher, evaluator): backend, endpoint, limits, cache."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from perception_r1.config import option
from perception_r1.redact import register_secret_env

HTTP_TRANSPORTS = ("auto", "sdk", "aiohttp")


C = TypeVar("C", bound="LLMConfig")


@dataclass
class LLMConfig:
    """How to reach a chat LLM and how hard to try.

    The API key is never part of the config: ``api_key_env`` names the environment variable that holds it.
    """

    backend: str = option(
        "openai", "LLM backend: openai (any OpenAI-compatible endpoint) or transformers (in-process)"
    )
    base_url: str = option("http://127.0.0.1:8000/v1", "OpenAI-compatible base URL (openai backend)")
    model: str = option("default", "model name sent to the server, or a local path/hub-cache id (transformers)")
    api_key_env: str = option("PERCEPTION_R1_LLM_API_KEY", "environment variable holding the API key (never logged)")
    max_concurrency: int = option(64, "maximum requests in flight at once")
    timeout_s: float = option(60.0, "per-request timeout in seconds")
    max_retries: int = option(3, "retries of a request after a timeout, connection error, 429 or 5xx")
    backoff_base_s: float = option(0.5, "first retry delay; doubles per retry, with full jitter")
    backoff_max_s: float = option(8.0, "cap of the retry delay")
    cache_path: str | None = option(None, "SQLite file caching accepted replies across runs (None: no cache)")
    temperature: float = option(0.0, "sampling temperature")
    max_tokens: int = option(512, "maximum tokens generated per reply")
    gguf_file: str | None = option(None, "transformers backend: GGUF file name inside the `model` directory")
    device: str = option("cpu", "transformers backend: torch device")
    batch_size: int = option(8, "transformers backend: prompts generated together")
    http_transport: str = option(
        "auto",
        "openai backend HTTP layer: auto (lean keep-alive transport for http://, SDK default for https://), sdk "
        "(the SDK's default httpx pool) or aiohttp (the SDK's aiohttp client; needs the aiohttp package)",
    )
    structured_output_type: str = option(
        "json_schema", "response_format type for structured output: json_schema (OpenAI, vLLM, SGLang) or json_object"
    )

    def with_default_cache(self: C, path: str | Path) -> C:
        """This config, or a copy caching at ``path`` when no ``cache_path`` is set: a job's replies are kept as
        they arrive in its own output folder, so a killed job run again asks only the calls that were in flight."""
        return self if self.cache_path else dataclasses.replace(self, cache_path=str(path))

    def __post_init__(self) -> None:
        register_secret_env(self.api_key_env)  # its value is redacted from every error text (perception_r1.redact)
        if self.backend == "openai":
            check_base_url(self.base_url)
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.http_transport not in HTTP_TRANSPORTS:
            known = ", ".join(HTTP_TRANSPORTS)
            raise ValueError(f"http_transport must be one of {known}, got {self.http_transport!r}")
        if self.structured_output_type not in ("json_schema", "json_object"):
            raise ValueError(
                f"structured_output_type must be json_schema or json_object, got {self.structured_output_type!r}"
            )


def check_base_url(url: str) -> None:
    """Raise ``ValueError`` naming the problem unless ``url`` is an http(s) URL with a host and a valid port."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port outside 0-65535 or a non-numeric one
    except ValueError as exc:
        raise ValueError(f"base_url {url!r}: {exc} (ports are 1-65535)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url {url!r}: expected http://HOST:PORT/v1 or https://HOST/v1")
    if port == 0:
        raise ValueError(f"base_url {url!r}: port 0 is not a server port (ports are 1-65535)")
