"""Experiment splits: disjoint by problem key, every family present, overlap detected with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.config import from_dict
from perception_r1.experiment.config import QUICK, DataSection, ExperimentConfig
from perception_r1.experiment.data import (
    SplitOverlapError,
    check_disjoint,
    count_twins,
    load_split,
    make_splits,
    problem_key,
    split_figures,
    unique_instances,
    write_splits,
)

ALL_FAMILIES = {"triangle_angle_sum", "isosceles_triangle", "right_triangle", "parallel_lines", "rectangle", "circle"}


@pytest.fixture(scope="module")
def splits() -> dict:
    # key split at difficulty 1: few distinct problems per family (six right-triangle keys), the hard case
    return make_splits(DataSection(n_train=60, n_val=12, n_test=24, seed=3, difficulty=1, split_by="key"), 112)


@pytest.mark.parametrize(
    ("difficulty", "split_by"),
    [
        (1, "key"),  # no family/values combination in two splits
        (2, "instance"),  # no rendered problem (question + image) in two splits
    ],
)
def test_splits_are_disjoint_and_cover_all_families(difficulty: int, split_by: str) -> None:
    data = DataSection(n_train=60, n_val=12, n_test=24, seed=3, difficulty=difficulty, split_by=split_by)
    out = make_splits(data, image_size=112)
    check_disjoint(out, split_by)
    keys = {name: {problem_key(r, split_by) for r in rows} for name, rows in out.items()}
    assert not keys["train"] & keys["test"] and not keys["val"] & keys["test"] and not keys["train"] & keys["val"]
    assert len(out["train"]) == 60 and len(out["test"]) >= 24 and len(out["val"]) >= 12
    for rows in out.values():
        assert {json.loads(r["meta"])["family"] for r in rows} == ALL_FAMILIES


def test_splits_are_deterministic(splits: dict) -> None:
    again = make_splits(DataSection(n_train=60, n_val=12, n_test=24, seed=3, difficulty=1, split_by="key"), 112)
    assert [r["id"] for r in again["test"]] == [r["id"] for r in splits["test"]]


def test_instance_identity_ignores_row_ids(splits: dict) -> None:
    # the same question and pixels under another id and another PNG encoding is the same instance
    from perception_r1.data.schema import image_to_bytes, open_image

    row = splits["test"][0]
    again = {**row, "id": "other", "images": [image_to_bytes(open_image(row["images"][0]).convert("RGB"))]}
    assert problem_key(row, "instance") == problem_key(again, "instance")
    with pytest.raises(SplitOverlapError):
        check_disjoint({"train": [again], "test": [row]}, "instance")


@pytest.mark.parametrize(
    "mutate",
    [
        # the same problem (same key) in train and test
        lambda s: s["test"].append(dict(s["train"][0], id="copied")),
        # a row without meta: its text and image identify it
        lambda s: (
            s["test"].append({**s["train"][1], "meta": None, "id": "x"}),
            s["train"].__setitem__(1, {**s["train"][1], "meta": None}),
        ),
    ],
)
def test_overlap_is_an_error_naming_rows(splits: dict, mutate) -> None:
    copy = {k: list(v) for k, v in splits.items()}
    mutate(copy)
    with pytest.raises(SplitOverlapError, match="'train' and 'test' share 1 problem"):
        check_disjoint(copy)


def test_write_and_load_round_trip(splits: dict, tmp_path: Path) -> None:
    summary = write_splits(splits, tmp_path)
    assert summary["test"]["rows"] == len(splits["test"])
    loaded = load_split(tmp_path, "test")
    assert [r["id"] for r in loaded] == [r["id"] for r in splits["test"]]
    assert loaded[0]["visual_annotations"] == splits["test"][0]["visual_annotations"]


def test_missing_split_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="val.parquet: missing"):
        load_split(tmp_path, "val")


@pytest.mark.parametrize(
    "mode",
    [
        {},  # full mode (difficulty 2, fixed letters)
        QUICK,  # quick mode (difficulty 1, where one key holds many identical renderings)
    ],
)
def test_the_default_splits_are_held_out_by_values(mode: dict) -> None:
    cfg = from_dict(ExperimentConfig, mode)
    assert cfg.data.split_by == "key"
    small = DataSection(**{**vars(cfg.data), "n_train": 60, "n_val": 12, "n_test": 24})
    out = make_splits(small, image_size=112)
    check_disjoint(out, "key")
    figures = split_figures({"train": out["train"], **{s: unique_instances(out[s]) for s in ("val", "test")}}, "key")
    # counted, not assumed: no validation or test problem shares family, variant and values with train
    assert figures["test"]["twins"] == figures["val"]["twins"] == 0
    assert figures["test"]["problems"] >= figures["test"]["keys"] >= 6  # every family at least once
    assert figures["split_by"] == "key" and "twins" not in figures["train"]


def test_an_instance_split_is_disjoint_by_instance_but_has_twins_by_values() -> None:
    # What the earlier committed runs used: check_disjoint("instance") passes, yet test problems repeat train
    # values (same family, variant and answer); count_twins finds them and check_disjoint("key") refuses them.
    data = DataSection(n_train=60, n_val=12, n_test=24, seed=3, difficulty=1, split_by="instance")
    out = make_splits(data, image_size=112)
    check_disjoint(out, "instance")
    test = unique_instances(out["test"])
    twins = count_twins(out["train"], test)
    assert 0 < twins <= len(test)
    assert twins == sum(problem_key(r) in {problem_key(t) for t in out["train"]} for r in test)
    with pytest.raises(SplitOverlapError, match=r"share \d+ problem"):
        check_disjoint(out, "key")


@pytest.mark.parametrize(
    ("train_answers", "test_answers", "twins"),
    [
        ([], ["a", "b"], 0),  # nothing trained on: no twin
        (["a"], ["a", "b"], 1),  # one test problem repeats a train key
        (["a", "b"], ["a", "b", "a"], 3),  # every test row counts, duplicates included
    ],
)
def test_count_twins_counts_rows_with_a_train_key(train_answers: list, test_answers: list, twins: int) -> None:
    def row(key: str) -> dict:
        return {"id": key, "problem": "q", "meta": json.dumps({"key": ["family", key]})}

    assert count_twins([row(k) for k in train_answers], [row(k) for k in test_answers]) == twins


@pytest.mark.parametrize(
    "split_by",
    [
        "key",  # held out by values
        "instance",  # held out by figure and question: the options do not make another problem
    ],
)
def test_multiple_choice_splits_hold_the_same_problems_with_options(split_by: str) -> None:
    base = {"n_train": 60, "n_val": 12, "n_test": 24, "seed": 3, "difficulty": 1, "split_by": split_by}
    plain = make_splits(DataSection(**base), 112)
    mc = make_splits(DataSection(**base, multiple_choice=True), 112)
    check_disjoint(mc, split_by)
    # the same rows in every split: the same figures, keys and facts, now with options and a letter as gold
    for name in plain:
        assert [r["id"] for r in mc[name]] == [r["id"] for r in plain[name]]
        assert all(r["answer"] in "ABCD" and len(r["choices"]) == 4 for r in mc[name])
    # at difficulty 1 a figure recurs with its options in another order: one test problem, evaluated once
    assert [r["id"] for r in unique_instances(mc["test"])] == [r["id"] for r in unique_instances(plain["test"])]
    assert {problem_key(r, "instance") for r in mc["test"]} == {problem_key(r, "instance") for r in plain["test"]}
