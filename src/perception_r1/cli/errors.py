"""The one way a command stops on bad input: ``error: ...`` on stderr (secrets redacted), then a non-zero exit."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr with any secret redacted and exit with ``code`` (2: bad input).

    Raises:
        typer.Exit: always.
    """
    from perception_r1.redact import redact

    typer.echo(f"error: {redact(message)}", err=True)
    raise typer.Exit(code)
