"""Reading run folders: file states (ok, missing, still being written, corrupt), kinds, experiment expansion."""

from __future__ import annotations

import gzip
import json

import pytest

from perception_r1.report.load import expand_run_dirs, load_run, read_json, read_jsonl

GOOD = '{"step": 1}\n{"step": 2}\n'


JSONL_CASES = [
    (GOOD, "ok", 2, ""),  # a complete file
    (GOOD + '{"step": 3, "rew', "partial", 2, "line 3"),  # torn last line: a write in progress
    ('{"step": 1}\nnot json\n{"step": 3}\n', "corrupt", 2, "line 2"),  # a bad line inside: skipped, named
    ('{"step": 1}\n[1, 2]\n', "corrupt", 1, "expected a JSON object"),  # valid JSON, not an object
    ('{"step": 1}\n{"step": 2\n', "corrupt", 1, "line 2"),  # a complete (newline-ended) but broken last line
    ('oops\n{"step": 2}\n{"ste', "corrupt", 1, "still being written"),  # both: a bad line and a torn tail
    ("", "ok", 0, ""),  # an empty file just created by the trainer
]


@pytest.mark.parametrize(("text", "state", "rows", "detail"), JSONL_CASES)
def test_read_jsonl_states(tmp_path, text, state, rows, detail):
    (tmp_path / "m.jsonl").write_text(text)
    got, status = read_jsonl(tmp_path, "m.jsonl")
    assert (status.state, len(got), status.rows) == (state, rows, rows)
    assert detail in status.detail


