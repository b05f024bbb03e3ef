"""vLLM offline-engine generation (GPUs). Imported only when the ``vllm`` backend is chosen.

Prompts are rendered with the model's own processor chat template (as the transformers backend does) and the
images are passed as ``multi_modal_data``, so both backends see the same prompt text. Decoding is greedy.

Throughput: vLLM schedules its own batches (continuous batching), so every prompt the runner hands over goes to
the engine in one ``generate`` call. The runner hands over :attr:`VLLMGenerator.default_chunk` prompts per call
(``--chunk-size``; 0 for the whole benchmark at once), saving the generations after each call, so a GPU evaluation
is not held back by Python-side batching and a killed run loses at most one chunk.

GPUs: ``tensor_parallel_size`` splits one model replica over several GPUs (needed only when the model does not fit
on one; a 7B model fits on one 80 GB GPU). For data parallelism run one process per GPU over shards of the
benchmarks and merge them (``--shard I/N`` and ``perception-r1 eval merge``, :mod:`perception_r1.eval.shards`), or
serve the model with ``vllm serve MODEL --data-parallel-size N`` and evaluate with ``--backend openai``
(docs/evaluation.md). Any other ``vllm.LLM`` engine argument passes through ``--backend-opt KEY=VALUE``.

Not exercised on a GPU in CI (vLLM not installed): the tests run it against a stand-in ``vllm`` module; install
with ``pip install perception-r1[vllm]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perception_r1.eval.generation import Generation, GenRequest, chat_messages
from perception_r1.special_tokens import special_tokens


class VLLMGenerator:
    """Greedy generation with ``vllm.LLM``.

    Args:
        model: Local model folder or hub id.
        max_new_tokens: Generation budget per response.
        batch_size: Unused: the engine schedules its own batches over all prompts of a call (kept for the
            common generator signature).
        tensor_parallel_size: GPUs per model replica.
        max_images: Most images in one prompt (vLLM's ``limit_mm_per_prompt``; MMMU has up to 7).
        gpu_memory_utilization: Fraction of GPU memory vLLM may take.
        max_model_len: Context length (prompt + response).
        engine_options: Further ``vllm.LLM`` keyword arguments (``enforce_eager``, ``max_num_seqs``, ...).
    """

    name = "vllm"
    default_chunk = 1024  # prompts per call when the run does not set chunk_size: enough to keep the GPUs busy

    def __init__(
        self,
        model: str,
        max_new_tokens: int = 4096,
        batch_size: int = 256,
        tensor_parallel_size: int = 1,
        max_images: int = 8,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int = 16384,
        **engine_options: Any,
    ) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise ImportError("the vllm backend needs vLLM: pip install 'perception-r1[vllm]'") from exc
        from transformers import AutoProcessor

        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.processor = AutoProcessor.from_pretrained(model)
        self.special = special_tokens(self.processor)
        self.llm = LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            limit_mm_per_prompt={"image": max_images},
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            **engine_options,
        )
        self.sampling = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)

    def generate(self, requests: Sequence[GenRequest]) -> list[Generation]:
        """Greedy responses in order, all ``requests`` in one engine call; vLLM keeps the input order."""
        inputs: list[dict[str, Any]] = []
        for r in requests:
            messages = chat_messages(r, self.special)
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            entry: dict[str, Any] = {"prompt": text}
            if r.images:
                entry["multi_modal_data"] = {"image": r.images}
            inputs.append(entry)
        outputs = self.llm.generate(inputs, self.sampling, use_tqdm=False)
        return [Generation(o.outputs[0].text.strip()) for o in outputs]
