"""The vllm evaluation backend against a stand-in ``vllm`` module (no GPU here): the whole chunk reaches the
engine in one call, in order, with its images and engine options."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from perception_r1.eval.benchmarks import get_benchmark
from perception_r1.eval.data import iter_items
from perception_r1.eval.prompts import build_prompt
from perception_r1.eval.runner import EvalConfig, run_eval
from perception_r1.rewards.mathcheck import MathChecker

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"


def _answers() -> dict[str, str]:
    """prompt -> a right answer in the project's format, for the MathVista fixture items."""
    out = {}
    for item in iter_items(get_benchmark("mathvista"), FIXTURES):
        letter = next((k for k, v in item.choices.items() if v == item.gold), item.gold)
        out[build_prompt(item)] = f"<think>\nlook\n</think>\n<answer>\n\\boxed{{{letter}}}\n</answer>"
    return out


@pytest.fixture
def engine(monkeypatch):
    """A stand-in ``vllm`` (LLM, SamplingParams) and ``transformers.AutoProcessor``; returns the call log."""
    log: dict = {"engine": None, "calls": []}
    answers = _answers()

    class LLM:
        def __init__(self, **kwargs):
            log["engine"] = kwargs

        def generate(self, inputs, sampling, use_tqdm=True):
            log["calls"].append([(i["prompt"], len(i.get("multi_modal_data", {}).get("image", []))) for i in inputs])
            log["sampling"] = sampling
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=answers[i["prompt"]])]) for i in inputs]

    class SamplingParams:
        def __init__(self, temperature, max_tokens):
            self.temperature, self.max_tokens = temperature, max_tokens

    class Processor:
        def apply_chat_template(self, messages, add_generation_prompt, tokenize):
            assert add_generation_prompt and not tokenize
            return messages[-1]["content"][-1]["text"]  # the user text: what the stand-in engine answers from

    processor_module = types.SimpleNamespace(
        AutoProcessor=types.SimpleNamespace(from_pretrained=lambda model: Processor())
    )
    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    monkeypatch.setitem(sys.modules, "transformers", processor_module)
    return log


@pytest.mark.parametrize(
    ("chunk_size", "calls"),
    [
        (None, [6]),  # default: up to 1,024 prompts per engine call, so the whole (6-item) benchmark goes at once
        (0, [6]),  # 0: the whole benchmark in one call, whatever its size
        (4, [4, 2]),  # a smaller chunk: two calls, generations saved after each
    ],
)
def test_vllm_gets_the_whole_chunk_in_one_call(engine, tmp_path, chunk_size, calls) -> None:
    # The 6th fixture item's image is broken: it becomes an error item and is never sent.
    cfg = EvalConfig(
        model="some/model", backend="vllm", benchmarks="mathvista", output_dir=str(tmp_path), data_dir=str(FIXTURES),
        chunk_size=chunk_size, scoring="corrected", max_new_tokens=77,
        backend_options={"tensor_parallel_size": 2, "enforce_eager": True},
    )  # fmt: skip
    result = run_eval(cfg, checker=MathChecker(isolation="inline"))
    sent = [len(c) for c in engine["calls"]]
    assert sent == [n - (1 if i == len(calls) - 1 else 0) for i, n in enumerate(calls)]  # less the broken image
    prompts = [p for call in engine["calls"] for p, _ in call]
    assert prompts == [build_prompt(i) for i in iter_items(get_benchmark("mathvista"), FIXTURES)][:5]  # in order
    assert all(n_images == 1 for call in engine["calls"] for _, n_images in call)  # images go with their prompt
    assert engine["engine"]["tensor_parallel_size"] == 2 and engine["engine"]["enforce_eager"] is True
    assert (engine["sampling"].temperature, engine["sampling"].max_tokens) == (0.0, 77)  # greedy, the budget
    assert result.summaries["mathvista"]["overall"] == 100.0  # the 5 generated items, all right
    stored = (tmp_path / "generations" / "mathvista.jsonl").read_text().splitlines()
    assert len(stored) == 6 and sum(json.loads(r)["response"] is not None for r in stored) == 5


@pytest.mark.parametrize(
    ("backend", "batch_size", "chunk_size", "n_items", "expected"),
    [
        ("vllm", 8, None, 3940, 1024),  # vLLM: large calls by default, not 4 x --batch-size (32)
        ("vllm", 8, 0, 3940, 3940),  # 0: the whole benchmark in one call
        ("vllm", 8, 0, 0, 1),  # an empty benchmark still gives a valid chunk
        ("openai", 8, None, 3940, 256),  # the LLM client keeps max_concurrency requests in flight
        ("transformers", 8, None, 3940, 32),  # in-process batches: four forward batches per save
        ("transformers", 8, 50, 3940, 50),  # an explicit chunk wins
    ],
)
def test_generation_chunk(backend, batch_size, chunk_size, n_items, expected) -> None:
    from perception_r1.eval.runner import generation_chunk

    cfg = EvalConfig(model="m", backend=backend, batch_size=batch_size, chunk_size=chunk_size)
    assert generation_chunk(cfg, n_items) == expected
