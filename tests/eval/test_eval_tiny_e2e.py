"""End-to-end CPU evaluation of the embedded tiny Qwen2.5-VL (SmolLM2 weights) on the benchmark fixtures.

The tiny model's answers are not expected to be right; the test checks the real generation path: chat template,
images through the processor (one and two images per prompt), batched greedy decoding, stored generations,
scoring, error items, reports, and that a rerun loads no model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.eval import generation
from perception_r1.eval.runner import EvalConfig, run_eval
from perception_r1.rewards.mathcheck import MathChecker

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"


@pytest.mark.integration
def test_tiny_model_eval_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perception_r1.model.tiny import ensure_tiny_vlm

    model = str(ensure_tiny_vlm())  # built once into the cache (no hub access)
    cfg = EvalConfig(
        model=model,
        model_name="tiny",
        benchmarks="mathvista,mmmu",
        output_dir=str(tmp_path),
        data_dir=str(FIXTURES),
        batch_size=4,
        max_new_tokens=4,
        # one thread: on a shared CPU OpenMP threads spinning against other processes cost ~10x
        backend_options={"threads": 1, "dtype": "float32"},
    )
    res = run_eval(cfg, checker=MathChecker(isolation="inline"))
    mv, mmmu = res.summaries["mathvista"], res.summaries["mmmu"]
    assert (mv["n_items"], mv["scored"], mv["errors"]) == (6, 5, 1)  # broken image: an error, not a wrong answer
    assert (mmmu["n_items"], mmmu["scored"], mmmu["errors"]) == (2, 2, 0)  # includes a two-image prompt
    gens = [json.loads(x) for x in (tmp_path / "generations" / "mmmu.jsonl").read_text().splitlines()]
    assert all(isinstance(g["response"], str) and g["error"] is None for g in gens)
    assert "| tiny |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "chart.png").stat().st_size > 0

    # Rerun: everything is cached (the broken image fails again before any model is needed), so no model loads.
    def refuse(**kwargs):
        raise AssertionError("a cached rerun must not load the model")

    monkeypatch.setattr(generation.GENERATORS, "get", lambda name: refuse)
    again = run_eval(cfg, checker=MathChecker(isolation="inline"))
    assert again.summaries["mathvista"] == mv
