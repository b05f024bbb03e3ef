import json

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app

GOOD = "<think>\nr = 2\n</think>\n<answer>\n\\boxed{4\\pi}\n</answer>"


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def runner():
    return CliRunner()


def test_score_happy_path(tmp_path, runner):
    src = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps({"id": "a", "response": GOOD, "answer": "4\\pi"}),
            json.dumps({"id": "b", "response": "\\boxed{B}", "answer": "8", "choices": ["6", "8"]}),
            json.dumps({"id": "c", "response": GOOD, "answer": None}),
            json.dumps({"id": "d", "response": GOOD, "answer": 12}),
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0] | {} == {
        "id": "a",
        "response": GOOD,
        "answer": "4\\pi",
        "accuracy": 1.0,
        "format": 1.0,
        "repetition": 0.0,
        "overall": 1.0,
    }
    assert (rows[1]["accuracy"], rows[1]["format"], rows[1]["overall"]) == (1.0, 0.0, 0.9)
    assert (rows[2]["accuracy"], rows[2]["overall"]) == (None, None)  # no ground truth -> null, not 0
    assert rows[3]["accuracy"] == 0.0  # numeric answer accepted
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert (summary["scored"], summary["skipped"], summary["null_counts"]["accuracy"]) == (4, 0, 1)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("{not json", "not valid JSON"),  # broken JSON
        ("[1, 2]", "expected a JSON object"),  # not an object
        (json.dumps({"response": 3, "answer": "1"}), "'response' must be a string"),  # wrong type
        (json.dumps({"response": "x"}), "missing key 'answer'"),  # missing key
        (json.dumps({"response": "x", "answer": "1", "visual_annotations": "AB = 3"}), "'visual_annotations' must"),
    ],
)
def test_malformed_line_stops_with_line_number(tmp_path, runner, bad_line, reason):
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": GOOD, "answer": "1"}), bad_line])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out)])
    assert result.exit_code == 2
    assert f"in.jsonl:2: {reason}" in result.output
    assert not out.exists()  # atomic: nothing half-written


def test_skip_invalid_counts_skipped_lines(tmp_path, runner):
    src = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps({"response": GOOD, "answer": "4\\pi"}),
            "oops",
            "",
            json.dumps({"response": 1, "answer": "1"}),
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 1
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["skipped"] == 2 and [s["line"] for s in summary["skipped_lines"]] == [2, 4]
    assert "skipped lines: 2" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--weights", "{bad"], "--weights is not valid JSON"),  # malformed weights
        (["--weights", '{"acc": 1}'], "unknown reward component"),  # unknown component
    ],
)
def test_bad_options(tmp_path, runner, extra, message):
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": GOOD, "answer": "1"})])
    result = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(tmp_path / "o.jsonl"), *extra])
    assert result.exit_code != 0
    assert message in result.output


def test_missing_input_file(tmp_path, runner):
    result = runner.invoke(build_app(), ["rewards", "score", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such input file" in result.output


ANNOTATED = "<think>\nAB = 5 and angle ABC = 40°\n</think>\n<answer>\n\\boxed{5}\n</answer>"


def test_perception_with_rule_judge(tmp_path, runner):
    src = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps({"response": ANNOTATED, "answer": "5", "visual_annotations": ["AB = 5", "AB ∥ CD"]}),
            json.dumps({"response": ANNOTATED, "answer": "5", "visual_key_info": "<info1>AB = 5</info1>"}),
            json.dumps({"response": ANNOTATED, "answer": "5"}),  # no annotations: perception not applicable
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out), "--judge-backend", "rule"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["perception"] for r in rows] == [0.5, 1.0, None]
    assert [r["overall"] for r in rows] == [pytest.approx(1.35), pytest.approx(1.7), pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("responder", "perception", "failures"),
    [
        ("truthful_judge", 0.5, 0),  # a judge that answers every annotation
        ("too_few_judge", None, 1),  # too few verdicts: retried, then a counted failure, never 0 or 1.0
    ],
)
def test_perception_against_openai_compatible_server(tmp_path, runner, responder, perception, failures):
    from perception_r1.testing import fake_judge
    from perception_r1.testing.fake_openai_server import FakeOpenAIServer

    src = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps({"response": ANNOTATED, "answer": "5", "visual_annotations": ["AB = 5", "AB ∥ CD"]}),
        ],
    )
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(getattr(fake_judge, responder)) as server:
        result = runner.invoke(
            build_app(),
            [
                "rewards",
                "score",
                str(src),
                "-o",
                str(out),
                "--judge-base-url",
                server.base_url,
                "--judge-model",
                "fake",
                "--judge-max-retries",
                "0",
                "--judge-cache-path",
                str(tmp_path / "cache.db"),
            ],
        )
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())
    assert row["perception"] == perception
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["judge_failures"] == failures
    assert (row["overall"] is None) == (failures > 0)
