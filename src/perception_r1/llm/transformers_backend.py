"""``transformers`` LLM backend: in-process batched chat generation with a local model (no server needed).

The model and tokenizer are loaded on the first request (``cfg.model`` is a local directory or a model already
in the hub cache; ``cfg.gguf_file`` selects a GGUF file inside it). Prompts are rendered with the tokenizer's
chat template and generated in left-padded batches of ``cfg.batch_size`` on a worker thread, so the event loop
stays responsive; one lock serialises generation (one model, one device).

Structured output is not enforced here (no constrained decoding): the prompt still asks for the JSON format
and the caller's strict parser rejects anything else. Images in messages are not supported (text judge).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, cast

from perception_r1.llm.client import ChatRequest, ChatResult, ResultFn, now
from perception_r1.llm.config import LLMConfig
from perception_r1.redact import redact


class TransformersBackend:
    """Local ``AutoModelForCausalLM`` backend.

    Args:
        cfg: The client configuration (``model``, ``gguf_file``, ``device``, ``batch_size``, ``max_tokens``,
            ``temperature``).
    """

    name = "transformers"

    def __init__(self, cfg: LLMConfig) -> None:
        self.cfg = cfg
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict[str, Any]) -> None:
        TransformersBackend.__init__(self, state["cfg"])

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"gguf_file": self.cfg.gguf_file} if self.cfg.gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(self.cfg.model, **kwargs)
        tokenizer.padding_side = "left"  # decoder-only batched generation continues from the right edge
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.cfg.model, dtype=torch.float32, **kwargs)
        # transformers declares PreTrainedModel.to with @wraps(torch.nn.Module.to), which typeshed types unbound.
        model.to(self.cfg.device).eval()  # type: ignore[arg-type]
        self._tokenizer, self._model = tokenizer, model

    def _prompt(self, request: ChatRequest) -> str:
        messages = []
        for message in request.messages:
            content = message.get("content", "")
            if isinstance(content, list):
                if any(p.get("type") != "text" for p in content if isinstance(p, dict)):
                    raise ValueError("the transformers backend is text-only; the request holds an image")
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            messages.append({"role": message["role"], "content": content})
        return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _generate_batch(self, requests: list[ChatRequest]) -> list[str]:
        import torch

        prompts = [self._prompt(r) for r in requests]
        temperature = self.cfg.temperature if requests[0].temperature is None else requests[0].temperature
        max_new = max(r.max_tokens or self.cfg.max_tokens for r in requests)
        inputs = self._tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = inputs.to(self.cfg.device)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            output = self._model.generate(
                **inputs, max_new_tokens=max_new, pad_token_id=self._tokenizer.pad_token_id, **sampling
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self._tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def _complete_sync(self, requests: list[ChatRequest], on_result: ResultFn | None = None) -> list[ChatResult]:
        results: list[ChatResult | None] = [None] * len(requests)
        # A batch is sampled with one temperature: group requests by theirs (order kept within a group).
        groups: dict[float, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(self.cfg.temperature if r.temperature is None else r.temperature, []).append(i)
        with self._lock:
            try:
                self._load()
            except (OSError, ValueError, RuntimeError, ImportError) as exc:  # report, never raise (backend contract)
                reason = f"model load failed: {type(exc).__name__}: {redact(str(exc))[:300]}"
                return [ChatResult(text=None, error=reason, attempts=1) for _ in requests]
            size = max(1, self.cfg.batch_size)
            for indices in groups.values():
                for start_at in range(0, len(indices), size):
                    batch = indices[start_at : start_at + size]
                    start = now()
                    texts: Sequence[str | None]
                    error: str | None = None
                    try:
                        texts = self._generate_batch([requests[i] for i in batch])
                    except (RuntimeError, ValueError) as exc:  # OOM, bad input: fail this batch, keep going
                        error = f"generation failed: {type(exc).__name__}: {redact(str(exc))[:200]}"
                        texts = [None] * len(batch)
                    elapsed = now() - start
                    for i, text in zip(batch, texts, strict=True):
                        results[i] = result = ChatResult(text=text, error=error, latency_s=elapsed, attempts=1)
                        if on_result is not None:  # cached per generation batch, not when all are done
                            on_result(i, result)
        return cast(list[ChatResult], results)  # every index belongs to exactly one group

    async def complete(self, requests: list[ChatRequest], on_result: ResultFn | None = None) -> list[ChatResult]:
        """Generate replies in batches on a worker thread (``on_result`` is called after each batch)."""
        if not requests:
            return []
        return await asyncio.to_thread(self._complete_sync, list(requests), on_result)

    async def aclose(self) -> None:
        """Drop the model (memory is freed when no other reference remains)."""
        self._model, self._tokenizer = None, None
