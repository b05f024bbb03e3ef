"""Shared plumbing for reward functions: completion text extraction and the TRL calling convention.

TRL's ``GRPOTrainer`` calls each reward as ``fn(prompts=..., completions=..., completion_ids=..., **columns,
trainer_state=..., log_extra=..., log_metric=...)``. A completion is either a plain string or a conversational
list of messages (``[{"role": "assistant", "content": "..."}]``, where ``content`` may itself be a list of
``{"type": "text", "text": ...}`` parts). Every reward returns exactly one ``float | None`` per completion:
``None`` means "not applicable or failed" and is never silently replaced by 0. Which dataset columns a reward
reads, and how they reach it, is the contract of :mod:`perception_r1.rewards.contract`.

Column values may come as numpy arrays and scalars (verl hands rows over as numpy object arrays, pandas and
datasets' numpy format do too): :func:`plain` turns them into lists and Python scalars before a reward reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Completion = str | Sequence[dict[str, Any]]
RewardList = list[float | None]


def completion_text(completion: Completion) -> str:
    """Return the assistant text of one completion.

    Args:
        completion: A string, or a list of chat messages; the text of the last assistant message is used
            (the last message of any role when no role is given).

    Returns:
        The text; ``""`` for an empty conversation.

    Raises:
        TypeError: for anything that is neither a string nor a list of message dicts.

    Example:
        >>> completion_text([{"role": "assistant", "content": "<think>\\nx\\n</think>"}])
        '<think>\\nx\\n</think>'
    """
    if isinstance(completion, str):
        return completion
    chat = [m for m in completion if isinstance(m, dict)] if isinstance(completion, Sequence) else None
    if chat is not None and len(chat) == len(completion):
        messages = [m for m in chat if m.get("role", "assistant") == "assistant"] or chat
        if not messages:
            return ""
        content = messages[-1].get("content", "")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        return str(content)
    raise TypeError(f"a completion must be a string or a list of chat messages, got {type(completion).__name__}")


def plain(value: Any) -> Any:
    """``value`` with numpy (or torch) arrays as lists and their scalars as Python scalars, at any depth.

    Lists, tuples and mappings are walked; strings, bytes and objects without ``tolist`` (PIL images) are kept.

    Example:
        >>> import numpy as np
        >>> plain({"a": np.array(["AB = 5", "CD = 2"], dtype=object), "i": np.int64(3), "z": np.array("x")})
        {'a': ['AB = 5', 'CD = 2'], 'i': 3, 'z': 'x'}
    """
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays (0-d too) and scalars, torch tensors
    if callable(tolist):
        return plain(tolist())
    return value


def log_metric(kwargs: dict[str, Any]) -> Callable[[str, float], None]:
    """The trainer's ``log_metric`` hook, or a no-op outside a trainer."""
    hook = kwargs.get("log_metric")
    return hook if callable(hook) else (lambda name, value: None)
