"""``cli.errors.fail``: the one way a command stops on bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

import perception_r1.cli as cli_pkg
from perception_r1.cli.errors import fail


@pytest.mark.parametrize(
    ("message", "code", "shown"),
    [
        ("no such file: x.yaml", 2, "error: no such file: x.yaml"),  # bad input: exit 2
        ("judge unreachable", 1, "error: judge unreachable"),  # a failed run: the caller's code
        ("401 for key sk-abcdefghijklmnopqrstuvwx", 2, "error: 401 for key"),  # a secret never reaches stderr
    ],
)
def test_fail_prints_one_redacted_line_and_exits(capsys, message, code, shown):
    with pytest.raises(typer.Exit) as stop:
        fail(message, code)
    err = capsys.readouterr().err
    assert stop.value.exit_code == code and err.startswith(shown) and err.count("\n") == 1
    assert "sk-abcdefghijklmnopqrstuvwx" not in err


def test_commands_print_errors_only_through_fail():
    # A command that prints its own "error: ..." line skips the redaction and the exit-code convention of `fail`.
    # main.py is outside the typer app (it turns a busy folder or a full disk into one line and a SystemExit).
    own = []
    for path in sorted(Path(cli_pkg.__file__).parent.glob("*.py")):
        if path.name in ("errors.py", "main.py"):
            continue
        own += [f"{path.name}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                if re.search(r"""echo\(f?["']error:""", line)]  # fmt: skip
    assert own == []
