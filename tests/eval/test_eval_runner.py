"""Runner: outputs, error items, resumability, settings check, rescoring and reports (scripted generator).

The scripted generator answers from a prompt -> response table built from the fixtures, so scores are known in
advance; the real model path is covered by test_eval_tiny_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.eval.benchmarks import get_benchmark
from perception_r1.eval.data import iter_items
from perception_r1.eval.generation import Generation
from perception_r1.eval.prompts import build_prompt
from perception_r1.eval.report import PAPER_TABLE1, markdown_table, write_reports
from perception_r1.eval.runner import EvalConfig, load_generations, rescore, run_eval
from perception_r1.rewards.mathcheck import MathChecker

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"
CHECKER = MathChecker(isolation="inline")
BENCHES = "mathvista,wemath,mmmu_pro"


def _right_answer(item) -> str:
    if item.benchmark == "mathvista" and item.choices:
        letter = next(k for k, v in item.choices.items() if v == item.gold)
        return f"<think>\nlook\n</think>\n<answer>\n\\boxed{{{letter}}}\n</answer>"
    return f"<think>\nlook\n</think>\n<answer>\n\\boxed{{{item.gold}}}\n</answer>"


def _table(benches: str = BENCHES, wrong: set[str] = frozenset()) -> dict[str, str]:
    """prompt -> response; items whose id is in ``wrong`` get a wrong answer."""
    out = {}
    for name in benches.split(","):
        for item in iter_items(get_benchmark(name), FIXTURES):
            out[build_prompt(item)] = "<answer>\n\\boxed{999}\n</answer>" if item.id in wrong else _right_answer(item)
    return out


class Scripted:
    """A generator answering from a table; records what it was asked; optionally fails after ``fail_after``."""

    def __init__(self, table: dict[str, str], fail_after: int | None = None, errors: set[str] = frozenset()):
        self.table, self.fail_after, self.errors = table, fail_after, errors
        self.prompts: list[str] = []

    def generate(self, requests):
        out = []
        for r in requests:
            if self.fail_after is not None and len(self.prompts) >= self.fail_after:
                raise RuntimeError("simulated crash")
            self.prompts.append(r.prompt)
            assert all(img.size == (112, 112) for img in r.images)  # decoded images arrive with the prompt
            err = next((e for e in self.errors if e in r.prompt), None)
            out.append(Generation(None, f"generation: {err}") if err else Generation(self.table[r.prompt]))
        return out


class MustNotGenerate:
    def generate(self, requests):
        raise AssertionError(f"asked to generate {len(requests)} items that should be cached")


def _cfg(out: Path, **kw) -> EvalConfig:
    kw.setdefault("benchmarks", BENCHES)
    # The scripted answers use the project's <answer>/\boxed{} format, which the corrected scorers read; the
    # official scorers (the default) are tested below with answers in each benchmark's own format.
    kw.setdefault("scoring", "corrected")
    return EvalConfig(model="scripted", output_dir=str(out), data_dir=str(FIXTURES), **kw)


def _records(out: Path, bench: str) -> dict[str, dict]:
    lines = (out / "items" / f"{bench}.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def test_run_outputs_scores_and_error_items(tmp_path: Path) -> None:
    gen = Scripted(_table())
    res = run_eval(_cfg(tmp_path), checker=CHECKER, generator=gen)
    mv = res.summaries["mathvista"]
    # 6 items: 5 answered right, the broken image recorded as an error (not wrong, not dropped)
    assert (mv["n_items"], mv["scored"], mv["errors"], mv["overall"]) == (6, 5, 1, 100.0)
    assert not any("Broken image item" in p for p in gen.prompts)  # never sent to the model
    broken = _records(tmp_path, "mathvista")["6"]
    assert broken["error"].startswith("image: cannot load image") and broken["correct"] is None
    rec = _records(tmp_path, "mathvista")["1"]
    assert set(rec) >= {"id", "benchmark", "prompt", "response", "extracted", "gold", "correct", "metadata"}
    assert (rec["extracted"], rec["gold"], rec["correct"], rec["graded_by"]) == ("B", "4", True, "rule")
    wm = res.summaries["wemath"]
    assert (wm["four_dim"]["n_problems"], wm["score_strict"], wm["score_loose"]) == (2, 100.0, 100.0)
    assert res.summaries["mmmu_pro"]["settings"] == {"standard-10": 100.0, "vision": 100.0}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model_name"] == "scripted" and set(summary["benchmarks"]) == set(BENCHES.split(","))
    # a fixture run covers a few items of each benchmark: every cell says so
    assert (
        "| scripted | 100.0 (6 of 1,000 items) | 100.0 (7 of 1,740 items) | 100.0 (2 of 3,460 items) |"
        in (tmp_path / "table.md").read_text()
    )
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    details = (tmp_path / "breakdowns.md").read_text()
    assert "| strict | 0.0 | 0.0 | 100.0 | 0.0 | 100.0 |" in details  # WeMath IK IG CM RM score
    assert "| metadata.task | accuracy | n |" in details and "| standard-10 | 100.0 | 1 |" in details


def test_rerun_generates_only_what_is_missing(tmp_path: Path) -> None:
    run_eval(_cfg(tmp_path), checker=CHECKER, generator=Scripted(_table()))
    # Fully cached: no generation at all (the broken image is retried, fails to load again, is not sent).
    res = run_eval(_cfg(tmp_path), checker=CHECKER, generator=MustNotGenerate())
    assert res.summaries["mathvista"]["errors"] == 1
    # Drop one stored generation: only that item is generated again.
    path = tmp_path / "generations" / "wemath.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[1:]) + "\n")
    gen = Scripted(_table())
    run_eval(_cfg(tmp_path), checker=CHECKER, generator=gen)
    assert len(gen.prompts) == 1 and gen.prompts[0].startswith("Q 2steps_1")


def test_interrupted_run_keeps_finished_chunks(tmp_path: Path) -> None:
    # batch_size 1 -> chunks of 4 items; crash on the 5th prompt, i.e. in mathvista's second chunk
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_eval(_cfg(tmp_path, batch_size=1), checker=CHECKER, generator=Scripted(_table(), fail_after=4))
    stored = load_generations(tmp_path / "generations" / "mathvista.jsonl")
    assert len(stored) == 4  # the first chunk survived (written atomically)
    gen = Scripted(_table())
    run_eval(_cfg(tmp_path, batch_size=1), checker=CHECKER, generator=gen)
    assert len(gen.prompts) == 1 + 7 + 2  # mathvista's last answerable item, then wemath and mmmu_pro


def test_generation_errors_are_counted_and_retried(tmp_path: Path) -> None:
    gen = Scripted(_table(), errors={"How many sides?"})
    res = run_eval(_cfg(tmp_path), checker=CHECKER, generator=gen)
    assert res.summaries["mathvista"]["errors"] == 2  # broken image + failed request
    assert _records(tmp_path, "mathvista")["2"]["error"] == "generation: How many sides?"
    gen2 = Scripted(_table())
    res = run_eval(_cfg(tmp_path), checker=CHECKER, generator=gen2)
    assert [p.split("\n")[0] for p in gen2.prompts] == ["How many sides?"]
    assert res.summaries["mathvista"]["errors"] == 1


def test_changed_prompt_is_regenerated(tmp_path: Path) -> None:
    run_eval(_cfg(tmp_path, benchmarks="mmstar"), checker=CHECKER, generator=Scripted(_table("mmstar")))
    path = tmp_path / "generations" / "mmstar.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["prompt"] = "an older prompt template"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gen = Scripted(_table("mmstar"))
    run_eval(_cfg(tmp_path, benchmarks="mmstar"), checker=CHECKER, generator=gen)
    assert len(gen.prompts) == 1


def test_other_settings_in_same_folder_refused(tmp_path: Path) -> None:
    run_eval(_cfg(tmp_path, benchmarks="mmstar"), checker=CHECKER, generator=Scripted(_table("mmstar")))
    cfg = _cfg(tmp_path, benchmarks="mmstar", max_new_tokens=16)
    with pytest.raises(ValueError, match="max_new_tokens: stored 4096 vs now 16"):
        run_eval(cfg, checker=CHECKER, generator=MustNotGenerate())


def test_unknown_backend_and_benchmark(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown generation backend 'sglang'.*known: openai, transformers, vllm"):
        run_eval(_cfg(tmp_path, backend="sglang"))
    with pytest.raises(KeyError, match="unknown benchmark 'chartqa'"):
        run_eval(_cfg(tmp_path, benchmarks="chartqa"))


def test_rescore_from_stored_generations(tmp_path: Path) -> None:
    run_eval(_cfg(tmp_path), checker=CHECKER, generator=Scripted(_table()))
    path = tmp_path / "items" / "mathvista.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["response"] = "<answer>\n\\boxed{A}\n</answer>"  # now wrong: A is 3, gold is 4
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = rescore(tmp_path, checker=CHECKER, scoring="corrected")
    assert res.summaries["mathvista"]["overall"] == 80.0 and res.summaries["mathvista"]["errors"] == 1
    assert _records(tmp_path, "mathvista")["1"]["correct"] is False
    assert json.loads((tmp_path / "summary.json").read_text())["benchmarks"]["mathvista"]["overall"] == 80.0
    with pytest.raises(FileNotFoundError, match="no items"):
        rescore(tmp_path / "elsewhere", checker=CHECKER)


def test_reports_compare_models_with_paper_rows(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run_eval(_cfg(a, model_name="model-a"), checker=CHECKER, generator=Scripted(_table()))
    wrong = {"1", "2", "3"}  # mathvista ids 1-3 wrong for model b
    run_eval(_cfg(b, model_name="model-b"), checker=CHECKER, generator=Scripted(_table(wrong=wrong)))
    table, chart = write_reports([a, b], tmp_path / "report")
    text = table.read_text()
    header = text.splitlines()[0]
    assert header == "| model | MathVista testmini | WeMath testmini | MMMU-Pro overall |"
    assert "| model-a | 100.0 (6 of 1,000 items) | 100.0 (7 of 1,740 items) | 100.0 (2 of 3,460 items) |" in text
    assert "| model-b | 40.0 (6 of 1,000 items) |" in text  # 2 of 5 scored mathvista items right
    for label in PAPER_TABLE1:
        assert f"| {label} |" in text
    assert "| Perception-R1-7B (paper) | 74.2 | 72.0 | 41.4 |" in text
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert "(paper)" not in markdown_table([json.loads((a / "summary.json").read_text())], with_paper=False)


def test_paper_table_alone() -> None:
    text = markdown_table([], with_paper=True)
    assert text.splitlines()[0].count("|") == 10  # model + 8 benchmarks
    assert "| Qwen2.5-VL-7B (paper) | 68.1 | 47.4 | 25.1 | 61.4 | 55.2 | 37.0 | 63.1 | 24.9 |" in text


def _official_answer(item) -> str:
    """A right answer in each benchmark's own answer format (what its official scorer reads)."""
    letter = next((k for k, v in item.choices.items() if v == item.gold), item.gold)
    if item.benchmark == "wemath":
        return f"Reasoning.\n<Answer>: {item.gold}"  # We-Math's template
    if item.benchmark == "mmmu_pro":
        return f"Let me think step by step.\nAnswer: {item.gold}"  # MMMU-Pro's CoT template
    return f"The answer is {letter}."  # MathVista: read by the rule extraction standing in for GPT


