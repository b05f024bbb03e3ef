"""``perception-r1 eval`` / ``eval rescore`` / ``eval table`` through the CLI, with the openai backend against a
real local OpenAI-compatible HTTP server (the project's fake server on 127.0.0.1, started and stopped here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from perception_r1.cli import main as cli_main
from support.fake_openai_server import FakeOpenAIServer, last_user_text

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"
runner = CliRunner()


def build_app() -> typer.Typer:
    """The top-level app with only this group mounted, as ``cli/main.py`` registers it."""
    (entry,) = [g for g in cli_main.GROUPS if g[0] == "eval"]
    top = typer.Typer()
    top.add_typer(entry[1], name="eval")
    return top


def responder(body: dict) -> str:
    """Model: always answers B, except "no answer" for the colour question. Grader: yes. Extractor: A."""
    text = last_user_text(body)
    if "Ground truth:" in text:
        return "yes"
    if "Extract the model's final answer" in text:
        return "A"
    if text.startswith("What color"):
        return "I cannot tell."
    return "<think>\nhm\n</think>\n<answer>\n\\boxed{B}\n</answer>"


@pytest.fixture
def server():
    with FakeOpenAIServer(responder=responder) as srv:
        yield srv


def _eval(out: Path, server, *extra: str):
    args = ["eval", "--model", "served-model", "--backend", "openai", "--backend-opt", f"base_url={server.base_url}",
            "-b", "mmstar", "--data-dir", str(FIXTURES), "-o", str(out), *extra]  # fmt: skip
    if "--scoring" not in extra:  # the fake model answers in the project's format, which corrected scoring reads
        args += ["--scoring", "corrected"]
    return runner.invoke(build_app(), args)


def test_eval_openai_backend_rescore_and_table(tmp_path: Path, server) -> None:
    out = tmp_path / "run"
    res = _eval(out, server)
    assert res.exit_code == 0, res.output
    # item 1 (gold B) right, item 0 (gold A) no answer
    assert "mmstar: 50.0 (2 scored, 0 errors; corrected scoring, headline over scored items)" in res.stdout
    # images travel as data URLs in the chat request
    parts = server.requests[0]["messages"][-1]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    n_requests = len(server.requests)

    # rerun: cached, no request sent
    assert _eval(out, server).exit_code == 0
    assert len(server.requests) == n_requests

    # rescore with the LLM stages: extraction fallback finds "A" for the unanswered item; grading says yes
    res = runner.invoke(build_app(), ["eval", "rescore", str(out), "--llm-extract", "--llm-grade",
                                      "--llm-base-url", server.base_url, "--scoring", "corrected"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "mmstar: 100.0" in res.stdout
    recs = [json.loads(x) for x in (out / "items" / "mmstar.jsonl").read_text().splitlines()]
    assert [(r["extracted"], r["extraction"], r["graded_by"]) for r in recs] == [
        ("A", "llm", "llm"),
        ("B", "answer_block", "llm"),
    ]

    # rescore without LLM stages: back to the rules
    res = runner.invoke(build_app(), ["eval", "rescore", str(out), "--scoring", "corrected"])
    assert "mmstar: 50.0" in res.stdout

    res = runner.invoke(build_app(), ["eval", "table", str(out), str(out), "--no-paper", "-o", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("| served-model | 50.0 (2 of 1,500 items) |") == 2
    assert (tmp_path / "r" / "chart.png").is_file()


def test_llm_grading_failure_falls_back_to_rules(tmp_path: Path) -> None:
    def flaky(body: dict) -> str:
        return "maybe" if "Ground truth:" in last_user_text(body) else "<answer>\n\\boxed{B}\n</answer>"

    with FakeOpenAIServer(responder=flaky) as srv:
        out = tmp_path / "run"
        res = _eval(out, srv, "--llm-grade", "--llm-base-url", srv.base_url)
    assert res.exit_code == 0, res.output
    recs = [json.loads(x) for x in (out / "items" / "mmstar.jsonl").read_text().splitlines()]
    assert [(r["correct"], r["graded_by"]) for r in recs] == [(False, "rule_fallback"), (True, "rule_fallback")]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--model", "m", "-b", "chartqa"], "unknown benchmark 'chartqa'"),  # unknown benchmark lists known ones
        (["--model", "m", "-b", "mathvsta"], "did you mean 'mathvista'"),  # typo
        (["--model", "m", "--backend", "sglang"], "unknown generation backend"),  # unknown backend
        (["-b", "mmstar"], "--model is required"),  # no model and no subcommand
        (["--model", "m", "--backend-opt", "novalue"], "KEY=VALUE"),  # malformed backend option
        (["rescore", "does-not-exist"], "no items/*.jsonl"),  # nothing to rescore
        (["table", "does-not-exist"], "no summary.json"),  # not an evaluation folder
    ],
)
def test_errors(tmp_path: Path, args: list[str], match: str) -> None:
    res = runner.invoke(build_app(), ["eval", *args, *(["-o", str(tmp_path)] if args[0] == "--model" else [])])
    assert res.exit_code == 2, res.output
    assert match in res.output
    if "benchmark" in match or "did you mean" in match:
        assert "emma, mathverse, mathvision, mathvista, mmmu, mmmu_pro, mmstar, wemath" in res.output


def test_missing_local_data_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(build_app(), ["eval", "--model", "m", "-b", "mmstar", "--data-dir", str(tmp_path / "none"),
                                      "-o", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 2 and "no local copy of mmstar" in res.output


def test_rescore_switches_scoring_modes_without_a_model(tmp_path: Path) -> None:
    """`eval rescore --scoring` flips a folder between modes; summary.json, table.md and breakdowns.md name it."""

    def direct(body: dict) -> str:  # answers "B" with reasoning first, as CoT models do
        return "<think>\nhm\n</think>\n<answer>\n\\boxed{B}\n</answer>"

    with FakeOpenAIServer(responder=direct) as srv:
        out = tmp_path / "run"
        res = _eval(out, srv, "--scoring", "official")
        assert res.exit_code == 0, res.output
    # official MMStar reads only the first character ("<"): both items wrong, over all items
    assert "mmstar: 0.0 (2 scored, 0 errors; official scoring, headline over all items)" in res.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scoring"] == "official" and summary["benchmarks"]["mmstar"]["denominator"] == "all"
    assert "Scoring: official" in (out / "breakdowns.md").read_text()
    assert "served-model: official" in (out / "table.md").read_text()
    # the server is gone: rescoring must not need the model
    res = runner.invoke(build_app(), ["eval", "rescore", str(out), "--scoring", "corrected"])
    assert res.exit_code == 0, res.output
    assert "mmstar: 50.0 (2 scored, 0 errors; corrected scoring, headline over scored items)" in res.stdout
    assert json.loads((out / "summary.json").read_text())["scoring"] == "corrected"
    assert "served-model: corrected" in (out / "table.md").read_text()


@pytest.mark.parametrize("command", [["--model", "m"], ["rescore", "x"]])  # both commands check the mode
def test_unknown_scoring_mode(tmp_path: Path, command: list[str]) -> None:
    extra = ["-o", str(tmp_path)] if command[0] == "--model" else []
    res = runner.invoke(build_app(), ["eval", *command, "--scoring", "official2", *extra])
    assert res.exit_code == 2, res.output
    assert "--scoring must be one of official, corrected" in res.output


@pytest.mark.parametrize(
    ("files", "args", "match"),
    [
        # a corrupt summary.json: named, not a JSONDecodeError traceback
        ({"run/summary.json": "{not json"}, ["table", "{tmp}/run", "-o", "{tmp}/r"], "summary.json: not a valid"),
        # valid JSON of the wrong shape
        ({"run/summary.json": "[1, 2]"}, ["table", "{tmp}/run", "-o", "{tmp}/r"], "summary.json: not a valid"),
        # a stored record whose response is not a string
        (
            {"run/items/mmstar.jsonl": json.dumps({"id": "1", "response": 5, "gold": "A", "error": None}) + "\n"},
            ["rescore", "{tmp}/run"],
            "mmstar.jsonl:1: 'response' must be a string or null, got int",
        ),
        # invalid UTF-8 in a stored record file names the line
        (
            {"run/items/mmstar.jsonl": b'{"id": "1", "response": "\xff", "gold": "A"}\n'},
            ["rescore", "{tmp}/run"],
            "mmstar.jsonl:1: not valid UTF-8",
        ),  # fmt: skip
    ],
)
def test_corrupt_eval_folders_are_messages(tmp_path: Path, files: dict, args: list[str], match: str) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    res = runner.invoke(build_app(), ["eval", *[a.format(tmp=tmp_path) for a in args]])
    assert res.exit_code == 2, res.output
    assert match in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def _eval_args(out: Path, server, model: str) -> list[str]:
    return ["eval", "--model", model, "--backend", "openai", "--backend-opt", f"base_url={server.base_url}",
            "-b", "mmstar", "--data-dir", str(FIXTURES), "-o", str(out), "--scoring", "corrected"]  # fmt: skip


@pytest.mark.integration
def test_a_second_eval_on_the_same_folder_is_refused_and_the_first_keeps_its_results(tmp_path: Path, server):
    from support.cli_runs import error_lines, holder_pid, run_cli, start_cli, wait_for

    out, release = tmp_path / "run", tmp_path / "release"
    first = start_cli("--pause-until", str(release), "--", *_eval_args(out, server, "model-a"),
                      module="support.fault_run")  # fmt: skip
    try:
        wait_for(lambda: holder_pid(out) == first.pid, 300, "the first eval to hold the folder", first)
        second = run_cli(*_eval_args(out, server, "model-b"))
    finally:
        release.touch()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    (line,) = error_lines(second.stderr)
    assert f"{out} is in use by another run: eval (pid {first.pid}" in line
    done = first.finish()
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["model"] == "model-a"
    assert json.loads((out / "run.json").read_text())["model"] == "model-a"


@pytest.mark.integration
def test_two_evals_started_together_never_both_succeed(tmp_path: Path, server):
    from support.cli_runs import start_cli

    out = tmp_path / "run"
    runs = {model: start_cli(*_eval_args(out, server, model)) for model in ("model-a", "model-b")}
    done = {model: run.finish() for model, run in runs.items()}
    # refused by the lock, or (started after the other finished) by the settings guard: never both "wrote"
    assert sorted(d.returncode for d in done.values()) == [0, 2], {m: d.stderr[-1500:] for m, d in done.items()}
    (winner,) = [m for m, d in done.items() if d.returncode == 0]
    assert json.loads((out / "summary.json").read_text())["model"] == winner
    assert json.loads((out / "run.json").read_text())["model"] == winner
