"""Judge prompt templates: the built-in v2 and the unchanged v1, files a recipe points to, and the cache key."""

from __future__ import annotations

import pytest

from perception_r1.config import ConfigError
from perception_r1.judge.config import JudgeConfig, judge_template
from perception_r1.judge.prompt import (
    BUILTIN_TEMPLATES,
    DEFAULT_TEMPLATE,
    FEW_SHOT,
    FEW_SHOT_V1,
    build_messages,
    format_case,
    load_judge_template,
)
from support.fake_judge import parse_case
from support.fake_openai_server import FakeOpenAIServer

# A made-up template in the reference's layout (facts as <infoN> tags, examples inside the system message).
TAGGED = """version: tagged-1
system: "Say for each fact whether the response has it. Keep \\\\frac{a}{b} braces. {format_rule}"
case: "Facts: {facts}\\nResponse: {response}\\n"
fact_line: "<info{index}>{fact}</info{index}>"
fact_separator: "\\n"
tag_rule: "Answer <infoN>1</infoN> or <infoN>0</infoN>."
"""


def _write(tmp_path, text, name="judge.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_builtin_v2_is_the_default():
    messages = build_messages(["AB = 5", "CD = 7"], "AB is 5.")
    assert len(messages) == 1 + 2 * len(FEW_SHOT) + 1
    assert messages[0]["content"].startswith("You check whether a student's response reflects given facts")
    assert messages[-1]["content"] == (
        "Visual key information:\n[1] AB = 5\n[2] CD = 7\n\nStudent response:\n<response>\nAB is 5.\n</response>"
    )
    assert format_case(["AB = 5"], "x") == DEFAULT_TEMPLATE.format_case(["AB = 5"], "x")
    assert parse_case(messages[-1]["content"]) == (["AB = 5", "CD = 7"], "AB is 5.")  # fake judges still read it
    assert judge_template(JudgeConfig()) is DEFAULT_TEMPLATE and DEFAULT_TEMPLATE.version == "v2"


def test_builtin_v1_is_unchanged_and_selectable():
    # Runs judged with v1 stay reproducible: same text, hence the same digest and cache keys as before v2.
    v1 = judge_template(JudgeConfig(prompt_version="v1"))
    assert v1 is BUILTIN_TEMPLATES["v1"] and v1.digest == "07c55ecc59e10baf"
    assert [list(f) for f, _, _ in v1.few_shot] == [f for f, _, _ in FEW_SHOT_V1] and len(FEW_SHOT_V1) == 3
    assert "another value as well" not in v1.system


def test_v2_states_the_contradiction_rule_as_the_rule_judge_applies_it():
    # The LLM judge is told what the rule judge and the exact metrics do: a quantity also given another value is
    # a 0, a restatement of the same value is not; its new few-shot case gets those verdicts from the rule judge.
    from perception_r1.judge.rule import rule_verdicts

    system = DEFAULT_TEMPLATE.system
    assert "another value as well" in system and "either ... or ..." in system and "range" in system
    new = [shot for shot in FEW_SHOT if shot not in FEW_SHOT_V1]
    assert new and all(0 in verdicts and 1 in verdicts for _, _, verdicts in new)
    for facts, response, verdicts in new:
        assert rule_verdicts(facts, response) == verdicts, response


@pytest.mark.parametrize("structured", [False, True])  # tag and JSON formats have their own prefix
def test_the_prefix_built_once_is_never_shared_between_requests(structured):
    # The system turn and few-shot pairs are built once per template and format; each request gets its own copies,
    # so a caller editing its messages cannot change the next request's prompt.
    first = build_messages(["AB = 5"], "AB is 5.", structured)
    expected = [dict(m) for m in first]
    for message in first:
        message["content"] = "edited"
    again = build_messages(["AB = 5"], "AB is 5.", structured)
    assert again == expected and again[0] is not first[0]
    assert ("JSON" in again[0]["content"]) is structured  # the format rule of this format, not the other's


def test_a_file_template_renders_exactly(tmp_path):
    template = load_judge_template(_write(tmp_path, TAGGED))
    messages = template.build_messages(["AB = 5", "x = {facts}"], "I used {response} and AB = 5")
    assert messages == [
        {
            "role": "system",
            "content": "Say for each fact whether the response has it. Keep \\frac{a}{b} braces. "
            "Answer <infoN>1</infoN> or <infoN>0</infoN>.",
        },
        # placeholders inside the facts or the response are data: never substituted again
        {"role": "user", "content": "Facts: <info1>AB = 5</info1>\n<info2>x = {facts}</info2>\n"
                                    "Response: I used {response} and AB = 5\n"},
    ]  # fmt: skip


def test_few_shot_examples_from_a_file(tmp_path):
    text = TAGGED + "few_shot:\n  - facts: [AB = 6]\n    response: AB is 6\n    verdicts: [1]\n"
    messages = load_judge_template(_write(tmp_path, text)).build_messages(["CD = 1"], "no")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "<info1>1</info1>"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("version: a\nsystem: s\ncase: 'only {facts}'\n", "must contain {response}"),  # the response is missing
        ("system: s\ncase: '{facts} {response}'\nfew_shots: []\n", "unknown keys \\['few_shots'\\]"),  # typo
        ("case: '{facts} {response}'\n", "missing text keys \\['system'\\]"),  # no system message
        (  # a few-shot example with the wrong number of verdicts
            "system: s\ncase: '{facts} {response}'\nfew_shot:\n  - {facts: [a, b], response: r, verdicts: [1]}\n",
            "one 0/1 verdict per fact",
        ),
    ],
)
def test_bad_templates_name_the_file(tmp_path, text, match):
    path = _write(tmp_path, text, "bad_judge.yaml")
    with pytest.raises(ConfigError, match=match) as info:
        load_judge_template(path)
    assert "bad_judge.yaml" in str(info.value)


