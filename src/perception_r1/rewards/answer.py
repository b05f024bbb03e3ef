"""Multiple-choice letter handling, on top of the final-answer rules of :mod:`perception_r1.final_answer`.

The extraction functions are imported here too, so that rewards and evaluation read answers through one module.

Example:
    >>> extract_final_answer("<answer>\\n(B) 12\\n</answer>")
    '(B) 12'
    >>> as_choice_letter("(B) 12", choice_map(["6", "12"]))
    'B'
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from perception_r1.final_answer import extract_answer_block, extract_final_answer, find_final_answer, last_boxed
from perception_r1.rewards.base import plain

__all__ = [
    "as_choice_letter",
    "choice_map",
    "extract_answer_block",
    "extract_final_answer",
    "find_final_answer",
    "last_boxed",
]

# A bare letter: "B", "(B)", "B.", "[B]", "Option B", "Answer: B".
_LETTER_ALONE = re.compile(r"^\s*(?:(?:option|choice|answer)\s*:?\s*)?[\(\[]?([A-Z])[\)\]]?[.:]?\s*$", re.IGNORECASE)
# A letter followed by its text: "(B) 12", "B. 12", "B: 12", "B) 12" (a plain "A right angle" is not a letter).
_LETTER_TEXT = re.compile(r"^\s*(?:[\(\[]([A-Z])[\)\]]|([A-Z])[.:)])\s*(.+?)\s*$", re.IGNORECASE | re.DOTALL)


def choice_map(choices: Any) -> dict[str, str]:
    """Normalise a ``choices`` column to ``{"A": text, ...}``.

    Args:
        choices: ``None``, a list of option texts (A, B, ... in order), a mapping letter -> text, or a string
            with one option per line such as ``"A: 6\\nB: 8"``; numpy arrays count as lists.
    """
    choices = plain(choices)
    if choices is None:
        return {}
    if isinstance(choices, Mapping):
        return {str(k).strip().upper(): str(v) for k, v in choices.items()}
    if isinstance(choices, str):
        out = {}
        for line in choices.splitlines():
            m = _LETTER_TEXT.match(line)
            if m:
                out[(m.group(1) or m.group(2)).upper()] = m.group(3)
        return out
    if isinstance(choices, Sequence):
        return {string.ascii_uppercase[i]: str(c) for i, c in enumerate(choices) if i < 26}
    raise TypeError(f"choices must be a list, a mapping or a string, got {type(choices).__name__}")


def as_choice_letter(answer: str, choices: Mapping[str, str]) -> str | None:
    """The option letter ``answer`` names (``"B"``, ``"(B)"``, ``"B. 12"``), if it is one of ``choices``."""
    if not choices:
        return None
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", answer).strip()
    alone, with_text = _LETTER_ALONE.match(text), _LETTER_TEXT.match(text)
    if alone:
        letter = alone.group(1).upper()
    elif with_text:
        letter = (with_text.group(1) or with_text.group(2)).upper()
    else:
        return None
    return letter if letter in choices else None
