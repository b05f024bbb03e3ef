"""The mechanism analysis: correct answers with wrong perception, per policy, McNemar between policies, and the
multiple-choice toy experiment end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.analysis.mcnemar import exact_p_value
from perception_r1.config import from_dict
from perception_r1.experiment.config import ExperimentConfig
from perception_r1.experiment.mechanism import (
    grade_cell,
    mcnemar_tests,
    mechanism_block,
    mechanism_markdown,
    policy_figures,
    rate_differences,
    rollout_figures,
)
from support.toy_experiment import TOY

R, L, W, X = "R", "L", "W", "X"  # right answer + right perception, lucky, wrong answer + right perception, both wrong
_CELL = {R: (1.0, True), L: (1.0, False), W: (0.0, True), X: (0.0, False)}


def graded(cells: str) -> list[dict]:
    """Graded items from a string of cells, one letter per problem (ids 0, 1, ...)."""
    return [
        {"id": str(i), "answer_correct": _CELL[c][0], "perception_correct": _CELL[c][1]} for i, c in enumerate(cells)
    ]


@pytest.mark.parametrize(
    ("answer", "perception", "cell"),
    [
        (1.0, True, "correct_right_perception"),  # read right, answered right
        (1.0, False, "correct_wrong_perception"),  # lucky: right letter, figure read wrong
        (0.0, True, "wrong_right_perception"),  # read right, answered wrong
        (0.0, False, "wrong_wrong_perception"),  # both wrong
        (None, True, "wrong_right_perception"),  # an ungradable answer counts as wrong
    ],
)
def test_grade_cell(answer, perception, cell) -> None:
    assert grade_cell({"answer_correct": answer, "perception_correct": perception}) == cell


@pytest.mark.parametrize(
    ("cells", "lucky", "right", "lucky_share"),
    [
        ("RLLX", 2, 1, 2 / 3),  # two of three correct answers are lucky
        ("RRWX", 0, 2, 0.0),  # every correct answer read the figure
        ("WXXX", 0, 0, None),  # no correct answer: no share of them
    ],
)
def test_policy_figures(cells: str, lucky: int, right: int, lucky_share) -> None:
    f = policy_figures(graded(cells))
    assert f["n"] == len(cells) and f["correct_wrong_perception"] == lucky and f["correct_right_perception"] == right
    assert f["answer_correct"] == cells.count(R) + cells.count(L)
    assert f["perception_correct"] == cells.count(R) + cells.count(W)
    assert f["lucky_rate"] == round(lucky / len(cells), 6) and f["right_rate"] == round(right / len(cells), 6)
    assert f["lucky_share"] == (None if lucky_share is None else round(lucky_share, 6))


def test_policy_figures_need_items() -> None:
    with pytest.raises(ValueError, match="no graded items"):
        policy_figures([])


# Two seeds, six problems. perception_r1 reads right where rlvr is lucky; the warm-up is lucky on half.
RUNS = {
    "warmup": {0: graded("LLLXXX"), 1: graded("LLLXXX")},
    "rlvr": {0: graded("LLLRXX"), 1: graded("LLRRXX")},
    "perception_r1": {0: graded("RRRRXX"), 1: graded("RRLRWX")},
}


@pytest.mark.parametrize(
    ("comparison", "outcome", "per_seed"),
    [
        # right-with-right-perception: perception_r1 has it on 3 problems rlvr has not (seed 0), 2 (seed 1), and
        # rlvr on one that perception_r1 answers luckily (seed 1, problem 2)
        ("perception_r1_vs_rlvr", "correct_right_perception", [(3, 0), (2, 1)]),
        # lucky: rlvr on 3 and 2 problems where perception_r1 is not; perception_r1 lucky once where rlvr is right
        ("perception_r1_vs_rlvr", "correct_wrong_perception", [(0, 3), (1, 2)]),
        ("perception_r1_vs_warmup", "correct_right_perception", [(4, 0), (3, 0)]),
        ("rlvr_vs_warmup", "correct_wrong_perception", [(0, 0), (0, 1)]),
    ],
)
def test_mcnemar_counts_per_seed_and_pooled(comparison: str, outcome: str, per_seed: list) -> None:
    test = mcnemar_tests(RUNS, [0, 1])[comparison][outcome]
    assert [(s["b"], s["c"]) for s in test["per_seed"]] == per_seed
    b, c = sum(x for x, _ in per_seed), sum(y for _, y in per_seed)
    assert (test["b"], test["c"], test["n_pairs"]) == (b, c, 12)
    assert test["p_value"] == pytest.approx(exact_p_value(b, c))  # the paper's exact two-sided test
    assert [s["p_value"] for s in test["per_seed"]] == pytest.approx([exact_p_value(x, y) for x, y in per_seed])


def test_a_comparison_without_its_policies_is_left_out() -> None:
    assert set(mcnemar_tests({"rlvr": RUNS["rlvr"], "warmup": RUNS["warmup"]}, [0, 1])) == {"rlvr_vs_warmup"}


def test_rate_differences_per_seed() -> None:
    figures = {p: {s: policy_figures(items) for s, items in by_seed.items()} for p, by_seed in RUNS.items()}
    diff = rate_differences(figures, [0, 1])["perception_r1_vs_rlvr"]
    # lucky / n: 0/6 - 3/6 and 1/6 - 2/6; lucky / correct: 0/4 - 3/4 and 1/4 - 2/4
    assert [r["difference"] for r in diff["lucky_rate"]["per_seed"]] == pytest.approx([-0.5, -1 / 6], abs=1e-6)
    assert diff["lucky_rate"]["mean"] == pytest.approx(-1 / 3, abs=1e-6) and len(diff["lucky_rate"]["ci95"]) == 2
    assert [r["difference"] for r in diff["lucky_share"]["per_seed"]] == [-0.75, -0.25]
    # a seed without a correct answer has no share and no difference; the mean is over the others
    figures["rlvr"][1] = policy_figures(graded("XXXXXX"))
    share = rate_differences(figures, [0, 1])["perception_r1_vs_rlvr"]["lucky_share"]
    assert share["per_seed"][1]["difference"] is None and share["mean"] == -0.75 and share["ci95"] is None


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # a run trained before the metric existed
        ([{"step": 1, "reward": 0.5}], None),
        # first and last window means over the logged steps (the end-of-run row has no such key)
        (
            [
                {"step": s, "rollouts/correct_wrong_perception": s / 10, "rollouts/correct_right_perception": 0.0}
                for s in (1, 2, 3)
            ]
            + [{"step": 3, "train_runtime": 1.0}],
            {"correct_wrong_perception": [0.1, 0.2, 0.3], "first": 0.2, "last": 0.2},
        ),  # fmt: skip
    ],
)
def test_rollout_figures(rows: list, expected) -> None:
    got = rollout_figures(rows)
    if expected is None:
        assert got is None
        return
    assert got["steps"] == [1, 2, 3] and got["correct_wrong_perception"] == expected["correct_wrong_perception"]
    assert got["first"]["correct_wrong_perception"] == expected["first"] == got["last"]["correct_wrong_perception"]


def test_block_and_markdown() -> None:
    runs = {"blind": {0: graded("LXXXXX"), 1: graded("LXXXXX")}, **RUNS}
    training = {"rlvr": {0: [{"step": 1, "rollouts/correct_wrong_perception": 0.25}]}}
    block = mechanism_block(runs, [0, 1], training)
    assert list(block["policies"]) == [
        "blind", "warmup", "rlvr-seed0", "rlvr-seed1", "perception_r1-seed0", "perception_r1-seed1",
    ]  # fmt: skip
    assert block["policies"]["rlvr-seed0"]["correct_wrong_perception"] == 3
    assert block["arms"]["rlvr"]["lucky_rate"]["per_seed"] == [0.5, round(2 / 6, 6)]
    assert block["training"]["rlvr"]["0"]["last"]["correct_wrong_perception"] == 0.25
    text = mechanism_markdown(json.loads(json.dumps(block)))  # as read back from summary.json
    assert "## The paper's mechanism" in text and "| image-blind baseline (chance) | 6 |" in text
    assert "| rlvr-seed0 | 6 | 4 | 1 | 1 (16.7%) | 3 (50.0%) | 75.0% |" in text
    assert "| perception_r1_vs_rlvr | correct_right_perception | 5 | 1 |" in text
    assert "| rlvr | 0 | 25.0% → 25.0% |" in text


def test_missing_items_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'rlvr' \\(seed 1\\)"):
        mechanism_block({**RUNS, "rlvr": {0: RUNS["rlvr"][0], 1: []}}, [0, 1])


def test_nothing_is_added_without_multiple_choice() -> None:
    from perception_r1.experiment.report_md import _mechanism_section

    assert _mechanism_section({"arms": {}}) == [] and _mechanism_section({"mechanism": None}) == []


@pytest.mark.integration
def test_toy_multiple_choice_experiment_reports_the_mechanism(tmp_path: Path) -> None:
    from perception_r1.experiment.runner import run_experiment

    out = tmp_path / "mc"
    toy = TOY
    cfg = from_dict(
        ExperimentConfig, {**toy, "data": {**toy["data"], "multiple_choice": True}, "output_dir": str(out)}
    )
    run_experiment(cfg, command="test")
    summary = json.loads((out / "summary.json").read_text())
    block = summary["mechanism"]
    n = summary["n_test"]
    assert set(block["policies"]) == {"blind", "warmup", "rlvr-seed0", "perception_r1-seed0"}
    for f in block["policies"].values():
        cells = ("correct_right_perception", "correct_wrong_perception", "wrong_right_perception",
                 "wrong_wrong_perception")  # fmt: skip
        assert f["n"] == n and sum(f[c] for c in cells) == n
    for comparison in ("perception_r1_vs_rlvr", "perception_r1_vs_warmup", "rlvr_vs_warmup"):
        for outcome in ("correct_right_perception", "correct_wrong_perception"):
            test = block["mcnemar"][comparison][outcome]
            assert test["n_pairs"] == n and 0.0 <= test["p_value"] <= 1.0
    # the lucky rollouts were logged at every GRPO step of both arms
    for arm in ("rlvr", "perception_r1"):
        rollouts = block["training"][arm]["0"]
        assert rollouts["steps"] == [1, 2] and all(0.0 <= v <= 1.0 for v in rollouts["correct_wrong_perception"])
    assert "## The paper's mechanism" in (out / "report.md").read_text()
    # the test problems were multiple choice: letters as gold, graded against them
    items = [json.loads(line) for line in (out / "eval" / "warmup" / "items.jsonl").read_text().splitlines()]
    assert {i["answer"] for i in items} <= set("ABCD")
    # published with its raw records, the mechanism is rebuilt from them and the check passes
    from perception_r1.experiment.publish import publish
    from perception_r1.experiment.recompute import check_folder

    dest = tmp_path / "published"
    publish(out, dest)
    assert json.loads((dest / "summary.json").read_text())["mechanism"] == block
    assert "## The paper's mechanism" in (dest / "report.md").read_text()
    assert check_folder(dest) == []
