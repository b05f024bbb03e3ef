"""``perception-r1 publish``: argument errors are one line and exit 2; a failed check exits 1 naming each problem.

Publishing a real experiment folder and checking it runs in tests/experiment/test_runner.py (the toy experiment).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/a"], "expected RUN_DIR DEST, got 1 folder(s)"),  # DEST forgotten
        (["{tmp}/a", "{tmp}/b", "{tmp}/c"], "expected RUN_DIR DEST, got 3 folder(s)"),  # one too many
        (["{tmp}/nope", "{tmp}/dest"], "nope: no such folder"),  # a mistyped RUN_DIR
        (["{tmp}", "{tmp}/dest"], "no recipe.json; not an experiment folder"),  # a folder that is no experiment
        (["--check", "{tmp}/a", "{tmp}/b"], "--check takes one folder (DEST), got 2"),
        (["--check", "{tmp}/nope"], "nope: no such folder"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(tmp_path: Path, args: list, message: str) -> None:
    result = CliRunner().invoke(build_app(), ["publish", *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "dest").exists()


def test_a_folder_that_was_never_published_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"seeds": [0]}))  # a summary, no records
    result = CliRunner().invoke(build_app(), ["publish", "--check", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "published.json: missing" in result.output and "cannot recompute: " in result.output
