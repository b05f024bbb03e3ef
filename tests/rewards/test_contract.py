"""The reward contract: declared columns, one row -> inputs function, one None -> total rule for every path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from perception_r1.rewards import REWARDS, get_reward
from perception_r1.rewards.combined import PAPER_WEIGHTS, combine
from perception_r1.rewards.contract import ColumnSpec, MissingColumnError, missing_columns, reward_inputs
from perception_r1.rewards.score_file import ScoreOptions, score_file
from perception_r1.train.config import RewardSpec
from perception_r1.train.reward_setup import build_rewards
from perception_r1.train.verl_reward import compute_score

GOOD = "<think>\nAB = 5 and angle ABC = 40°\n</think>\n<answer>\n\\boxed{5}\n</answer>"
UNFORMATTED = "AB = 5, so the answer is \\boxed{6}"
REPEATED = "<think>\n" + "a b " * 12 + "\n</think>\n<answer>\n\\boxed{5}\n</answer>"
CANONICAL = ["AB = 5", "AB ∥ CD"]
NOT_CANONICAL = ["the figure looks symmetric"]  # the rule judge cannot read it: a failed judgment (None)


def _trl_total(values: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """The total TRL's GRPOTrainer trains on (trl 1.16, sum_then_normalize), computed with its own tensor ops.

    A None reward becomes NaN; the weighted rewards are ``nansum``-ed; a row whose rewards are all NaN is
    unscorable (NaN, advantage 0). See ``GRPOTrainer._generate_and_score_completions``.
    """
    torch = pytest.importorskip("torch")
    names = list(values)
    row = torch.tensor([[math.nan if values[n] is None else values[n] for n in names]], dtype=torch.float64)
    weight = torch.tensor([weights[n] for n in names], dtype=torch.float64)
    total = (row * weight.unsqueeze(0)).nansum(dim=1)
    total[torch.isnan(row).all(dim=1)] = math.nan
    value = float(total[0])
    return None if math.isnan(value) else value


def _trl_path(response: str, answer, annotations) -> float | None:
    """Training: the recipe's rewards built as `perception-r1 train` builds them, called as TRL calls them."""
    specs = [
        RewardSpec("accuracy", 0.9, {"isolation": "inline"}),
        RewardSpec("format", 0.1),
        RewardSpec("perception", 0.7, {"judge": {"backend": "rule"}}),
        RewardSpec("repetition", 1.0, {"n": 20, "max_penalty": -2.0}),
    ]
    funcs, weights, names = build_rewards(specs)
    columns = {"id": ["1"], "answer": [answer], "visual_annotations": [annotations], "problem": ["p"]}
    values = {n: f(prompts=["p"], completions=[response], **columns)[0] for f, n in zip(funcs, names, strict=True)}
    return _trl_total(values, dict(zip(names, weights, strict=True)))


def _verl_path(response: str, answer, annotations) -> float:
    extra = {"visual_annotations": annotations} if annotations is not None else {}
    out = compute_score("geo", response, answer, extra, judge={"backend": "rule"}, isolation="inline")
    return out["score"]


def _cli_path(tmp_path: Path, response: str, answer, annotations) -> float | None:
    line = {"response": response, "answer": answer}
    if annotations is not None:
        line["visual_annotations"] = annotations
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(line) + "\n")
    score_file(src, out, ScoreOptions(judge={"backend": "rule"}, progress=False, timeout_s=10.0))
    return json.loads(out.read_text())["overall"]


@pytest.mark.parametrize(
    ("response", "answer", "annotations", "expected"),
    [
        (GOOD, "5", CANONICAL, 0.9 + 0.1 + 0.7 * 0.5),  # every component computed: the paper's sum
        (UNFORMATTED, "5", CANONICAL, 0.7 * 0.5),  # wrong answer, no format: real zeros
        (GOOD, None, CANONICAL, 0.1 + 0.7 * 0.5),  # no ground truth: accuracy None adds nothing (was null in the CLI)
        (GOOD, "5", NOT_CANONICAL, 0.9 + 0.1),  # failed judgment: perception None adds nothing (was null in the CLI)
        (GOOD, "5", None, 0.9 + 0.1),  # no annotations: perception not applicable
        # 7 distinct of 10 word 20-grams: the repetition penalty is part of every total
        (REPEATED, "5", None, 0.9 + 0.1 - 2.0 * (1 - 7 / 10)),
    ],
)
def test_none_handling_is_identical_for_training_verl_and_the_cli(tmp_path, response, answer, annotations, expected):
    trl = _trl_path(response, answer, annotations)
    verl = _verl_path(response, answer, annotations)
    cli = _cli_path(tmp_path, response, answer, annotations)
    assert (trl, verl, cli) == (pytest.approx(expected), pytest.approx(expected), pytest.approx(expected))


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"accuracy": 1.0, "format": 1.0, "perception": 1.0, "repetition": 0.0}, 1.7),  # paper maximum
        ({"accuracy": 1.0, "format": 1.0, "perception": 0.5, "repetition": -2.0}, -0.65),  # penalty in the total
        ({"accuracy": 1.0, "format": 0.0, "perception": None}, 0.9),  # a None component adds nothing
        ({"accuracy": None, "perception": None}, None),  # nothing computed: no total (TRL: unscorable)
        ({}, None),  # no components at all
    ],
)
def test_combine_is_the_one_none_rule(scores, expected):
    result = combine(scores)
    assert result == (None if expected is None else pytest.approx(expected))
    if scores:  # the same total as TRL's reduction of the same rewards
        trl = _trl_total(scores, PAPER_WEIGHTS)
        assert result == (None if trl is None else pytest.approx(trl))


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("accuracy", {}, (ColumnSpec(("answer",)), ColumnSpec(("choices",), required=False))),  # default columns
        ("accuracy", {"answer_column": "gold"}, (ColumnSpec(("gold",)), ColumnSpec(("choices",), required=False))),
        (
            "perception",
            {"judge": {"backend": "rule"}},
            (
                ColumnSpec(("visual_annotations", "visual_key_info")),  # either annotation layout
                ColumnSpec(("id",), required=False),  # the group column of failure_policy=group_mean
            ),
        ),
        ("format", {}, ()),  # reads only the completion
        ("repetition", {}, ()),  # reads only the completion
    ],
)
def test_each_reward_declares_its_columns(name, params, expected):
    assert get_reward(name, **params).columns == expected


