"""Entry point of the ``perception-r1`` command.

Each command group lives in its own module under ``perception_r1.cli`` and exposes a ``typer.Typer`` named
``app`` (or, for single commands, a function registered here). Modules import heavy libraries (torch,
transformers, trl, datasets) inside their command functions, so importing them all keeps ``perception-r1 --help``
fast (about 0.2 s).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from perception_r1.cli import analyze, data, experiment, judge, model, publish, report, rewards, train, verl
from perception_r1.cli import eval as eval_group  # (the builtin keeps its name)

# (command name, typer app, help). Each group is a typer app of its module.
GROUPS: list[tuple[str, typer.Typer, str]] = [
    ("rewards", rewards.app, "Score responses with the Perception-R1 rewards."),
    ("judge", judge.app, "Check the perception judge (reachability, latency, verdicts)."),
    ("model", model.app, "Build the tiny local Qwen2.5-VL of the embedded default."),
    ("analyze", analyze.app, "Statistics: McNemar test, perception analysis, pooling experiment runs."),
    ("eval", eval_group.app, "Evaluate a model on the paper's benchmarks; rescore; compare."),
    ("data", data.app, "Datasets: synthetic geometry testbed; curation steps; export."),
    ("verl", verl.app, "Check that a verl config calls the Perception-R1 reward."),
]
# (command name, function): single commands, whose options include free-form recipe overrides.
COMMANDS: list[tuple[str, Callable[..., None]]] = [
    ("train", train.train),
    ("experiment", experiment.experiment),
    ("report", report.report),
    ("publish", publish.publish),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"perception-r1 {version('perception-r1')}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the installed version and exit."
    ),
) -> None:
    """Perception-R1: GRPO for multimodal LLMs with an LLM-judged visual perception reward."""


def build_app() -> typer.Typer:
    """Assemble the CLI from the command modules."""
    app = typer.Typer(
        name="perception-r1",
        help="Perception-R1: GRPO for multimodal LLMs with an LLM-judged visual perception reward.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, group, help_text in GROUPS:
        app.add_typer(group, name=name, help=help_text)
    for name, fn in COMMANDS:
        app.command(name, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(fn)
    return app


def run_command(app: typer.Typer, args: list[str] | None = None) -> None:
    """Run the CLI (on ``args``, default the command line); a folder held by another run, or a full, read-only or
    forbidden disk (at any point of any command), ends it with one line naming the folder and the reason instead
    of a traceback.

    Raises:
        SystemExit: 2 for a busy folder, 1 for a disk that cannot take the output.
    """
    from perception_r1.disk import describe_disk_error, disk_error
    from perception_r1.folder_lock import FolderBusyError

    try:
        app(args=args)
    except FolderBusyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except Exception as exc:
        found = disk_error(exc)
        if found is None:
            raise
        typer.echo(f"error: {describe_disk_error(found)}", err=True)
        raise SystemExit(1) from None


def main() -> None:
    """Console-script entry point."""
    from perception_r1.processes import exit_on_sigterm
    from perception_r1.redact import install

    exit_on_sigterm()  # finally blocks run on SIGTERM as on Ctrl-C: temporary files removed, children stopped
    install()  # no log line or traceback prints an API key a server quoted back
    run_command(build_app())


if __name__ == "__main__":
    main()
