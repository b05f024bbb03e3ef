"""Each benchmark's prompt uses the field the paper's evaluation used (MathVista: `query`), and says which."""

from __future__ import annotations

import pytest

from perception_r1.eval.benchmarks import BENCHMARKS, get_benchmark
from perception_r1.eval.data import row_to_item
from perception_r1.eval.prompts import build_prompt

MATHVISTA_QUERY = (
    "Hint: Please answer the question requiring a floating-point number with one decimal place and provide the "
    "final value, e.g., 1.2, 1.3, 1.4, at the end.\nQuestion: What is x (in cm)?"
)
MATHVISTA_MC_QUERY = (
    "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.\n"
    "Question: What is the length of AB?\nChoices:\n(A) 3\n(B) 4\n(C) 5"
)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("mathvista", "query"),  # the paper's MathVista prompt: query carries the unit and precision hint
        ("mathverse", "question"),  # the paper's MathVerse prompt
        ("mathvision", "question"),  # + options, as the paper's script
        ("wemath", "question"),  # + option string, as the paper's script
        ("mmmu", "question"),  # no paper script: the benchmark's own field
        ("mmmu_pro", "question"),
        ("mmstar", "question"),
        ("emma", "question"),
    ],
)
def test_each_benchmark_names_its_prompt_field(name, field):
    assert get_benchmark(name).question_columns[0] == field


def test_every_registered_benchmark_is_covered():
    assert set(BENCHMARKS.names()) == {
        "mathvista",
        "mathverse",
        "mathvision",
        "wemath",
        "mmmu",
        "mmmu_pro",
        "mmstar",
        "emma",
    }


def _mathvista(**row):
    bench = get_benchmark("mathvista")
    base = {"pid": "1", "question": "What is x?", "answer": "1.5", "choices": None, "precision": 1.0, "unit": "cm"}
    return row_to_item(bench, bench.subsets[0], {**base, **row}, "mathvista.jsonl:1", None)


@pytest.mark.parametrize(
    ("row", "expected_start"),
    [
        # free-form: the query (hint with unit and precision) is the prompt, not the bare question
        ({"query": MATHVISTA_QUERY}, "Hint: Please answer"),
        # multiple choice: the query already lists the options; they are not appended a second time
        (
            {"query": MATHVISTA_MC_QUERY, "question": "What is the length of AB?", "choices": ["3", "4", "5"]},
            "Hint: Please answer",
        ),
        # a local copy without query: the bare question, options appended
        ({"question": "What is the length of AB?", "choices": ["3", "4", "5"], "answer": "4"}, "What is the"),
    ],
)
def test_mathvista_prompt_uses_query(row, expected_start):
    item = _mathvista(**row)
    prompt = build_prompt(item, instruction="[fmt]")
    assert prompt.startswith(expected_start)
    assert item.metadata["question_column"] == ("query" if "query" in row else "question")
    assert prompt.endswith("[fmt]")
    if row.get("choices"):
        assert prompt.count("Choices:") == 1 and prompt.count("(B) 4") == 1
        assert item.choices == {"A": "3", "B": "4", "C": "5"}  # scoring still maps letters to choice texts


class _Recording:
    """A generator that records the prompts it is asked and always answers 1."""

    def __init__(self):
        self.prompts = []

    def generate(self, requests):
        from perception_r1.eval.generation import Generation

        self.prompts += [r.prompt for r in requests]
        return [Generation("<answer>\n\\boxed{1}\n</answer>") for _ in requests]


def test_eval_runs_with_a_recipes_format_template(tmp_path):
    from pathlib import Path

    from perception_r1.eval.runner import EvalConfig, run_eval
    from perception_r1.rewards.mathcheck import MathChecker

    template = tmp_path / "fmt.txt"
    template.write_text("{question} [custom format rules]\n", encoding="utf-8")
    fixtures = Path(__file__).parents[1] / "fixtures" / "eval"
    common = {"model": "m", "output_dir": str(tmp_path / "out"), "data_dir": str(fixtures), "benchmarks": "mmstar"}
    checker = MathChecker(isolation="inline")
    first = _Recording()
    run_eval(EvalConfig(**common, prompt_template=str(template)), checker=checker, generator=first)
    assert first.prompts and all(p.endswith(" [custom format rules]") for p in first.prompts)
    # the built-in template gives other prompts, so the stored generations are not reused for them
    second = _Recording()
    run_eval(EvalConfig(**common), checker=checker, generator=second)
    assert len(second.prompts) == len(first.prompts) and not any("[custom" in p for p in second.prompts)
