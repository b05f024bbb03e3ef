"""Final-answer extraction from a policy response, and multiple-choice letter handling.

Rules (fixing reference defect 2, where a non-DOTALL regex made the whole response, ``<think>`` included, count):
    1. If the response has an ``<answer>...</answer>`` block (multi-line; the last one wins), only that block is
       read: its last ``\\boxed{...}`` if any, else the block's text.
    2. Without an answer block, the last ``\\boxed{...}`` of the whole response is used.
    3. Otherwise there is no final answer (``None``).

Example:
    >>> extract_final_answer("<think>\\n\\\\boxed{3}\\n</think>\\n<answer>\\nSo \\\\boxed{2\\\\sqrt{3}}\\n</answer>")
    '2\\\\sqrt{3}'
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_BOXED_OPENERS = ("\\boxed{", "\\fbox{", "\\boxed {")
# A bare letter: "B", "(B)", "B.", "[B]", "Option B", "Answer: B".
_LETTER_ALONE = re.compile(r"^\s*(?:(?:option|choice|answer)\s*:?\s*)?[\(\[]?([A-Z])[\)\]]?[.:]?\s*$", re.IGNORECASE)
# A letter followed by its text: "(B) 12", "B. 12", "B: 12", "B) 12" (a plain "A right angle" is not a letter).
_LETTER_TEXT = re.compile(r"^\s*(?:[\(\[]([A-Z])[\)\]]|([A-Z])[.:)])\s*(.+?)\s*$", re.IGNORECASE | re.DOTALL)


def extract_answer_block(text: str) -> str | None:
    """Content of the last ``<answer>...</answer>`` block (newlines allowed), or ``None``."""
    blocks = _ANSWER_BLOCK.findall(text)
    return blocks[-1] if blocks else None


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces, or ``None``.

    Example:
        >>> last_boxed("a \\\\boxed{1} b \\\\boxed{\\\\frac{1}{2}}")
        '\\\\frac{1}{2}'
    """
    start = max(text.rfind(opener) for opener in _BOXED_OPENERS)
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None  # unbalanced: the box never closes


def find_final_answer(text: str) -> tuple[str | None, bool]:
    """``(answer, boxed)``: the final answer by the module rules and whether it came from a ``\\boxed{}``.

    An unboxed answer is free text ("The result is 5") that must not be read as one LaTeX formula.
    """
    block = extract_answer_block(text)
    if block is not None:
        boxed = last_boxed(block)
        if boxed is not None:
            return boxed or None, True
        return block.strip() or None, False
    boxed = last_boxed(text)
    return boxed, boxed is not None


def extract_final_answer(text: str) -> str | None:
    """The final answer of a response by the rules in the module docstring, stripped; ``None`` if absent."""
    return find_final_answer(text)[0]


def choice_map(choices: Any) -> dict[str, str]:
    """Normalise a ``choices`` column to ``{"A": text, ...}``.

    Args:
        choices: ``None``, a list of option texts (A, B, ... in order), a mapping letter -> text, or a string
            with one option per line such as ``"A: 6\\nB: 8"``.
    """
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
