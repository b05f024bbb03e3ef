"""``perception-r1 report`` through the command table of ``cli/main.py``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app

runner = CliRunner()


def make_run(path, torn: bool = False):
    path.mkdir(parents=True)
    rows = [{"step": s, "prompt": "P", "completion": f"c{s}", "rewards": {"format": 1.0}} for s in (1, 2)]
    text = "".join(json.dumps(r) + "\n" for r in rows) + ('{"step": 3, "pro' if torn else "")
    (path / "samples.jsonl").write_text(text)
    (path / "metrics.jsonl").write_text(json.dumps({"step": 1, "reward": 0.5}) + "\n")
    return path


def test_writes_one_page_for_several_runs(tmp_path):
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", torn=True)
    out = tmp_path / "out" / "report.html"
    res = runner.invoke(build_app(), ["report", str(a), str(b), "-o", str(out), "--title", "A vs B"])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.stdout and "(2 run(s), 4 rollout(s), 0 evaluation item(s))" in res.stdout
    # a run still being written is reported, not refused
    assert "warning: b: samples.jsonl: partial: last line (line 3) still being written" in res.stderr
    page = out.read_text()
    assert "<title>A vs B</title>" in page and page.count('class="run-card"') == 2


def test_labels_name_the_runs(tmp_path):
    a = make_run(tmp_path / "a")
    out = tmp_path / "r.html"
    res = runner.invoke(build_app(), ["report", str(a), "-o", str(out), "--label", "baseline"])
    assert res.exit_code == 0, res.output
    assert "baseline</h3>" in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "not a folder: {missing}"),  # a mistyped path is an error, not an empty report
        (["{a}", "--label", "x", "--label", "y"], "--label given 2 time(s) for 1 RUN_DIR(s)"),  # one label per run
    ],
)
def test_bad_arguments_fail_clearly(tmp_path, args, message):
    a = make_run(tmp_path / "a")
    paths = {"a": str(a), "missing": str(tmp_path / "missing")}
    res = runner.invoke(build_app(), ["report", *[x.format(**paths) for x in args], "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2
    assert message.format(**paths) in res.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_log_holding_two_runs_is_warned_about(tmp_path):
    run = make_run(tmp_path / "mixed")
    rows = [{"step": s, "loss": 0.0, "reward": 0.5} for s in (1, 2, 1, 2)]  # two writers, one folder
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(build_app(), ["report", str(run), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "warning: mixed: metrics.jsonl: corrupt: holds more than one run" in res.stderr
