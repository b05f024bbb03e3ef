"""Typed configuration: dataclasses with help text, loaded from YAML, overridable from the command line.

Conventions:
    * Every config is a ``@dataclass`` whose fields are declared with :func:`option`, which stores the help
      text in the field's metadata (``perception-r1 ... --help-config`` prints it).
    * :func:`from_dict` builds a config from a plain mapping; unknown keys raise :class:`ConfigError` with a
      "did you mean" suggestion and the dotted path of the offending key.
    * :func:`apply_overrides` applies ``--section.key value`` / ``section.key=value`` strings, coercing each
      value to the field's declared type.
    * A field type that is not a dataclass may take over its own loading with ``config_coerce(value, where)``
      (classmethod), ``config_override(key, value, where)`` and ``config_describe(prefix)`` (classmethod), e.g.
      :class:`perception_r1.train.grpo_args.GRPOArgs`, a section whose keys are another library's.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Opt:
    ...     lr: float = option(1e-6, "learning rate")
    >>> from_dict(Opt, {"lr": "3e-4"}).lr
    0.0003
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from perception_r1.registry import did_you_mean

C = TypeVar("C")

_MISSING = dataclasses.MISSING


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key (dotted path) and the source."""


def option(default: Any = _MISSING, help: str = "", *, factory: Any = _MISSING) -> Any:  # noqa: A002
    """Declare a dataclass field with help text.

    Args:
        default: Default value (immutable); use ``factory`` for lists, dicts and nested dataclasses.
        help: One-line description shown by ``--help-config`` and in error messages.
        factory: Zero-argument callable producing the default.
    """
    if factory is not _MISSING:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def check_number(key: str, value: Any, low: float, *, low_open: bool = False, high: float | None = None) -> None:
    """Raise a ConfigError naming ``key`` unless ``value`` is a finite number in the range (inclusive unless open).

    Example:
        >>> check_number("grpo.top_p", 1.5, 0.0, low_open=True, high=1.0)
        Traceback (most recent call last):
        ...
        perception_r1.config.ConfigError: grpo.top_p: must be > 0 and <= 1, got 1.5
    """
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        low_text = f"> {low:g}" if low_open else f">= {low:g}"
        range_text = low_text if high is None else f"{low_text} and <= {high:g}"
        raise ConfigError(f"{key}: must be {range_text}, got {value!r}")


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def coerce_value(value: Any, tp: Any, where: str) -> Any:
    """Coerce ``value`` (from YAML or a CLI string) to the annotated type ``tp``.

    Raises:
        ConfigError: at ``where``, naming the expected type.
    """
    return _coerce(value, tp, where)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Coerce ``value`` (from YAML or a CLI string) to the annotated type ``tp``."""
    custom = getattr(tp, "config_coerce", None) if isinstance(tp, type) else None
    if custom is not None:
        return custom(value, where)
    tp, optional = _strip_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where}: null is not allowed here (expected {getattr(tp, '__name__', tp)})")
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for section {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = float(value) if tp is float else value if isinstance(value, int) else int(str(value))
        except ValueError:
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from None
        return number
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if origin in (list, Sequence, tuple) or tp in (list, tuple):
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping) or tp is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def from_dict(cls: type[C], data: Mapping[str, Any] | None, where: str = "") -> C:
    """Build dataclass ``cls`` from ``data``, recursively, checking keys and types.

    Args:
        cls: A dataclass type.
        data: Plain mapping (e.g. parsed YAML); ``None`` means all defaults.
        where: Prefix for error messages (file name and/or dotted section path).

    Raises:
        ConfigError: unknown key (with suggestions), wrong type, or missing required field.
    """
    data = dict(data or {})
    fields = _fields(cls)
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            known = list(fields)
            raise ConfigError(
                f"{_join(where, key)}: unknown key{did_you_mean(key, known)}; valid keys here: {', '.join(known)}"
            )
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], _join(where, name))
        elif f.default is _MISSING and f.default_factory is _MISSING:
            raise ConfigError(f"{_join(where, name)}: required key is missing ({f.metadata.get('help', '')})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


def _join(where: str, key: str) -> str:
    if not where:
        return key
    return f"{where}.{key}" if not where.endswith(":") else f"{where} {key}"


def to_dict(cfg: Any) -> Any:
    """Plain (YAML-serialisable) copy of a config."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def flatten_keys(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted paths: ``{"grpo": {"max_steps": 5}}`` -> ``{"grpo.max_steps": 5}``.

    The inverse view of :func:`apply_overrides`' keys: a YAML recipe flattened this way can be applied as overrides,
    and two recipes can be compared key by key.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten_keys(value, path))
        else:
            out[path] = value
    return out