def test_official_scoring_by_default_and_rescore_switches_mode(tmp_path: Path) -> None:
    table = {}
    for name in BENCHES.split(","):
        for item in iter_items(get_benchmark(name), FIXTURES):
            table[build_prompt(item)] = _official_answer(item)
    cfg = EvalConfig(model="scripted", output_dir=str(tmp_path), data_dir=str(FIXTURES), benchmarks=BENCHES)
    assert cfg.scoring == "official"  # the default
    res = run_eval(cfg, checker=CHECKER, generator=Scripted(table))
    mv = res.summaries["mathvista"]
    # official denominators: the whole set, so the broken-image item counts as wrong (5 of 6)
    assert (mv["scoring"], mv["denominator"], mv["overall"], mv["accuracy_scored"]) == (
        "official",
        "all",
        83.33,
        100.0,
    )
    assert _records(tmp_path, "mathvista")["1"]["extraction"] == "official"
    assert res.summaries["wemath"]["score_loose"] == 100.0
    assert res.summaries["mmmu_pro"]["settings"] == {"standard-10": 100.0, "vision": 100.0}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["scoring"] == "official"
    assert "Scoring: official" in (tmp_path / "breakdowns.md").read_text()

    # rescoring needs no model and switches the mode; the headline then leaves the error item out
    res = rescore(tmp_path, checker=CHECKER, scoring="corrected")
    assert (res.summaries["mathvista"]["overall"], res.summaries["mathvista"]["denominator"]) == (100.0, "scored")
    assert json.loads((tmp_path / "summary.json").read_text())["scoring"] == "corrected"
    assert "scripted: corrected" in (tmp_path / "table.md").read_text()
    with pytest.raises(ValueError, match="unknown scoring mode 'best'"):
        rescore(tmp_path, checker=CHECKER, scoring="best")


