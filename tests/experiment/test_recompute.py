"""The recompute check's parts on small folders: figure-by-figure differences, the manifest, what publish replaces.

The whole chain (publish a finished toy experiment, recompute every figure, find an edited one) runs in
tests/experiment/test_runner.py on the module's finished experiment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.experiment.publish import _replaceable, publish, write_manifest
from perception_r1.experiment.recompute import MANIFEST, differences, evaluated, manifest_problems, recipe


@pytest.mark.parametrize(
    ("published", "recomputed", "expected"),
    [
        # equal within float rounding of a JSON round trip
        ({"a": {"mean": 0.1 + 0.2}}, {"a": {"mean": 0.3}}, []),
        # an edited figure, named by its path
        ({"arms": {"rlvr": {"per_seed": [0.5, 0.25]}}}, {"arms": {"rlvr": {"per_seed": [0.5, 0.2]}}},
         ["arms.rlvr.per_seed[1]: 0.25 -> 0.2"]),
        # a key added or dropped by hand
        ({"a": 1, "extra": 2}, {"a": 1}, ["extra: only in the published file"]),
        ({"a": 1}, {"a": 1, "new": None}, ["new: missing from the published file"]),
        # lists of another length, and a bool is no number
        ({"ids": ["x", "y"]}, {"ids": ["x"]}, ['ids: ["x", "y"] -> ["x"]']),
        ({"flag": True}, {"flag": 1}, ["flag: true -> 1"]),
        # strings and None compare exactly
        ({"split_by": "key", "ci95": None}, {"split_by": "key", "ci95": None}, []),
    ],
)  # fmt: skip
def test_differences_names_every_leaf_that_differs(published, recomputed, expected) -> None:
    assert differences(published, recomputed) == expected


def test_the_evaluated_rows_are_the_first_of_each_instance() -> None:
    records = [
        {"split": "test", "id": "t0", "instance": "i1"},
        {"split": "train", "id": "r0"},
        {"split": "test", "id": "t1", "instance": "i2"},
        {"split": "test", "id": "t2", "instance": "i1"},  # the same rendered problem again: evaluated once
        {"split": "train", "id": "r1"},
    ]
    assert [r["id"] for r in evaluated(records, "test")] == ["t0", "t1"]
    assert [r["id"] for r in evaluated(records, "train")] == ["r0", "r1"]  # train keeps its repeats


@pytest.mark.parametrize(
    ("data", "split_by", "reading_steps"),
    [
        # a folder made before data.split_by and the reading stage existed ran an instance split, no reading
        ({"n_test": 10}, "instance", 0),
        # today's recipe.json says what it ran
        ({"n_test": 10, "split_by": "key"}, "key", 2000),
    ],
)
def test_a_recipe_is_read_as_its_folder_ran(tmp_path: Path, data: dict, split_by: str, reading_steps: int) -> None:
    made = {"seeds": [0], "data": data}
    if split_by == "key":
        made["reading"] = {"steps": 2000}
    (tmp_path / "recipe.json").write_text(json.dumps(made))
    cfg = recipe(tmp_path)
    assert (cfg.data.split_by, cfg.reading.steps, cfg.data.n_test) == (split_by, reading_steps, 10)


def test_a_recipe_that_is_no_experiment_recipe_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "recipe.json").write_text(json.dumps({"grpo": {"max_step": 3}}))
    with pytest.raises(ValueError, match="recipe.json.*did you mean 'max_steps'"):
        recipe(tmp_path)


def _published(tmp_path: Path) -> Path:
    dest = tmp_path / "dest"
    (dest / "runs" / "rlvr-seed0").mkdir(parents=True)
    (dest / "summary.json").write_text("{}")
    (dest / "runs" / "rlvr-seed0" / "metrics.jsonl.gz").write_bytes(b"x" * 10)
    write_manifest(dest, tmp_path, [], None)
    return dest


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        # untouched: nothing to report
        (lambda d: None, []),
        # the curator's note added afterwards is no problem
        (lambda d: (d / "NOTE.md").write_text("what this run is"), []),
        # a listed file edited
        (lambda d: (d / "summary.json").write_text('{"a": 1}'),
         ["summary.json: changed since it was published (size or sha256 differs)"]),
        # a listed file removed
        (lambda d: (d / "summary.json").unlink(), ["summary.json: listed in published.json but missing"]),
        # a file slipped in later
        (lambda d: (d / "extra.txt").write_text("x"), ["extra.txt: not listed in published.json"]),
        # weights: never in a results folder, listed or not
        (lambda d: (d / "runs" / "rlvr-seed0" / "model.safetensors").write_bytes(b"w"),
         ["runs/rlvr-seed0/model.safetensors: not listed in published.json",
          "runs/rlvr-seed0/model.safetensors: a results folder holds no model weights, checkpoints or images"]),
        # no manifest at all
        (lambda d: (d / MANIFEST).unlink(),
         ["published.json: missing (not a folder written by `perception-r1 publish`)"]),
    ],
)  # fmt: skip
def test_manifest_problems(tmp_path: Path, damage, expected: list) -> None:
    dest = _published(tmp_path)
    damage(dest)
    assert manifest_problems(dest) == expected


@pytest.mark.parametrize(
    ("files", "replaceable"),
    [
        ({}, True),  # empty
        ({MANIFEST: "{}", "anything/else.txt": "x"}, True),  # an earlier publish
        # a results folder committed before publish existed
        ({"NOTE.md": "n", "report.md": "r", "summary.json": "{}", "timings.json": "{}", "plots/a.png": "p"}, True),
        # ... holding another run's folder: never replaced
        ({"NOTE.md": "n", "summary.json": "{}", "quick/summary.json": "{}"}, False),
        # any other file
        ({"summary.json": "{}", "my-analysis.py": "x"}, False),
    ],
)
def test_what_publish_may_replace(tmp_path: Path, files: dict, replaceable: bool) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _replaceable(tmp_path) == replaceable


def test_publish_refuses_a_folder_that_is_not_an_experiment_and_a_foreign_dest(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no recipe.json"):
        publish(tmp_path / "nothing", tmp_path / "dest")
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "recipe.json").write_text(json.dumps({"seeds": [0]}))
    (run / "data" / "summary.json").write_text("{}")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    with pytest.raises(FileExistsError, match="thesis.tex"):
        publish(run, foreign)
    assert (foreign / "thesis.tex").read_text() == "mine"
