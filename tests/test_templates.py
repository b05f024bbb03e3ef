"""Prompt templates a recipe can point to: loading, placeholders, versions and digests, and where they are used."""

from __future__ import annotations

import pytest

from perception_r1.config import ConfigError, from_dict
from perception_r1.templates import DEFAULT_FORMAT, FORMAT_INSTRUCTION_V1, FormatTemplate, load_format_template


def test_default_is_the_projects_own_wording_after_a_new_line():
    assert load_format_template(None) is DEFAULT_FORMAT
    assert DEFAULT_FORMAT.version == "format-v1"
    assert DEFAULT_FORMAT.render("What is x?") == "What is x?\n" + FORMAT_INSTRUCTION_V1


@pytest.mark.parametrize(
    ("name", "content", "version", "rendered"),
    [
        # plain text: the file is the template (its final newline dropped); version = file name
        ("ref_like.txt", "{question} Put the answer in \\boxed{}.\n", "ref_like", "Q? Put the answer in \\boxed{}."),
        # YAML with an explicit version
        ("fmt.yaml", "version: mine-2\ntemplate: 'Solve: {question}'\n", "mine-2", "Solve: Q?"),
        # YAML without a version: the file name
        ("other.yml", "template: '{question}!'\n", "other", "Q?!"),
    ],
)
def test_load_from_a_file(tmp_path, name, content, version, rendered):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    template = load_format_template(str(path))
    assert template.version == version and template.render("Q?") == rendered


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("none.txt", "no placeholder here", "exactly once, found 0"),  # where would the problem go?
        ("two.txt", "{question} and {question}", "exactly once, found 2"),  # ambiguous
        ("keys.yaml", "templat: '{question}'\n", "unknown keys: templat"),  # a typo in a key
        ("list.yaml", "- a\n- b\n", "mapping"),  # not a mapping
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as info:
        load_format_template(str(path))
    assert name in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read template file .*nope.txt"):
        load_format_template(str(tmp_path / "nope.txt"))


def test_digest_follows_the_text_not_the_object():
    a, b = FormatTemplate("x", "{question} A"), FormatTemplate("y", "{question} A")
    assert a.digest == b.digest and len(a.digest) == 16
    assert FormatTemplate("x", "{question} B").digest != a.digest
    assert a.fingerprint() == {"version": "x", "digest": a.digest}


@pytest.mark.parametrize(
    ("template", "expected_texts"),
    [
        # built in: the problem, then "\n" + the instruction as the last part (unchanged default)
        (None, ["Find x.", "\n" + FORMAT_INSTRUCTION_V1]),
        # a reference-like template: instruction after one space
        (FormatTemplate("r", "{question} Think, then answer."), ["Find x.", " Think, then answer."]),
        # text before the question opens the user turn
        (FormatTemplate("p", "Task: {question}"), ["Task: ", "Find x."]),
    ],
)
def test_training_prompts_use_the_template(template, expected_texts):
    from perception_r1.train.prompts import build_policy_prompt

    parts = build_policy_prompt("Find x.", n_images=1, template=template)[0]["content"]
    assert [p["text"] for p in parts if p["type"] == "text"] == expected_texts
    assert [p["type"] for p in parts].count("image") == 1


def test_eval_prompts_use_the_template():
    from perception_r1.eval.data import EvalItem
    from perception_r1.eval.prompts import build_prompt

    item = EvalItem("1", "mathvision", "What is x?", {"A": "1", "B": "2"}, "A")
    assert build_prompt(item, template=FormatTemplate("r", "{question} [fmt]")) == (
        "What is x?\nChoices:\n(A) 1\n(B) 2 [fmt]"
    )
    assert build_prompt(item) == "What is x?\nChoices:\n(A) 1\n(B) 2\n" + FORMAT_INSTRUCTION_V1


def test_recipe_fingerprints_for_recipe_json(tmp_path):
    from perception_r1.train.config import TrainConfig
    from perception_r1.train.prompts import template_fingerprints

    fmt = tmp_path / "fmt.txt"
    fmt.write_text("{question} go", encoding="utf-8")
    judge = tmp_path / "judge.yaml"
    judge.write_text("version: j1\nsystem: s\ncase: '{facts} / {response}'\n", encoding="utf-8")
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"prompt_template": str(fmt)},
            "rewards": [{"name": "perception", "params": {"judge": {"prompt_file": str(judge)}}}],
        },
    )
    prints = template_fingerprints(cfg)
    assert prints["format"]["version"] == "fmt" and prints["format"]["file"] == str(fmt)
    assert prints["judge"]["version"] == "j1" and len(prints["judge"]["digest"]) == 16
    # the embedded default: built-in format, rule judge (no prompt, so no judge entry)
    default = template_fingerprints(TrainConfig())
    assert default == {"format": {**DEFAULT_FORMAT.fingerprint(), "file": None}}
