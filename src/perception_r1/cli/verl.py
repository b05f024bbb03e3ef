"""``perception-r1 verl check``: will verl call the Perception-R1 reward with this config?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _load(config: Path, overrides: list[str], compose: bool) -> Any:
    """The config to check: composed by verl's Hydra (``compose``) or the YAML file with dotted overrides."""
    from perception_r1.integrations.verl_check import compose_verl_config, set_override

    if compose:
        return compose_verl_config(config.parent, config.stem, overrides)
    import yaml

    cfg = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    for override in overrides:
        set_override(cfg, override)
    return cfg


@app.command("check", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def check(
    ctx: typer.Context,
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="verl config YAML (e.g. recipes/verl/...)."),
    verl_version: str | None = typer.Option(
        None, "--verl-version", help="verl version the run uses (default: the installed one, else the current layout)."
    ),
    compose: bool | None = typer.Option(
        None, "--compose/--no-compose", help="Compose with verl's Hydra config (default: when verl is installed)."
    ),
) -> None:
    """Check a verl config, plus the command line's Hydra overrides (key=value ...), before a launch.

    Exit status 1 lists every reason verl would not call our reward (e.g. only the pre-0.8 top-level keys set,
    a missing judge, no micro-batch sizes); notes say what verl will do (e.g. failures add 0 under 'naive').
    """
    import importlib.util

    from perception_r1.integrations.verl_check import check_config, installed_verl_version, layout_for

    installed = installed_verl_version()
    version = verl_version or installed
    if compose is None:
        compose = installed is not None and layout_for(version) == "reward_loop"
    if compose and importlib.util.find_spec("hydra") is None:
        raise typer.BadParameter("--compose needs verl (and its Hydra) installed in this environment")
    try:
        cfg = _load(config, list(ctx.args), compose)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    layout = layout_for(version)
    problems, notes = check_config(cfg, layout)
    typer.echo(f"verl {version or 'version unknown'}: {layout} layout{' (composed by verl)' if compose else ''}")
    for note in notes:
        typer.echo(f"note: {note}")
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo("ok: verl will call perception_r1's reward")
