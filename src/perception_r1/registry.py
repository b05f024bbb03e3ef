"""Name -> object registries with lazy targets and helpful unknown-name errors.

Every extension point of the toolkit (rewards, judge backends, benchmarks, data sources, LLM backends) is a
:class:`Registry`. Targets may be registered eagerly (the object itself) or lazily (an ``"module:attr"``
string), so that heavy optional dependencies are imported only when the entry is actually used.

Example:
    >>> reg = Registry("greeting")
    >>> reg.register("hello", "builtins:str")  # returns the target (the decorator form relies on it)
    'builtins:str'
    >>> reg.get("hello") is str
    True
    >>> reg.get("helo")
    Traceback (most recent call last):
    ...
    perception_r1.registry.UnknownNameError: unknown greeting 'helo' (did you mean 'hello'?); known: hello
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists suggestions and every known name."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence.
        return str(self.args[0])


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest known names, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def import_target(target: str) -> Any:
    """Import the object a ``"package.module:attribute"`` string names (the project's one dotted-path lookup).

    Args:
        target: Module path, a colon, then an attribute path (``"pkg.mod:Class"`` or ``"pkg.mod:obj.attr"``).

    Returns:
        The attribute, after importing the module.

    Raises:
        ValueError: when ``target`` has no ``:attribute`` part.
        ImportError, AttributeError: when the module or the attribute does not exist.
    """
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"lazy target {target!r} must look like 'package.module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def lookup(table: Mapping[str, T], name: str, kind: str) -> T:
    """``table[name]``, or an :class:`UnknownNameError` naming close matches and the known names.

    For plain dicts of internal extension points, where a registry would be more machinery than the table needs.
    """
    if name not in table:
        known = sorted(table)
        raise UnknownNameError(f"unknown {kind} {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}")
    return table[name]


class Registry(Generic[T]):
    """A mapping from names to objects (or lazy ``"module:attr"`` targets).

    Args:
        kind: What the entries are ("reward", "benchmark", ...); used in error messages.
        lazy_strings: Treat string entries as lazy ``"module:attr"`` targets (set ``False`` for a registry whose
            values are themselves strings, e.g. regex templates).
    """

    def __init__(self, kind: str, lazy_strings: bool = True) -> None:
        self.kind = kind
        self.lazy_strings = lazy_strings
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, target: T | str | None = None) -> Any:
        """Register ``target`` under ``name``; without ``target``, return a decorator.

        Raises:
            ValueError: if ``name`` is already registered.
        """
        if target is None:

            def decorator(obj: T) -> T:
                self.register(name, obj)
                return obj

            return decorator
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = target
        return target

    def get(self, name: str) -> T:
        """Return the entry for ``name``, importing it first if it was registered lazily.

        Raises:
            UnknownNameError: for an unknown name, with close matches and the list of known names.
        """
        entry = lookup(self._entries, name, self.kind)
        if isinstance(entry, str) and self.lazy_strings:
            entry = import_target(entry)
            self._entries[name] = entry
        # A string left here is the value itself (lazy_strings off: a registry of strings, T is str).
        return cast(T, entry)

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
