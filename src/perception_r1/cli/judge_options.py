"""The one set of judge options shared by every command that judges (``judge check``, ``rewards score``,
``analyze perception``).

Each command declares a keyword-only ``judge: JudgeOptions`` parameter and is decorated with
:func:`judge_options`, which adds the ``--judge-*`` options below to the command's signature (so typer shows them,
in a "Judge" help panel) and hands the parsed values over as one :class:`JudgeOptions`.

Example:
    >>> JudgeOptions(backend="rule").build().backend
    'rule'
    >>> JudgeOptions().build() is None  # nothing given: no judge wanted
    True
    >>> JudgeOptions().build(default_backend="rule").backend
    'rule'
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from perception_r1.judge.config import JudgeConfig

_PANEL = "Judge"


@dataclass(frozen=True)
class _Spec:
    """One judge option: the JudgeConfig field it sets, its type, flag(s) and help."""

    field: str
    type: Any
    flags: str
    help: str


# The one place that names the judge options; ``JudgeOptions`` has one attribute per entry (plus ``config``).
JUDGE_OPTION_SPECS: tuple[_Spec, ...] = (
    _Spec("config", Path | None, "--judge-config", "YAML with JudgeConfig keys (top level or a judge: section)."),
    _Spec("backend", str | None, "--judge-backend", "Judge backend: openai, transformers or rule."),
    _Spec("base_url", str | None, "--judge-base-url", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
    _Spec("model", str | None, "--judge-model", "Judge model name (server) or path (transformers)."),
    _Spec("max_concurrency", int | None, "--judge-max-concurrency", "Concurrent judge requests."),
    _Spec("timeout_s", float | None, "--judge-timeout-s", "Per-request judge timeout in seconds."),
    _Spec("max_retries", int | None, "--judge-max-retries", "Retries of a failed judge request."),
    _Spec("cache_path", str | None, "--judge-cache-path", "SQLite cache of accepted judge replies."),
    _Spec(
        "structured_output",
        bool | None,
        "--judge-structured-output/--no-judge-structured-output",
        "JSON-schema constrained verdicts.",
    ),
)
_BY_FIELD = {spec.field: spec for spec in JUDGE_OPTION_SPECS}
_PREFIX = "judge_opt_"


@dataclass(frozen=True)
class JudgeOptions:
    """Values of the ``--judge-*`` options of one command invocation (None: not given).

    Attributes:
        config: ``--judge-config`` YAML file.
        backend, base_url, model, max_concurrency, timeout_s, max_retries, cache_path, structured_output:
            Overrides of the :class:`perception_r1.judge.config.JudgeConfig` field of the same name.
    """

    config: Path | None = None
    backend: str | None = None
    base_url: str | None = None
    model: str | None = None
    max_concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    cache_path: str | None = None
    structured_output: bool | None = None

    def overrides(self) -> dict[str, Any]:
        """``{JudgeConfig field: value}`` of the options that were given."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "config" and getattr(self, f.name) is not None
        }

    def build(self, default_backend: str | None = None) -> JudgeConfig | None:
        """The judge configuration: the ``--judge-config`` file, overridden by the options given.

        Args:
            default_backend: Backend used when neither an option nor a file names one; with it the result is
                never None.

        Returns:
            The config, or None when nothing was given and there is no default (the command judges nothing).

        Raises:
            perception_r1.config.ConfigError: unknown keys, wrong types or out-of-range values, naming the file
                or the option.
        """
        from perception_r1.judge.config import judge_config_from_cli

        overrides = self.overrides()
        if default_backend is not None and self.config is None:
            overrides.setdefault("backend", default_backend)
        return judge_config_from_cli(self.config, overrides)


def judge_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator adding the shared ``--judge-*`` options to a typer command.

    The command must take a keyword-only ``judge: JudgeOptions`` parameter; the decorated function has the
    command's other parameters plus one per option, and calls the command with ``judge=JudgeOptions(...)``.

    Raises:
        TypeError: the command has no ``judge`` parameter.
    """
    signature = inspect.signature(command, eval_str=True)
    if "judge" not in signature.parameters:
        raise TypeError(f"{command.__name__}: a @judge_options command needs a `judge` parameter")
    params = [p for name, p in signature.parameters.items() if name != "judge"]
    params += [_option_param(spec) for spec in JUDGE_OPTION_SPECS]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = {spec.field: kwargs.pop(_PREFIX + spec.field) for spec in JUDGE_OPTION_SPECS}
        return command(**kwargs, judge=JudgeOptions(**values))

    # typer reads the signature and the resolved annotations: expose the options, hide `judge`.
    del wrapper.__wrapped__
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _option_param(spec: _Spec) -> inspect.Parameter:
    option = typer.Option(None, *spec.flags.split(" "), help=spec.help, rich_help_panel=_PANEL)
    return inspect.Parameter(
        _PREFIX + spec.field, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=spec.type
    )
