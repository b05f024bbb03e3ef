"""Where a response states its final answer: the last ``<answer>`` block, the last ``\\boxed{}``.

Rules (where the reference code's non-DOTALL regex made the whole response, ``<think>`` included, count:
docs/reference.md#defect-2-answer-regex-without-dotall):
    1. If the response has an ``<answer>...</answer>`` block (multi-line; the last one wins), only that block is
       read: its last ``\\boxed{...}`` if any, else the block's text.
    2. Without an answer block, the last ``\\boxed{...}`` of the whole response is used.
    3. Otherwise there is no final answer (``None``).

These rules read the structure that the format instruction (:data:`perception_r1.templates.FORMAT_INSTRUCTION`)
asks for. The accuracy reward, the evaluation and the curation of teacher solutions all apply them, so they sit
below all three (:mod:`perception_r1.rewards.answer` adds the multiple-choice letters on top).

Example:
    >>> extract_final_answer("<think>\\n\\\\boxed{3}\\n</think>\\n<answer>\\nSo \\\\boxed{2\\\\sqrt{3}}\\n</answer>")
    '2\\\\sqrt{3}'
"""

from __future__ import annotations

import re

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_BOXED_OPENERS = ("\\boxed{", "\\fbox{", "\\boxed {")


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
