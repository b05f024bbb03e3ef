"""One set of judge options for every command that judges (perception_r1.cli.judge_options)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from perception_r1.cli.judge_options import JUDGE_OPTION_SPECS, JudgeOptions, judge_options
from perception_r1.cli.main import build_app
from perception_r1.config import ConfigError

SHARED_FLAGS = {flag for spec in JUDGE_OPTION_SPECS for flag in spec.flags.replace("/", " ").split()}
JUDGING_COMMANDS = [("judge", "check"), ("rewards", "score"), ("analyze", "perception")]


def command(group: str, name: str) -> Any:
    """The click command behind ``perception-r1 GROUP NAME`` (typer may vendor click: no isinstance checks)."""
    sub = typer.main.get_command(build_app()).commands[group]  # type: ignore[attr-defined]
    return sub.commands.get(name, sub) if hasattr(sub, "commands") else sub


def visible_judge_flags(cmd: Any) -> set[str]:
    """Visible ``--judge*`` option names of a command."""
    names = set()
    for param in cmd.params:
        if param.param_type_name == "option" and not param.hidden:
            names.update(n for n in (*param.opts, *param.secondary_opts) if n.startswith(("--judge", "--no-judge")))
    return names


@pytest.mark.parametrize("path", JUDGING_COMMANDS)  # every command that judges
def test_every_judging_command_has_exactly_the_shared_options(path):
    assert visible_judge_flags(command(*path)) == SHARED_FLAGS


@pytest.mark.parametrize(
    ("path", "old"),
    [
        (("judge", "check"), "--backend"),  # judge check's names before the shared set: gone, not hidden aliases
        (("judge", "check"), "--base-url"),
        (("judge", "check"), "--config"),
        (("analyze", "perception"), "--judge"),  # analyze perception's
    ],
)
def test_no_deprecated_aliases_remain(path, old):
    assert not [p for p in command(*path).params if old in getattr(p, "opts", [])]


@pytest.mark.parametrize(
    ("options", "default_backend", "expected"),
    [
        (JudgeOptions(), None, None),  # nothing given: no judge (rewards score then skips perception)
        (JudgeOptions(), "rule", {"backend": "rule"}),  # the command's default backend
        (JudgeOptions(backend="openai"), "rule", {"backend": "openai"}),  # an option beats the default
        (  # every option reaches the JudgeConfig field of the same name
            JudgeOptions(
                backend="openai",
                base_url="http://127.0.0.1:8123/v1",
                model="m",
                max_concurrency=3,
                timeout_s=2.5,
                max_retries=1,
                cache_path="c.db",
                structured_output=True,
            ),
            None,
            {
                "backend": "openai",
                "base_url": "http://127.0.0.1:8123/v1",
                "model": "m",
                "max_concurrency": 3,
                "timeout_s": 2.5,
                "max_retries": 1,
                "cache_path": "c.db",
                "structured_output": True,
            },
        ),
    ],
)
def test_build(options, default_backend, expected):
    cfg = options.build(default_backend=default_backend)
    if expected is None:
        assert cfg is None
    else:
        assert {key: getattr(cfg, key) for key in expected} == expected


def test_build_reads_the_file_and_options_override_it(tmp_path: Path):
    path = tmp_path / "judge.yaml"
    path.write_text("judge:\n  backend: openai\n  model: from-file\n  timeout_s: 9\n")
    cfg = JudgeOptions(config=path, timeout_s=3.0).build(default_backend="rule")
    assert (cfg.backend, cfg.model, cfg.timeout_s) == ("openai", "from-file", 3.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (JudgeOptions(timeout_s=0), "timeout_s must be > 0"),  # out of range, named
        (JudgeOptions(base_url="http://127.0.0.1:70000/v1"), "ports are 1-65535"),  # bad URL, named
    ],
)
def test_build_rejects_bad_values(options, message):
    with pytest.raises(ConfigError, match=message):
        options.build()


def test_decorator_misuse_fails_at_definition():
    with pytest.raises(TypeError, match="needs a `judge` parameter"):
        judge_options(lambda x=1: x)