# --------------------------------------------------------------------------- hostile items
class AnswersA:
    """A generator answering A; refuses (ValueError, as a processor does) any batch holding a poisoned prompt."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, requests):
        self.calls.append(len(requests))
        if any("POISON" in r.prompt for r in requests):
            raise ValueError("The total number of <|image_pad|> tokens should be the same as the number of images")
        return [Generation("<answer>\n\\boxed{A}\n</answer>") for _ in requests]


def _hostile_mmstar(root: Path, layout: str, questions: list[str], images: list[bytes]) -> Path:
    """``root/mmstar.jsonl`` (images as files) or ``root/mmstar/`` (a datasets folder with an Image column)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [
        {"index": i, "question": f"{q}\nOptions: A: a, B: b", "answer": "A", "category": "c", "l2_category": "l2"}
        for i, q in enumerate(questions)
    ]
    if layout == "jsonl":
        for i, (row, png) in enumerate(zip(rows, images, strict=True)):
            (root / f"img{i}.png").write_bytes(png)
            row["image"] = f"img{i}.png"
        (root / "mmstar.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import datasets

        features = datasets.Features(
            {
                **{k: datasets.Value("string") for k in ("question", "answer", "category", "l2_category")},
                "index": datasets.Value("int64"),
                "image": datasets.Image(),
            }
        )
        table = [{**r, "image": {"bytes": png, "path": None}} for r, png in zip(rows, images, strict=True)]
        datasets.Dataset.from_list(table, features=features).save_to_disk(str(root / "mmstar"))
    return root


def _png(size: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("layout", ["jsonl", "datasets"])  # image files; an Image column datasets would decode
@pytest.mark.parametrize(
    ("bad_image", "max_image_pixels", "reason"),
    [
        ("bomb", None, "DecompressionBombError"),  # 20000 x 20000 in 388 KB: PIL's own refusal, now per item
        ("large", 10_000, "200x200 = 40000 pixels, over the limit of 10000 (max_image_pixels)"),  # our limit
    ],
)
def test_a_hostile_image_is_an_error_item_and_the_run_goes_on(tmp_path, layout, bad_image, max_image_pixels, reason):
    from support.hostile import bomb_png

    bad = bomb_png() if bad_image == "bomb" else _png(200)
    data = _hostile_mmstar(tmp_path / "data", layout, ["first", "second", "third"], [_png(50), bad, _png(50)])
    cfg = EvalConfig(model="m", benchmarks="mmstar", output_dir=str(tmp_path / "out"), data_dir=str(data),
                     scoring="corrected", max_image_pixels=max_image_pixels)  # fmt: skip
    for run in range(2):  # a rerun meets the same item again: the same error, not a crash and not a hang
        res = run_eval(cfg, checker=CHECKER, generator=AnswersA())
        summary = res.summaries["mmstar"]
        assert (summary["n_items"], summary["scored"], summary["errors"]) == (3, 2, 1), run
        records = _records(tmp_path / "out", "mmstar")
        assert records["1"]["error"].startswith("image: cannot load image") and reason in records["1"]["error"]
        assert records["0"]["correct"] is True and records["2"]["correct"] is True


def test_an_item_the_backend_refuses_fails_alone(tmp_path):
    # A processor refuses a whole batch for one bad prompt: the batch is split until that item stands alone.
    data = _hostile_mmstar(tmp_path / "data", "jsonl", ["q0", "q1 POISON", "q2", "q3", "q4"], [_png(20)] * 5)
    cfg = EvalConfig(model="m", benchmarks="mmstar", output_dir=str(tmp_path / "out"), data_dir=str(data),
                     scoring="corrected", batch_size=8)  # fmt: skip
    gen = AnswersA()
    res = run_eval(cfg, checker=CHECKER, generator=gen)
    assert (res.summaries["mmstar"]["scored"], res.summaries["mmstar"]["errors"]) == (4, 1)
    records = _records(tmp_path / "out", "mmstar")
    assert records["1"]["error"] == (
        "generation: ValueError: The total number of <|image_pad|> tokens should be the same as the number of images"
    )
    assert gen.calls == [5, 2, 1, 1, 3]  # halves, then the bad half's halves; the good items in batches


def test_a_limited_run_is_marked_partial_and_not_compared_with_another_item_set(tmp_path: Path) -> None:
    limited, whole = tmp_path / "limited", tmp_path / "whole"
    run_eval(_cfg(limited, model_name="limited", limit=2, benchmarks="mathvista"), checker=CHECKER,
             generator=Scripted(_table("mathvista")))  # fmt: skip
    run_eval(_cfg(whole, model_name="whole", benchmarks="mathvista"), checker=CHECKER,
             generator=Scripted(_table("mathvista")))  # fmt: skip
    entry = json.loads((limited / "summary.json").read_text())["benchmarks"]["mathvista"]
    assert (entry["n_items"], entry["full_size"]) == (2, 1000)
    assert "| limited | 100.0 (2 of 1,000 items) |" in (limited / "table.md").read_text()  # beside the paper rows
    with pytest.raises(ValueError, match="mathvista: limited: 2 of 1,000 items, whole: 6 of 1,000 items"):
        write_reports([limited, whole], tmp_path / "report")
    write_reports([whole, whole], tmp_path / "report")  # the same items: compared
