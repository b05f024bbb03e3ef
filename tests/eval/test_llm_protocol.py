"""The paper's evaluation protocol as one switch, and `eval table` naming the protocol behind each column."""

from __future__ import annotations

import json

import pytest

from perception_r1.config import from_dict
from perception_r1.eval.llm_grading import LLMGradingConfig, build_stages, protocol_of_records


@pytest.mark.parametrize(
    ("protocol", "extract", "grade"),
    [
        ("paper", True, True),  # the paper: LLM extraction fallback and LLM true/false grading
        ("rule", False, False),  # rules only
        (None, False, False),  # no switch: the separate flags decide (both off by default)
    ],
)
def test_protocol_switch(protocol, extract, grade):
    cfg = from_dict(LLMGradingConfig, {"protocol": protocol, "client": {"base_url": "http://grader:8000/v1"}})
    assert (cfg.extract, cfg.grade) == (extract, grade)
    assert (build_stages(cfg) is not None) == (protocol == "paper")


def test_unknown_protocol():
    with pytest.raises(ValueError, match="llm.protocol must be one of rule, paper"):
        LLMGradingConfig(protocol="papers")


def test_eval_config_takes_the_switch():
    from perception_r1.eval.runner import EvalConfig

    cfg = from_dict(EvalConfig, {"model": "m", "llm": {"protocol": "paper", "client": {"model": "grader"}}})
    assert cfg.llm.extract and cfg.llm.grade and cfg.llm.client.model == "grader"


@pytest.mark.parametrize(
    ("graded_by", "expected"),
    [
        (["rule", "rule"], "rule"),  # rule scoring
        (["llm", "llm"], "paper"),  # every verdict from the LLM grader
        (["llm", "rule_fallback"], "paper (1 of 2 rule fallbacks)"),  # some LLM verdicts missing
        ([None, None], None),  # nothing scored (errors only)
    ],
)
def test_protocol_of_records(graded_by, expected):
    assert protocol_of_records([{"graded_by": g} for g in graded_by]) == expected


def _run_dir(path, name, graded_by):
    (path / "items").mkdir(parents=True)
    summary = {
        "model_name": name,
        "scoring": "official",
        "benchmarks": {"mathvista": {"overall": 50.0, "n_items": 2, "scored": 2, "errors": 0, "no_answer": 0}},
    }
    (path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    rows = [json.dumps({"id": str(i), "graded_by": g}) for i, g in enumerate(graded_by)]
    (path / "items" / "mathvista.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_eval_table_labels_each_models_protocol_next_to_the_paper(tmp_path):
    from perception_r1.eval.report import write_reports

    rule = _run_dir(tmp_path / "rule", "base-rule", ["rule", "rule"])
    paper = _run_dir(tmp_path / "paper", "base-llm", ["llm", "llm"])
    table, _ = write_reports([rule, paper], tmp_path / "out", with_paper=True)
    text = table.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("Protocol"))
    assert "base-rule: rule (all columns)" in line and "base-llm: paper (all columns)" in line
    assert "paper rows: paper: answer block, else LLM extraction" in line
    assert "| Qwen2.5-VL-7B (paper) |" in text  # the paper's Table 1 rows stay beside them