def test_every_registered_reward_declares_columns():
    params = {"perception": {"judge": {"backend": "rule"}}}
    for name in REWARDS.names():
        columns = get_reward(name, **params.get(name, {})).columns
        assert all(isinstance(c, ColumnSpec) and c.names for c in columns), name


@pytest.mark.parametrize(
    ("name", "params", "kwargs", "message"),
    [
        ("accuracy", {}, {"choices": [None]}, "reward 'accuracy' needs column 'answer'; columns given: choices"),
        ("accuracy", {"answer_column": "gold"}, {"answer": ["3"]}, "reward 'accuracy' needs column 'gold'"),
        (
            "perception",
            {"judge": {"backend": "rule"}},
            {"answer": ["3"]},
            "reward 'perception' needs column 'visual_annotations' or 'visual_key_info'",
        ),
    ],
)
def test_a_missing_column_names_the_reward_and_the_column(name, params, kwargs, message):
    reward = get_reward(name, **params)
    with pytest.raises(MissingColumnError) as info:
        reward(["\\boxed{3}"], **kwargs)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        # TRL kwargs: columns by name; an absent optional column reads as None
        ({"answer": ["3", "4"], "problem": ["p", "q"]}, {"answer": ["3", "4"], "choices": [None, None]}),
        # dataset rows: a key a row lacks is None for that row
        (
            [{"answer": "3", "choices": ["3", "4"]}, {"answer": None}],
            {"answer": ["3", None], "choices": [["3", "4"], None]},
        ),
        # rows without the key at all: None for every row (the record's format made it optional)
        ([{"x": 1}, {"x": 2}], {"answer": [None, None], "choices": [None, None]}),
    ],
)
def test_reward_inputs_from_kwargs_or_rows(batch, expected):
    assert reward_inputs(get_reward("accuracy", isolation="inline"), batch, 2) == expected


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"answer": ["3"]}, "column 'answer' has 1 values for 2 completions"),  # a column of the wrong length
        ([{"answer": "3"}], "1 rows for 2 completions"),  # too few rows
        ([{"answer": "3"}, "not a row"], "row 1: expected a mapping"),  # a row that is not a mapping
    ],
)
def test_reward_inputs_rejects_misaligned_batches(batch, message):
    with pytest.raises(ValueError, match=message):
        reward_inputs(get_reward("accuracy", isolation="inline"), batch, 2)


@pytest.mark.parametrize(
    ("specs", "present", "expected"),
    [
        ([RewardSpec("accuracy")], {"answer"}, []),  # all there
        # a renamed annotation column keeps the reference layout as the alternative
        (
            [RewardSpec("perception", params={"judge": {"backend": "rule"}, "annotations_column": "facts"})],
            {"answer"},
            ["reward 'perception' needs column 'facts' or 'visual_key_info'"],
        ),
    ],
)
def test_missing_columns_reads_the_declarations(specs, present, expected):
    rewards = [get_reward(s.name, **s.params) for s in specs]
    assert missing_columns(rewards, present) == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # verl and pandas hand lists over as numpy arrays: the reward sees lists
        ({"visual_annotations": np.array(["AB = 5", "CD = 2"], dtype=object)}, ["AB = 5", "CD = 2"]),
        # numpy string arrays, too
        ({"visual_annotations": np.array(["AB = 5"])}, ["AB = 5"]),
        # a 0-d array holds one value: the reference layout string here
        ({"visual_key_info": np.array("<info1>AB = 5</info1>")}, None),
    ],
)
def test_reward_inputs_read_numpy_values_as_plain_python(row, expected):
    perception = get_reward("perception", judge={"backend": "rule"})
    inputs = reward_inputs(perception, [row])
    assert inputs["visual_annotations"] == [expected]
    assert all(type(v) is not np.ndarray for values in inputs.values() for v in values)


def test_trl_columns_with_numpy_values_score_like_lists():
    perception = get_reward("perception", judge={"backend": "rule"})
    accuracy = get_reward("accuracy", isolation="inline")
    annotations = np.empty(1, dtype=object)
    annotations[0] = np.array(["AB = 5", "CD = 2"], dtype=object)
    assert perception(["AB = 5"], visual_annotations=annotations) == [0.5]
    choices = [np.array(["2", "3"], dtype=object)]
    assert accuracy(["<answer>\\boxed{B}</answer>"], answer=["3"], choices=choices) == [1.0]