@pytest.mark.parametrize(("text", "state", "rows", "detail"), JSONL_CASES)
def test_a_gzip_compressed_file_reads_like_the_plain_one(tmp_path, text, state, rows, detail):
    # a published folder holds m.jsonl.gz where the run wrote m.jsonl: the same rows, the same state
    (tmp_path / "m.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    got, status = read_jsonl(tmp_path, "m.jsonl")
    assert (status.name, status.state, len(got), status.rows) == ("m.jsonl.gz", state, rows, rows)
    assert detail in status.detail


def test_a_cut_gzip_file_is_corrupt_with_the_rows_before_the_cut(tmp_path):
    packed = gzip.compress(("".join(json.dumps({"step": i}) + "\n" for i in range(2000))).encode())
    (tmp_path / "m.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    got, status = read_jsonl(tmp_path, "m.jsonl")
    assert status.state == "corrupt" and "gzip" in status.detail
    assert 0 < len(got) < 2000 and [r["step"] for r in got] == list(range(len(got)))


def test_a_published_experiment_with_compressed_logs_expands_and_loads(tmp_path, files):
    exp = tmp_path / "exp"
    for name in ("rlvr-seed0", "frozen-seed0"):
        files.write_jsonl(exp / "runs" / name / "metrics.jsonl", files.metric_rows(3))
        files.write_jsonl(exp / "runs" / name / "samples.jsonl", files.sample_rows([1, 3]))
        for log in ("metrics.jsonl", "samples.jsonl"):  # compressed as `perception-r1 publish` does, plain ones gone
            plain = exp / "runs" / name / log
            plain.with_name(log + ".gz").write_bytes(gzip.compress(plain.read_bytes()))
            plain.unlink()
    assert [label for _, label, _ in expand_run_dirs([exp])] == ["frozen-seed0", "rlvr-seed0"]
    run = load_run(exp / "runs" / "rlvr-seed0")
    assert run.is_train and len(run.metrics) == 3 and run.samples
    assert {f.name: f.state for f in run.files}["samples.jsonl.gz"] == "ok"


def test_read_jsonl_missing(tmp_path):
    assert read_jsonl(tmp_path, "m.jsonl")[1].state == "missing"


@pytest.mark.parametrize(
    ("text", "state", "detail"),
    [
        ('{"steps": 3}', "ok", ""),  # a JSON object
        ('{"steps": ', "corrupt", "not valid JSON"),  # truncated
        ("[1, 2]", "corrupt", "expected a JSON object, got list"),  # not an object
        (None, "missing", "not written"),  # absent
    ],
)
def test_read_json_states(tmp_path, text, state, detail):
    if text is not None:
        (tmp_path / "summary.json").write_text(text)
    value, status = read_json(tmp_path, "summary.json")
    assert status.state == state and detail in status.detail
    assert (value is not None) == (state == "ok")


def test_training_run_in_progress_is_read_and_flagged(tmp_path, files):
    run = tmp_path / "r"
    files.write_jsonl(run / "metrics.jsonl", files.metric_rows(3), tail='{"step": 4, "rew')
    loaded = load_run(run)
    assert loaded.is_train and not loaded.is_eval and loaded.in_progress
    assert [r["step"] for r in loaded.metrics] == [1, 2, 3]
    states = {f.name: f.state for f in loaded.files}
    # no summary yet and no samples yet: listed as missing, never an exception
    assert states == {"metrics.jsonl": "partial", "samples.jsonl": "missing", "summary.json": "missing"}


def test_eval_folder_does_not_flag_training_files(eval_run):
    loaded = load_run(eval_run())
    assert loaded.is_eval and not loaded.is_train and not loaded.in_progress
    assert {f.name for f in loaded.files} == {"summary.json", "items/mathvista.jsonl"}
    assert len(loaded.items["mathvista"]) == 5


def test_missing_folder_is_a_run_shown_as_missing(tmp_path):
    loaded = load_run(tmp_path / "nope", label="gone")
    assert not loaded.exists and loaded.label == "gone"
    assert loaded.files[0].state == "missing" and "no such folder" in loaded.files[0].detail


@pytest.mark.parametrize(
    ("summary", "recipe", "weights"),
    [
        ({"rewards": {"format": 0.1, "perception": 0.7}}, None, {"format": 0.1, "perception": 0.7}),  # train summary
        (
            None,
            {"rewards": [{"name": "accuracy", "weight": 1.0}, {"name": "format"}]},
            {"accuracy": 1.0, "format": 1.0},
        ),
        ({"rewards": "weird"}, None, {}),  # unknown shape: no weights rather than an error
    ],
)
def test_reward_weights(tmp_path, summary, recipe, weights):
    for name, value in (("summary.json", summary), ("recipe.json", recipe)):
        if value is not None:
            (tmp_path / name).write_text(json.dumps(value))
    assert load_run(tmp_path).reward_weights() == weights


def test_experiment_folder_expands_into_its_runs(tmp_path, train_run, files):
    exp = tmp_path / "exp"
    for name in ("rlvr-seed0", "perception_r1-seed0"):
        files.write_jsonl(exp / "runs" / name / "metrics.jsonl", files.metric_rows(2))
    plain = train_run("plain")
    got = expand_run_dirs([exp, plain], labels=["E", "P"])
    assert got == [
        (exp / "runs" / "perception_r1-seed0", "E/perception_r1-seed0", "E"),
        (exp / "runs" / "rlvr-seed0", "E/rlvr-seed0", "E"),
        (plain, "P", None),
    ]
    # a single experiment: its runs keep their own names
    assert [label for _, label, _ in expand_run_dirs([exp])] == ["perception_r1-seed0", "rlvr-seed0"]


def test_labels_must_match_folders(tmp_path):
    with pytest.raises(ValueError, match="expected 2"):
        expand_run_dirs([tmp_path, tmp_path], labels=["only one"])


def test_default_labels_disambiguate_equal_names(tmp_path):
    a, b = tmp_path / "x" / "run", tmp_path / "y" / "run"
    assert [label for _, label, _ in expand_run_dirs([a, b])] == ["x/run", "y/run"]


def _metrics(*steps):
    return [{"step": s, "loss": 0.1, "reward": 0.5} for s in steps]


@pytest.mark.parametrize(
    ("rows", "detail"),
    [
        # one run, then the end-of-training summary at the last step's number: fine
        (_metrics(1, 2, 3) + [{"step": 3, "train_runtime": 9.0}], None),
        # a resumed run (rows after the checkpoint dropped first): fine
        (_metrics(1, 2, 3, 4), None),
        # two runs started together: two rows per step
        (_metrics(1, 1, 2, 2, 3, 3), "step(s) 1, 2, 3 logged more than once"),
        # the second resumed from the first one's checkpoint while the first kept training (the order)
        (_metrics(1, 2, 3, 4, 5, 4, 5, 6, 7, 6, 8), "the steps go back from 5 to 4"),
    ],
)
def test_a_log_holding_two_runs_is_flagged(tmp_path, rows, detail):
    from perception_r1.report.load import mixed_runs

    assert (mixed_runs(rows) is None) == (detail is None)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    status = load_run(tmp_path).files[0]
    if detail is None:
        assert status.state == "ok"
    else:
        assert status.state == "corrupt" and detail in status.detail and "holds more than one run" in status.detail
