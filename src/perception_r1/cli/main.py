"""Entry point of the ``perception-r1`` command.

Each command group lives in its own module under ``perception_r1.cli`` and exposes a ``typer.Typer`` named
``app`` (or, for single commands, a function registered here). Modules import heavy libraries (torch,
transformers, trl, datasets) inside their command functions so that ``perception-r1 --help`` stays fast.
"""

from __future__ import annotations

import typer

from perception_r1.registry import import_target

# (command name, "module:attribute", help). Groups are typer apps; single commands are functions.
_GROUPS: list[tuple[str, str, str]] = [
    ("rewards", "perception_r1.cli.rewards:app", "Score responses with the Perception-R1 rewards."),
    ("judge", "perception_r1.cli.judge:app", "Check the perception judge (reachability, latency, verdicts)."),
    ("model", "perception_r1.cli.model:app", "Build the tiny local Qwen2.5-VL of the embedded default."),
    (
        "analyze",
        "perception_r1.cli.analyze:app",
        "Statistics: McNemar test, perception analysis, pooling experiment runs.",
    ),
    ("eval", "perception_r1.cli.eval:app", "Evaluate a model on the paper's benchmarks; rescore; compare."),
    ("data", "perception_r1.cli.data:app", "Datasets: synthetic geometry testbed; curation steps; export."),
    ("verl", "perception_r1.cli.verl:app", "Check that a verl config calls the Perception-R1 reward."),
]
_COMMANDS: list[tuple[str, str]] = [
    ("train", "perception_r1.cli.train:train"),
    ("experiment", "perception_r1.cli.experiment:experiment"),
    ("report", "perception_r1.cli.report:report"),
    ("publish", "perception_r1.cli.publish:publish"),
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
    for name, target, help_text in _GROUPS:
        app.add_typer(import_target(target), name=name, help=help_text)
    for name, target in _COMMANDS:
        fn = import_target(target)
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
