"""Rollout/item records: verdict shapes, totals, problem keys, images, missing keys."""

from __future__ import annotations

import base64

import pytest

from perception_r1.report.rollouts import (
    ImageTable,
    PromptTable,
    item_record,
    problem_key,
    read_verdicts,
    rollout_record,
    total_reward,
)

ANN = {"visual_annotations": ["AB = 5", "BC = 3"]}


@pytest.mark.parametrize(
    ("row", "status", "error", "facts"),
    [
        # what PerceptionReward logs: one 0/1 per annotation, texts from the annotations column
        ({"perception_verdicts": [1, 0], **ANN}, "ok", None, [["AB = 5", 1, None], ["BC = 3", 0, None]]),
        # the judge failed: the reason replaces the verdicts
        ({"perception_verdicts": "HTTP 503 after 3 retries", **ANN}, "failed", "HTTP 503 after 3 retries", []),
        # no annotations: not applicable
        ({"perception_verdicts": None}, "na", None, []),
        # no perception reward in the run at all
        ({"completion": "x"}, "none", None, []),
        # a Judgment-like object that failed
        ({"perception_verdicts": {"status": "failed", "error": "timeout"}}, "failed", "timeout", []),
        # a Judgment-like object that is fine
        ({"perception_verdicts": {"status": "ok", "verdicts": [1]}}, "ok", None, [[None, 1, None]]),
        # experiment rows: per-fact dicts, one failed with its own reason
        (
            {
                "fact_verdicts": [
                    {"fact": "AB = 5", "verdict": 1},
                    {"fact": "BC = 3", "status": "failed", "error": "x"},
                ]
            },
            "ok",
            None,
            [["AB = 5", 1, None], ["BC = 3", -1, "x"]],
        ),
        # per-fact mapping {fact: verdict}
        ({"verdicts": {"AB = 5": True, "BC = 3": "no"}}, "ok", None, [["AB = 5", 1, None], ["BC = 3", 0, None]]),
        # None inside the list: that fact's judgment failed; all failed -> the judgment failed
        ({"perception_verdicts": [None, None], **ANN}, "failed", "judge failed on every fact", None),
        # something else entirely: shown as unreadable, naming the key
        ({"perception_verdicts": [7]}, "bad", "perception_verdicts: unrecognised verdict 7 at position 0", []),
        ({"perception_verdicts": 3.5}, "bad", "perception_verdicts: unrecognised verdict value of type float", []),
    ],
)
def test_read_verdicts(row, status, error, facts):
    got = read_verdicts(row)
    assert got[:2] == (status, error)
    if facts is not None:
        assert got[2] == facts


@pytest.mark.parametrize(
    ("row", "components", "weights", "total"),
    [
        ({"reward": 0.9}, {"format": 1.0}, {"format": 0.1}, 0.9),  # a logged total wins
        ({}, {"format": 1.0, "perception": 0.5}, {"format": 0.1, "perception": 0.7}, 0.45),  # weighted sum
        ({}, {"format": 1.0, "perception": None}, {"format": 0.1, "perception": 0.7}, 0.1),  # None skipped (nansum)
        ({}, {"a": 1.0, "b": 2.0}, {}, 3.0),  # weights unknown: 1 each
        ({}, {"format": None}, {}, None),  # nothing to add up
        ({"reward": float("nan")}, {"a": 1.0}, {}, 1.0),  # a NaN total is not a total
    ],
)
def test_total_reward(row, components, weights, total):
    got = total_reward(row, components, weights)
    assert got is None if total is None else got == pytest.approx(total)


def test_problem_key_prefers_ids_and_hashes_prompts_stably():
    assert problem_key({"problem_id": "geo-7"}, "p") == "geo-7"
    assert problem_key({"id": 12}, "p") == "12"
    # the same prompt in two runs is the same problem; another prompt is not
    assert problem_key({}, "Find AB") == problem_key({"step": 9}, "Find AB") != problem_key({}, "Find BC")
    # the same question about two figures: two problems
    assert problem_key({"image": "a.png"}, "Find AB") != problem_key({"image": "b.png"}, "Find AB")


def test_rollout_record_with_missing_keys_does_not_fail(tmp_path):
    record = rollout_record({}, 0, {}, PromptTable(), ImageTable(), tmp_path)
    assert record["s"] is None and record["c"] == "" and record["w"] == {} and record["t"] is None
    assert record["j"] == "none" and record["a"] is None


@pytest.mark.parametrize(
    ("step", "expected"),
    [(3, 3), (3.0, 3), (2.5, None), ("3", None), (True, None), (None, None)],  # only whole numbers are steps
)
def test_rollout_step(tmp_path, step, expected):
    assert rollout_record({"step": step}, 0, {}, PromptTable(), ImageTable(), tmp_path)["s"] == expected


def test_rollout_record_keeps_extra_keys_as_tags(tmp_path):
    row = {"step": 3, "prompt": "P", "completion": "C", "rewards": {"f": 1}, "arm": "rlvr", "seed": 1, "x": [1]}
    record = rollout_record(row, 2, {"f": 0.5}, PromptTable(), ImageTable(), tmp_path)
    assert record["x"] == {"arm": "rlvr", "seed": 1}  # scalars shown; nested values are not tags
    assert (record["r"], record["s"], record["t"]) == (2, 3, 0.5)


def test_prompts_are_stored_once():
    table = PromptTable()
    assert [table.add("a"), table.add("b"), table.add("a")] == [0, 1, 0] and table.texts == ["a", "b"]


def test_images_are_embedded_once_or_named_with_the_reason(tmp_path):
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    (tmp_path / "img.png").write_bytes(png)
    images = ImageTable()
    first = images.add("img.png", tmp_path)
    assert images.add(str(tmp_path / "img.png"), tmp_path) == first  # relative and absolute: one entry
    assert images.entries[first]["src"].startswith("data:image/png;base64,")
    missing = images.add("nope.png", tmp_path)
    assert images.entries[missing] == {"name": "nope.png", "why": "image file not found"}
    remote = images.add("https://example.org/a.png", tmp_path)
    assert "not fetched" in images.entries[remote]["why"]  # the page never touches the network
    assert images.add(None, tmp_path) is None


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # a scored item
        ({"id": "a", "correct": True, "extracted": "3", "gold": "3"}, {"g": "a", "ok": True, "xa": "3", "e": None}),
        # an error item: not scored
        ({"id": "b", "correct": None, "error": "image: broken"}, {"g": "b", "ok": None, "e": "image: broken"}),
        # a bare row: every key missing
        ({}, {"g": "", "ok": None, "xa": None, "gold": None, "c": ""}),
    ],
)
def test_item_record(row, expected):
    record = item_record(row, 0, "mathvista", PromptTable())
    assert {k: record[k] for k in expected} == expected
    assert record["b"] == "mathvista"
