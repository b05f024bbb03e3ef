import re
from dataclasses import dataclass, field
from typing import Literal

import pytest

from perception_r1.config import (
    ConfigError,
    apply_overrides,
    describe,
    flatten_keys,
    from_dict,
    load_config,
    option,
    parse_overrides,
    to_dict,
)


@dataclass
class Inner:
    lr: float = option(1e-6, "learning rate")
    steps: int = option(10, "number of steps")
    mode: Literal["a", "b"] = option("a", "mode")


@dataclass
class Outer:
    name: str = option("run", "run name")
    flag: bool = option(False, "a switch")
    tags: list[str] = option(factory=list, help="tags")
    maybe: int | None = option(None, "optional number")
    params: dict = option(factory=dict, help="free-form parameters")
    inner: Inner = field(default_factory=Inner, metadata={"help": "nested section"})


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ({}, lambda c: c.inner.lr == 1e-6),  # all defaults
        ({"inner": {"lr": "3e-4"}}, lambda c: c.inner.lr == 3e-4),  # YAML string number coerced
        ({"flag": "yes"}, lambda c: c.flag is True),  # boolean spellings
        ({"tags": "a,b"}, lambda c: c.tags == ["a", "b"]),  # comma list
        ({"maybe": None}, lambda c: c.maybe is None),  # optional null
        ({"params": {"k": 1}}, lambda c: c.params == {"k": 1}),  # free-form mapping
    ],
)
def test_from_dict_valid(data, check):
    assert check(from_dict(Outer, data))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nme": "x"}, "nme: unknown key (did you mean 'name'?)"),  # typo at top level
        ({"inner": {"lr_rate": 1}}, "inner.lr_rate: unknown key"),  # typo in a section, dotted path
        ({"inner": {"steps": "many"}}, "inner.steps: expected int"),  # wrong type
        ({"inner": {"mode": "c"}}, "inner.mode: 'c' is not one of"),  # literal choice
        ({"flag": "perhaps"}, "flag: expected true/false"),  # bad boolean
        ({"inner": 3}, "expected a mapping"),  # section given a scalar
        ({"name": None}, "null is not allowed"),  # non-optional null
    ],
)
def test_from_dict_errors(data, message):
    with pytest.raises(ConfigError) as info:
        from_dict(Outer, data)
    assert message in str(info.value)


def test_overrides_and_yaml(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: base\ninner:\n  steps: 3\n")
    overrides = parse_overrides(["--inner.lr", "0.5", "flag=true", "--name=x"])
    cfg = load_config(Outer, recipe, overrides)
    assert (cfg.name, cfg.flag, cfg.inner.steps, cfg.inner.lr) == ("x", True, 3, 0.5)
    assert to_dict(cfg)["inner"] == {"lr": 0.5, "steps": 3, "mode": "a"}
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        apply_overrides(cfg, {"inner.step": "1"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--inner.lr"], "has no value"),  # dangling flag
        (["stray"], "cannot read override"),  # positional junk
    ],
)
def test_parse_overrides_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        parse_overrides(args)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [", "not valid YAML"),  # syntax error
        ("- 1\n- 2\n", "expected a mapping"),  # top level list
    ],
)
def test_load_yaml_errors(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, path)
    with pytest.raises(ConfigError, match="no such recipe"):
        load_config(Outer, tmp_path / "missing.yaml")


def test_describe_lists_nested_help():
    rows = {key: help_text for key, _, help_text in describe(Outer)}
    assert rows["inner.lr"] == "learning rate" and rows["tags"] == "tags"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"inner": {"lr": 1.0}, "tags": ["a"]}, {"inner.lr": 1.0, "tags": ["a"]}),  # lists stay values
        ({"a": {"b": {"c": 1}}}, {"a.b.c": 1}),  # any depth
        ({"a": {}}, {}),  # an empty section sets nothing
    ],
)
def test_flatten_keys(data, expected):
    assert flatten_keys(data) == expected


def test_flattened_recipe_applies_as_overrides():
    # a YAML recipe flattened to dotted keys configures the same as from_dict
    data = {"inner": {"lr": 0.5}, "tags": ["x"]}
    assert apply_overrides(Outer(), flatten_keys(data)) == from_dict(Outer, data)


def _recipe():
    from perception_r1.train.config import TrainConfig

    return from_dict(
        TrainConfig,
        {"rewards": [{"name": "accuracy", "weight": 0.9},
                     {"name": "perception", "params": {"judge": {"backend": "openai", "base_url": "http://a:1/v1"}}}]},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        # a reward's nested parameter, the reward chosen by its name
        ({"rewards.perception.params.judge.base_url": "http://b:2/v1"},
         lambda c: c.rewards[1].params["judge"] == {"backend": "openai", "base_url": "http://b:2/v1"}),
        # the bracket spelling
        ({"rewards[perception].weight": "0.5"}, lambda c: c.rewards[1].weight == 0.5),
        # by position
        ({"rewards.0.weight": "0.8"}, lambda c: c.rewards[0].weight == 0.8),
        # a new parameter (mappings are created on the way)
        ({"rewards.accuracy.params.isolation": "inline"}, lambda c: c.rewards[0].params == {"isolation": "inline"}),
        # values are read as YAML inside free-form parameters
        ({"rewards.perception.params.judge.max_concurrency": "8"},
         lambda c: c.rewards[1].params["judge"]["max_concurrency"] == 8),
    ],
)  # fmt: skip
def test_list_items_are_reached_by_name(overrides, check):
    assert check(apply_overrides(_recipe(), overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # a misspelled reward name
        ({"rewards.percepton.weight": "1"}, "no item 'percepton' in 'rewards' (did you mean 'perception'"),
        # a reward named but no key
        ({"rewards.perception": "1"}, "name an item and a key"),
        # a key of the item that does not exist
        ({"rewards.perception.wieght": "1"}, "did you mean 'weight'"),
        # setting inside a parameter that is not a mapping
        ({"rewards.accuracy.weight.x": "1"}, "'weight' is not a section"),
    ],
)
def test_list_item_override_errors(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_overrides(_recipe(), overrides)
