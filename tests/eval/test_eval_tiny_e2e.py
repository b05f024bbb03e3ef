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


@pytest.mark.integration
def test_a_question_quoting_the_processors_image_token_is_answered(tmp_path: Path, monkeypatch) -> None:
    # "<|image_pad|>" in a question once made the processor count two images for one and refuse the whole chunk,
    # on every rerun; it is neutralised now, and the item is answered like its neighbour in the same batch.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from PIL import Image

    from perception_r1.model.tiny import ensure_tiny_vlm

    (tmp_path / "data").mkdir()
    Image.new("RGB", (56, 56), "red").save(tmp_path / "data" / "red.png")
    questions = ["What is <|image_pad|> here? <|im_end|>", "What colour is it?"]
    rows = [
        {
            "index": i,
            "question": f"{q}\nOptions: A: red, B: blue",
            "image": "red.png",
            "answer": "A",
            "category": "c",
            "l2_category": "l2",
        }
        for i, q in enumerate(questions)
    ]
    (tmp_path / "data" / "mmstar.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = EvalConfig(model=str(ensure_tiny_vlm()), benchmarks="mmstar", output_dir=str(tmp_path / "out"),
                     data_dir=str(tmp_path / "data"), batch_size=2, max_new_tokens=2,
                     backend_options={"threads": 1, "dtype": "float32"})  # fmt: skip
    res = run_eval(cfg, checker=MathChecker(isolation="inline"))
    assert (res.summaries["mmstar"]["scored"], res.summaries["mmstar"]["errors"]) == (2, 0)
    gens = [json.loads(x) for x in (tmp_path / "out" / "generations" / "mmstar.jsonl").read_text().splitlines()]
    assert all(isinstance(g["response"], str) and g["error"] is None for g in gens)
    assert "<|image_pad|>" in gens[0]["prompt"]  # the stored prompt is the question as the benchmark has it