def test_a_text_file_is_not_a_judge_template(tmp_path):
    with pytest.raises(ConfigError, match="must be a YAML file"):
        load_judge_template(_write(tmp_path, "just text", "judge.txt"))


def test_bad_prompt_file_fails_when_the_reward_is_built(tmp_path):
    from perception_r1.rewards.perception import PerceptionReward

    with pytest.raises(ConfigError, match="cannot read template file"):
        PerceptionReward(judge={"prompt_file": str(tmp_path / "missing.yaml")})


def test_cache_key_carries_version_and_digest(tmp_path):
    from perception_r1.judge.judges import LLMJudge

    builtin = LLMJudge(JudgeConfig(base_url="http://127.0.0.1:9/v1"))
    custom = LLMJudge(JudgeConfig(base_url="http://127.0.0.1:9/v1", prompt_file=_write(tmp_path, TAGGED)))
    edited_file = _write(tmp_path, TAGGED + "fact_separator: ' '\n", "edited.yaml")
    edited = LLMJudge(JudgeConfig(base_url="http://127.0.0.1:9/v1", prompt_file=edited_file))
    keys = [j._request(["AB = 5"], "r").prompt_version for j in (builtin, custom, edited)]
    assert keys[0] == f"judge-v2-{DEFAULT_TEMPLATE.digest}"
    assert keys[1].startswith("judge-tagged-1-")
    assert len(set(keys)) == 3  # same version label, edited text: still a different key


def test_the_judge_server_receives_the_file_text(tmp_path):
    from support.fake_judge import judge_sync

    with FakeOpenAIServer(lambda body: "<info1>1</info1>\n<info2>0</info2>") as server:
        cfg = JudgeConfig(base_url=server.base_url, prompt_file=_write(tmp_path, TAGGED), max_retries=0)
        [judgment] = judge_sync(cfg, [(["AB = 5", "CD = 7"], "AB = 5")])
        assert judgment.status == "ok" and judgment.verdicts == [1, 0]
        assert server.requests[0]["messages"][-1]["content"].startswith("Facts: <info1>AB = 5</info1>")
