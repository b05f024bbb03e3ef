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
    # no ground truth: accuracy is null, not 0, and adds nothing to overall (the total training would use)
    assert (rows[2]["accuracy"], rows[2]["overall"]) == (None, pytest.approx(0.1))
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
    ("skip", "env", "code", "expect"),
    [
        (False, None, 2, "in.jsonl:2: line of 2097183 bytes is over the limit of 1048576 bytes"),  # refused, named
        (True, None, 0, "skipped lines: 1"),  # skipped and counted; its neighbours scored
        (True, "1", 0, "skipped lines: 1"),  # the limit from $PERCEPTION_R1_MAX_LINE_MB instead of the option
    ],
)
def test_an_over_long_line_is_a_malformed_line(tmp_path, runner, monkeypatch, skip, env, code, expect):
    from support.hostile import write_long_line_jsonl

    src = write_long_line_jsonl(tmp_path / "in.jsonl", 2 * 2**20)  # a 2 MB line against a 1 MB limit
    out = tmp_path / "out.jsonl"
    args = ["rewards", "score", str(src), "-o", str(out), *(["--skip-invalid"] if skip else [])]
    if env is None:
        args += ["--max-line-mb", "1"]
    else:
        monkeypatch.setenv("PERCEPTION_R1_MAX_LINE_MB", env)
    result = runner.invoke(build_app(), args)
    assert result.exit_code == code, result.output
    assert expect in " ".join(result.output.split())
    if skip:
        assert len(out.read_text().splitlines()) == 2
        summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
        (skipped,) = summary["skipped_lines"]
        assert skipped["line"] == 2 and "over the limit of 1048576 bytes" in skipped["reason"]
    else:
        assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--weights", "{bad"], "--weights is not valid JSON"),  # malformed weights
        (["--weights", '{"acc": 1}'], "unknown reward 'acc'; known: accuracy, format"),  # unknown component
        (["--weights", '{"formatt": 1}'], "unknown reward 'formatt' (did you mean 'format'?)"),  # with suggestion
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
    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer

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
    # nothing judged (the one response failed) is an error exit naming the reason; the scores are still written
    assert result.exit_code == (1 if failures else 0), result.output
    row = json.loads(out.read_text())
    assert row["perception"] == perception
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["judge_failures"] == failures
    assert summary["judge_failure_reasons"] == ({"invalid reply": 1} if failures else {})
    # a failed judgment adds nothing to overall, as in training (perception stays null and the failure is counted)
    assert row["overall"] == pytest.approx(0.9 + 0.1 + (0.0 if failures else 0.7 * perception))


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("dead", "connection"),  # nothing listens on the port
        ("401", "HTTP 401"),  # a wrong API key: not retried
        ("hang", "timeout"),  # the server never answers within --judge-timeout-s
        ("invalid_json", "invalid reply"),  # a 200 with a body that is not JSON
    ],
)
def test_dead_or_failing_judge_exits_non_zero_with_the_reason(tmp_path, runner, fault, reason):
    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer, free_port

    line = json.dumps({"response": ANNOTATED, "answer": "5", "visual_annotations": ["AB = 5", "AB ∥ CD"]})
    src = write_lines(tmp_path / "in.jsonl", [line, line.replace("AB = 5", "AB = 6")])
    out = tmp_path / "out.jsonl"
    server = FakeOpenAIServer(fake_judge.truthful_judge, script=[fault] * 10, hang_s=5.0)
    args = ["rewards", "score", str(src), "-o", str(out), "--judge-model", "fake", "--judge-max-retries", "0"]
    args += ["--judge-timeout-s", "0.5"]
    if fault == "dead":
        result = runner.invoke(build_app(), [*args, "--judge-base-url", f"http://127.0.0.1:{free_port()}/v1"])
    else:
        with server:
            result = runner.invoke(build_app(), [*args, "--judge-base-url", server.base_url])
    assert result.exit_code == 1, result.output
    assert "could not judge any response" in result.output
    assert f"{reason}: 2" in result.output  # printed summary and error line count by reason
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["judge_failures"] == 2 and summary["judged"] == 0
    assert summary["judge_failure_reasons"] == {reason: 2}


def test_invalid_utf8_line_is_named_and_skippable(tmp_path, runner):
    src = tmp_path / "in.jsonl"
    good = json.dumps({"id": "a", "response": GOOD, "answer": "4\\pi"}).encode()
    src.write_bytes(good + b"\n" + b'{"id": "b", "response": "\xff\xfe", "answer": "1"}\n' + good + b"\n")
    out = tmp_path / "out.jsonl"
    stopped = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out)])
    assert stopped.exit_code == 2
    assert "in.jsonl:2: not valid UTF-8" in stopped.output and not out.exists()
    skipped = runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out), "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["scored"] == 2 and summary["skipped_lines"][0]["line"] == 2
    assert "not valid UTF-8" in summary["skipped_lines"][0]["reason"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "{tmp}"], "is a folder"),  # -o an existing directory
        (["-o", "{tmp}/o.jsonl", "--judge-base-url", "http://127.0.0.1:70000/v1"], "ports are 1-65535"),  # port
        (["-o", "{tmp}/o.jsonl", "--judge-backend", "openai", "--judge-cache-path", "{tmp}/bad.db"], "not a usable"),
    ],
)
def test_bad_outputs_and_endpoints_are_messages(tmp_path, runner, extra, message):
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": ANNOTATED, "answer": "5",
                                                          "visual_annotations": ["AB = 5"]})])  # fmt: skip
    (tmp_path / "bad.db").write_bytes(b"garbage, not sqlite" * 100)
    args = ["rewards", "score", str(src), *[a.format(tmp=tmp_path) for a in extra]]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_outputs_respect_the_umask(tmp_path, runner):
    import os

    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": GOOD, "answer": "4\\pi"})])
    out = tmp_path / "out.jsonl"
    old = os.umask(0o022)
    try:
        assert runner.invoke(build_app(), ["rewards", "score", str(src), "-o", str(out)]).exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert (tmp_path / "out.jsonl.summary.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.integration
def test_sigterm_leaves_no_temporary_files(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from support import fake_judge
    from support.fake_openai_server import FakeOpenAIServer

    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"response": ANNOTATED, "answer": "5",
                                                          "visual_annotations": ["AB = 5"]})])  # fmt: skip
    with FakeOpenAIServer(fake_judge.truthful_judge, latency_s=30) as server:
        cmd = [sys.executable, "-m", "perception_r1.cli.main", "rewards", "score", str(src)]
        cmd += ["-o", str(tmp_path / "out.jsonl"), "--judge-base-url", server.base_url, "--judge-timeout-s", "60"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 90
        while not server.requests and time.time() < deadline:  # the output's temporary file is open by now
            time.sleep(0.05)
        assert list(tmp_path.glob(".out.jsonl.*.tmp")), "the scorer should be mid-write"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode(errors="replace")
    assert not list(tmp_path.glob(".*.tmp")) and not (tmp_path / "out.jsonl").exists()
