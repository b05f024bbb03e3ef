"""Shared plumbing for reward functions: completion text extraction and the TRL calling convention.

TRL's ``GRPOTrainer`` calls each reward as ``fn(prompts=..., completions=..., completion_ids=..., **columns,
trainer_state=..., log_extra=..., log_metric=...)``. A completion is either a plain string or a conversational
list of messages (``[{"role": "assistant", "content": "..."}]``, where ``content`` may itself be a list of
``{"type": "text", "text": ...}`` parts). Every reward returns exactly one ``float | None`` per completion:
``None`` means "not applicable or failed" and is never silently replaced by 0. Which dataset columns a reward
reads, and how they reach it, is the contract of :mod:`perception_r1.rewards.contract`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def log_metric(kwargs: dict[str, Any]) -> Callable[[str, float], None]:
    """The trainer's ``log_metric`` hook, or a no-op outside a trainer."""
    hook = kwargs.get("log_metric")
    return hook if callable(hook) else (lambda name, value: None)
