"""Greedy generation backends for evaluation, in a registry: ``transformers`` (CPU or one GPU, batched),
``vllm`` (offline engine, GPUs; :mod:`perception_r1.eval.vllm_backend`) and ``openai`` (any OpenAI-compatible
server, through the LLM client layer :mod:`perception_r1.llm`).

A generator is built as ``GENERATORS.get(name)(model=..., max_new_tokens=..., batch_size=..., **options)`` and
called as ``generate(requests) -> list[Generation]`` (one per request, in order; a failed request carries an
``error`` instead of text). Heavy libraries are imported when a generator is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perception_r1.registry import Registry
from perception_r1.special_tokens import neutralize, special_tokens

GENERATORS: Registry[Any] = Registry("generation backend")
GENERATORS.register("transformers", "perception_r1.eval.generation:TransformersGenerator")
GENERATORS.register("vllm", "perception_r1.eval.vllm_backend:VLLMGenerator")
GENERATORS.register("openai", "perception_r1.eval.generation:OpenAIGenerator")


@dataclass
class GenRequest:
    """One prompt: user text and its images (PIL, shown before the text)."""

    prompt: str
    images: list[Any] = field(default_factory=list)


@dataclass
class Generation:
    """A response text, or the reason there is none."""

    text: str | None
    error: str | None = None


def chat_messages(request: GenRequest, special: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One user turn in the processor chat-template format: image placeholders, then the text.

    Args:
        request: The prompt and its images.
        special: The processor's special tokens; in the text they are neutralised
            (:func:`perception_r1.special_tokens.neutralize`), so that a question quoting ``<|image_pad|>`` cannot
            change the image count the processor checks.
    """
    content: list[dict[str, Any]] = [{"type": "image"} for _ in request.images]
    content.append({"type": "text", "text": neutralize(request.prompt, special)})
    return [{"role": "user", "content": content}]


class TransformersGenerator:
    """Greedy batched generation with a transformers image-text-to-text model (e.g. Qwen2.5-VL).

    Args:
        model: Local model folder (or a hub id already in the local cache).
        max_new_tokens: Generation budget per response (the paper used 4,096).
        batch_size: Prompts per ``generate`` call (left padding).
        device: torch device; ``dtype``: ``"float32"``, ``"bfloat16"``, ... or ``"auto"``.
        threads: torch CPU threads (``None``: torch's default). On a shared CPU, 1 thread avoids OpenMP threads
            spinning against other processes (measured here: 10x faster under load).
    """

    name = "transformers"

    def __init__(
        self,
        model: str,
        max_new_tokens: int = 4096,
        batch_size: int = 8,
        device: str = "cpu",
        dtype: str = "auto",
        threads: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if threads is not None:
            torch.set_num_threads(threads)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.processor = AutoProcessor.from_pretrained(model)
        self.processor.tokenizer.padding_side = "left"  # decoder-only batching: pad on the left
        self.special = special_tokens(self.processor)
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        # transformers declares PreTrainedModel.to with @wraps(torch.nn.Module.to), which typeshed types unbound.
        loaded = AutoModelForImageTextToText.from_pretrained(model, dtype=torch_dtype)
        self.model = loaded.to(device).eval()  # type: ignore[arg-type]
        self.device = device

    def generate(self, requests: Sequence[GenRequest]) -> list[Generation]:
        """Greedy responses, one per request, in order."""
        out: list[Generation] = []
        for start in range(0, len(requests), self.batch_size):
            out.extend(self._batch(requests[start : start + self.batch_size]))
        return out

    def _batch(self, batch: Sequence[GenRequest]) -> list[Generation]:
        import torch

        texts = [
            self.processor.apply_chat_template(
                chat_messages(r, self.special), add_generation_prompt=True, tokenize=False
            )
            for r in batch
        ]
        images = [img for r in batch for img in r.images]  # flat, in placeholder order
        inputs = self.processor(text=texts, images=images or None, return_tensors="pt", padding=True).to(self.device)
        tok = self.processor.tokenizer
        with torch.inference_mode():
            ids = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        new = ids[:, inputs["input_ids"].shape[1] :]
        return [Generation(t.strip()) for t in tok.batch_decode(new, skip_special_tokens=True)]


class OpenAIGenerator:
    """Generation through an OpenAI-compatible server, using the project's LLM client (cache, retries).

    Args:
        model: Model name sent to the server.
        base_url: Server URL (``/v1``); the API key comes from the environment variable of
            :class:`perception_r1.llm.config.LLMConfig` (never from the command line).
        max_new_tokens: ``max_tokens`` per reply; temperature is 0 (greedy).
        batch_size: Unused (the runner's chunk is sent at once; the client caps concurrency).
        cache_path: SQLite reply cache: every reply is kept the moment it arrives, so a killed evaluation run again
            repeats only the requests in flight (the runner passes the evaluation folder's ``llm_cache.sqlite``).
        max_concurrency: Requests in flight at once.
    """

    name = "openai"
    default_chunk = 256  # requests per call: the client keeps max_concurrency of them in flight
    uses_llm_cache = True  # the runner gives it a cache_path in the evaluation folder

    def __init__(
        self,
        model: str,
        max_new_tokens: int = 4096,
        batch_size: int = 8,
        base_url: str = "http://127.0.0.1:8000/v1",
        cache_path: str | None = None,
        max_concurrency: int = 64,
    ) -> None:
        from perception_r1.llm.config import LLMConfig

        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.config = LLMConfig(
            backend="openai", base_url=base_url, model=model, temperature=0.0, max_tokens=max_new_tokens,
            cache_path=cache_path, max_concurrency=max_concurrency,
        )  # fmt: skip

    def generate(self, requests: Sequence[GenRequest]) -> list[Generation]:
        """Replies in order; a request that failed after the client's retries carries its error."""
        from perception_r1.llm.client import ChatRequest, sync_client

        with sync_client(self.config) as client:
            results = client.generate_sync([ChatRequest.user(r.prompt, r.images) for r in requests])
        return [Generation(res.text) if res.ok else Generation(None, f"generation: {res.error}") for res in results]