def parse_overrides(args: Sequence[str]) -> dict[str, str]:
    """Turn ``["--a.b", "1", "c.d=2", "--flag=x"]`` into ``{"a.b": "1", "c.d": "2", "flag": "x"}``.

    Raises:
        ConfigError: for a ``--key`` with no value or a stray positional argument.
    """
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        key = arg[2:] if arg.startswith("--") else arg
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        elif arg.startswith("--"):
            if i + 1 >= len(args):
                raise ConfigError(f"override {arg} has no value (use --{key} VALUE or {key}=VALUE)")
            value = args[i + 1]
            i += 2
        else:
            raise ConfigError(f"cannot read override {arg!r}: use --section.key VALUE or section.key=VALUE")
        out[key.replace("-", "_")] = value
    return out


def apply_overrides(cfg: C, overrides: Mapping[str, Any], where: str = "override") -> C:
    """Return a copy of ``cfg`` with dotted-path ``overrides`` applied (values coerced to field types).

    Raises:
        ConfigError: unknown path (with suggestions) or a value of the wrong type.
    """
    for dotted, value in overrides.items():
        path = re.sub(r"\[([^\]]+)\]", r".\1", dotted)  # rewards[perception].weight == rewards.perception.weight
        cfg = _set_path(cfg, path.split("."), value, f"{where} {dotted}")
    return cfg


def _set_path(cfg: Any, parts: list[str], value: Any, where: str) -> Any:
    fields = _fields(type(cfg))
    head = parts[0]
    if head not in fields:
        raise ConfigError(
            f"{where}: unknown key {head!r}{did_you_mean(head, list(fields))}; valid: {', '.join(fields)}"
        )
    hint = typing.get_type_hints(type(cfg))[head]
    current = getattr(cfg, head)
    if len(parts) == 1:
        new = _coerce(value, hint, where)
    elif dataclasses.is_dataclass(current):
        new = _set_path(current, parts[1:], value, where)
    elif len(parts) == 2 and callable(getattr(type(current), "config_override", None)):
        new = current.config_override(parts[1], value, where)
    elif isinstance(current, dict):
        new = _set_in_mapping(current, parts[1:], value, where)
    elif isinstance(current, list) and current and all(dataclasses.is_dataclass(v) for v in current):
        new = _set_in_list(current, head, parts[1:], value, where)
    else:
        raise ConfigError(f"{where}: {head!r} is not a section")
    return dataclasses.replace(cfg, **{head: new})


def _set_in_mapping(current: Mapping[str, Any], parts: list[str], value: Any, where: str) -> dict[str, Any]:
    """A copy of a free-form mapping with the nested key ``parts`` set (missing intermediate mappings created)."""
    if len(parts) == 1:
        return {**current, parts[0]: yaml.safe_load(value) if isinstance(value, str) else value}
    inner = current.get(parts[0], {})
    if not isinstance(inner, Mapping):
        raise ConfigError(f"{where}: {parts[0]!r} is {inner!r}, not a mapping whose keys can be set")
    return {**current, parts[0]: _set_in_mapping(inner, parts[1:], value, where)}


def _set_in_list(current: list[Any], head: str, parts: list[str], value: Any, where: str) -> list[Any]:
    """A copy of a list of sections with one item changed, the item chosen by its ``name`` or its index.

    ``rewards.perception.params.judge.base_url`` (or ``rewards[perception]...``, ``rewards.2.weight``) reaches
    the item named ``perception`` of the ``rewards`` list.
    """
    if len(parts) < 2:
        raise ConfigError(f"{where}: name an item and a key, e.g. {head}.<name>.<key>")
    names = [getattr(item, "name", None) for item in current]
    selector = parts[0]
    if selector in names:
        index = names.index(selector)
    elif selector.isdigit() and int(selector) < len(current):
        index = int(selector)
    else:
        known = [n for n in names if n is not None]
        raise ConfigError(
            f"{where}: no item {selector!r} in {head!r}{did_you_mean(selector, known)}; items: {', '.join(known)}"
        )
    items = list(current)
    items[index] = _set_path(items[index], parts[1:], value, where)
    return items


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with clear errors naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such recipe file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(cls: type[C], path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> C:
    """Build ``cls`` from an optional YAML file, then apply dotted overrides."""
    data = load_yaml(path) if path else {}
    cfg = from_dict(cls, data, where=f"{path}:" if path else "")
    return apply_overrides(cfg, overrides or {})


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """Rows of (dotted key, default, help) for every field of ``cls``, recursing into sections."""
    rows = []
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        key = f"{prefix}{f.name}"
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            rows.extend(describe(hint, key + "."))
            continue
        if callable(getattr(hint, "config_describe", None)):
            rows.extend(hint.config_describe(key + "."))
            continue
        if f.default is not _MISSING:
            shown = _show_default(f.default)
        elif f.default_factory is not _MISSING:
            shown = _show_default(f.default_factory())
        else:
            shown = "(required)"
        rows.append((key, shown, f.metadata.get("help", "")))
    return rows


def _show_default(value: Any) -> str:
    """A default as a person would write it in a recipe: sections and lists of sections as flow YAML."""
    plain = to_dict(value)
    if isinstance(plain, (list, dict)):
        return yaml.safe_dump(plain, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return repr(value)
