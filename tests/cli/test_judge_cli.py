"""``perception-r1 judge check`` against the fake server and the rule backend."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app
from support import fake_judge
from support.fake_openai_server import FakeOpenAIServer


def invoke(args):
    return CliRunner().invoke(build_app(), ["judge", "check", *args])


@pytest.mark.parametrize(
    ("responder", "script", "exit_code", "reachable", "parsed", "error"),
    [
        (fake_judge.truthful_judge, [], 0, True, True, None),  # healthy judge
        (fake_judge.too_few_judge, [], 1, True, False, "rejected: expected 3 verdicts"),  # reachable, bad verdicts
        (fake_judge.truthful_judge, ["500"] * 3, 1, False, False, "HTTP 500"),  # server errors
    ],
)
def test_check_against_fake_server(responder, script, exit_code, reachable, parsed, error):
    with FakeOpenAIServer(responder, script=script) as server:
        result = invoke(["--judge-base-url", server.base_url, "--judge-max-retries", "2", "--json"])
    assert result.exit_code == exit_code, result.output
    report = json.loads(result.output)
    assert (report["reachable"], report["parsed"]) == (reachable, parsed)
    assert (report["error"] or "").startswith(error or "")
    if parsed:
        assert report["verdicts"] == [1, 0, 1] and report["agreement"] == 1.0 and report["latency_s"] >= 0


def test_check_from_yaml_config_and_structured_output(tmp_path):
    with FakeOpenAIServer(fake_judge.truthful_judge) as server:
        config = tmp_path / "judge.yaml"
        config.write_text(f"judge:\n  base_url: {server.base_url}\n  model: fake\n")
        result = invoke(["--judge-config", str(config), "--judge-structured-output"])
        body = server.requests[-1]
    assert result.exit_code == 0, result.output
    assert "parsed: True" in result.output
    assert body["model"] == "fake" and body["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--judge-backend", "rule"], 0, "parsed: True"),  # the rule judge needs no server
        (["--judge-backend", "rul"], 2, "did you mean 'rule'"),  # typo: configuration error
        (["--judge-base-url", "http://127.0.0.1:9/v1", "--judge-max-retries", "0"], 1, "connection error"),  # down
        (["--backend", "rule"], 2, "No such option: --backend"),  # the old name is gone: no deprecated aliases
    ],
)
def test_check_outcomes_without_server(args, exit_code, message):
    result = invoke(args)
    assert result.exit_code == exit_code
    assert message in result.output + (result.stderr if result.stderr_bytes else "")


def test_old_option_names_are_hidden_from_help():
    help_text = invoke(["--help"]).output
    assert "--judge-backend" in help_text and "--judge-cache-path" in help_text
    assert "--backend " not in help_text and "--max-retries " not in help_text
