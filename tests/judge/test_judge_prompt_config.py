"""Judge prompt shape, schema, and JudgeConfig construction from dicts, YAML and CLI options."""

from __future__ import annotations

import pytest

from perception_r1.config import ConfigError
from perception_r1.judge.config import JudgeConfig, coerce_judge_config, judge_config_from_cli
from perception_r1.judge.parse import parse_verdicts
from perception_r1.judge.prompt import FEW_SHOT, build_messages, verdict_schema
from support.fake_judge import parse_case


@pytest.mark.parametrize("structured", [False, True])  # both output formats
def test_messages_have_few_shots_and_the_case(structured):
    messages = build_messages(["AB = 5", "BC = 3"], "AB = 5 here", structured)
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * len(FEW_SHOT) + ["user"]
    assert parse_case(messages[-1]["content"]) == (["AB = 5", "BC = 3"], "AB = 5 here")
    for (facts, _, verdicts), reply in zip(FEW_SHOT, [m["content"] for m in messages[2::2]], strict=True):
        assert parse_verdicts(reply, len(facts), structured) == verdicts  # few-shots obey our own parser
    assert ("JSON" in messages[0]["content"]) is structured


def test_schema_pins_the_number_of_verdicts():
    schema = verdict_schema(4)["properties"]["verdicts"]
    assert (schema["minItems"], schema["maxItems"], schema["items"]["enum"]) == (4, 4, [0, 1])


def test_multiline_response_roundtrips():
    text = "line 1\n\nline 2\n"
    assert parse_case(build_messages(["x"], text)[-1]["content"]) == (["x"], text)


@pytest.mark.parametrize(
    ("file_text", "overrides", "expected"),
    [
        (None, {}, None),  # nothing given: no judge wanted
        (None, {"backend": None, "model": None}, None),  # options not given are None
        (None, {"backend": "rule"}, {"backend": "rule"}),  # one option
        ("base_url: http://h:1/v1\nmodel: m\n", {}, {"base_url": "http://h:1/v1", "model": "m"}),  # file only
        ("judge:\n  model: m\n", {"model": "n"}, {"model": "n"}),  # `judge:` section; CLI wins
        (
            None,
            {"max_concurrency": "8", "structured_output": "true"},
            {"max_concurrency": 8, "structured_output": True},
        ),
    ],
)
def test_judge_config_from_cli(tmp_path, file_text, overrides, expected):
    path = None
    if file_text is not None:
        path = tmp_path / "judge.yaml"
        path.write_text(file_text)
    cfg = judge_config_from_cli(path, overrides)
    if expected is None:
        assert cfg is None
    else:
        assert all(getattr(cfg, k) == v for k, v in expected.items())
        assert cfg.api_key_env == "PERCEPTION_R1_JUDGE_API_KEY"


@pytest.mark.parametrize(
    ("file_text", "overrides", "message"),
    [
        ("modle: x\n", {}, "did you mean 'model'"),  # typo in the file, named with the file
        (None, {"max_concurrency": "many"}, "expected int"),  # wrong type from the CLI
        (None, {"max_concurrency": 0}, "max_concurrency must be >= 1"),  # range check
        (None, {"bakend": "rule"}, "did you mean 'backend'"),  # typo in an option name
    ],
)
def test_judge_config_errors(tmp_path, file_text, overrides, message):
    path = None
    if file_text is not None:
        path = tmp_path / "judge.yaml"
        path.write_text(file_text)
    with pytest.raises(ConfigError, match=message):
        judge_config_from_cli(path, overrides)


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        (None, "openai"),  # defaults
        ({"backend": "rule"}, "rule"),  # mapping
        (JudgeConfig(backend="transformers"), "transformers"),  # instance passes through
    ],
)
def test_coerce_judge_config(value, backend):
    assert coerce_judge_config(value).backend == backend


def test_coerce_rejects_other_types():
    with pytest.raises(ConfigError, match="expected a JudgeConfig"):
        coerce_judge_config(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "file_text",
    [
        "backend: rule\n",  # top-level keys
        "judge:\n  backend: rule\n",  # a `judge:` section, as the CLI's --judge-config accepts
    ],
)
def test_coerce_judge_config_from_yaml(tmp_path, file_text):
    path = tmp_path / "judge.yaml"
    path.write_text(file_text)
    assert coerce_judge_config(path).backend == "rule"
    assert coerce_judge_config(str(path)).backend == "rule"
