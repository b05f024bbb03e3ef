"""Answer extraction for evaluation, built on the reward helpers in :mod:`perception_r1.rewards.answer`.

Order (the first that yields an answer wins):
    1. :func:`~perception_r1.rewards.answer.extract_final_answer`: the last ``<answer>`` block (its last
       ``\\boxed{}``, else its text), or without a block the last ``\\boxed{}`` of the response;
       a plain-text answer block such as "The answer is B." is reduced to "B" by rule 2's phrases.
    2. The last "Answer: X" / "The (final) answer is X" phrase of the response (to the end of its line); the
       phrase may be emphasised or tagged (``**Answer: B**``, ``<Answer>: C``), and an empty rest of line means
       the answer is on the next line (``Answer:\nB``).
    3. A one-line response that is an option letter form ("B", "(B)", "B. 12", "B) 12"): the whole line, which
       the scorer maps to the option (a bare "A right angle" is not read as a letter).
    4. A one-line bare answer with no phrase or box: a number ("3", "60.", "551 Hz"), a letter in either case
       ("b") or "Option A".
    5. Otherwise ``None``; an optional LLM extraction fallback (:func:`llm_extract`) may then be asked.

Cleaning (:func:`clean_answer`) drops math delimiters, ``\text{}``, emphasis markers (also unbalanced ones such
as ``B**``) and a leading sub-question label (``(1) 20 cm`` -> ``20 cm``).

Example:
    >>> extract_answer("so the result follows. Final answer: $12$.")
    ('12', 'phrase')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from perception_r1.rewards.answer import extract_answer_block, find_final_answer, last_boxed

# "Answer: X", "answer is X", "final answer is: X", "**Answer:** X", "<Answer>: X" (case-insensitive); the value
# runs to the end of the line, or is the next non-empty line when nothing follows the colon.
_PHRASE = re.compile(
    r"(?:final\s+answer|answer)[>*_\s]*(?:is\s*:?|:|：)[*_ \t]*(?:\n\s*)?(?P<value>[^\n]+)", re.IGNORECASE
)
_OPTION_LINE = re.compile(r"^\s*(?:[\(\[][A-Z][\)\]]|[A-Z][.:)])(?:\s.*)?$|^\s*[A-Z]\s*$")
# Bare one-line answers: a number with an optional unit word ("60.", "551 Hz", "-2.5"), a letter in either case
# with optional brackets ("b", "(c)"), or "Option A".
_BARE = re.compile(
    r"^\s*(?:[-+]?\d+(?:\.\d+)?(?:\s*[A-Za-z%°]{1,6})?|[\(\[]?[A-Za-z][\)\]]?|option\s+[A-Za-z])\s*\.?\s*$",
    re.IGNORECASE,
)
_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}")
_SUBQUESTION = re.compile(r"^\(\d+\)\s*(?=\S)")


def clean_answer(text: str) -> str:
    """Strip math delimiters, ``\\text{}`` wrappers, surrounding emphasis and a trailing full stop."""
    out = text.strip().rstrip(".").strip()  # "$x$." : the full stop sits outside the delimiters
    for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
        if out.startswith(left) and out.endswith(right) and len(out) >= len(left) + len(right):
            out = out[len(left) : len(out) - len(right)].strip()
    out = _TEXT_CMD.sub(r"\1", out).strip()
    out = out.strip("*_").strip()  # unbalanced emphasis: "B**" from "**Answer: B**"
    for left, right in (("$", "$"), ("\\(", "\\)")):  # delimiters left inside emphasis
        if out.startswith(left) and out.endswith(right) and len(out) >= len(left) + len(right):
            out = out[len(left) : len(out) - len(right)].strip()
    out = _TEXT_CMD.sub(r"\1", out).strip()
    out = _SUBQUESTION.sub("", out)  # "(1) 20 cm": the label of sub-question 1, not a factor
    return out.rstrip(".").strip()


def answer_phrase(text: str) -> str | None:
    """Value of the last "Answer: X" / "the answer is X" phrase in ``text``, cleaned; ``None`` if absent."""
    matches = list(_PHRASE.finditer(text))
    if not matches:
        return None
    value = matches[-1].group("value")
    boxed = last_boxed(value)
    return clean_answer(boxed if boxed is not None else value) or None


def extract_answer(response: str | None) -> tuple[str | None, str]:
    """Extract the final answer of ``response``.

    Returns:
        ``(answer, how)``: ``how`` is ``"answer_block"``, ``"boxed"``, ``"phrase"``, ``"option_line"``,
        ``"bare"`` or ``"none"`` (answer ``None``).
    """
    if not response:
        return None, "none"
    answer, boxed = find_final_answer(response)
    if answer is not None:
        if not boxed:  # the plain text of an answer block ("The answer is B.")
            return clean_answer(answer_phrase(answer) or answer) or None, "answer_block"
        how = "answer_block" if extract_answer_block(response) is not None else "boxed"
        return clean_answer(answer) or None, how
    phrase = answer_phrase(response)
    if phrase:
        return phrase, "phrase"
    line = response.strip()
    if "\n" not in line and _OPTION_LINE.match(line):
        return clean_answer(line), "option_line"
    if "\n" not in line and _BARE.match(line):
        return clean_answer(line) or None, "bare"
    return None, "none"


LLM_EXTRACT_PROMPT = (
    "Below is a question and a model's response. Extract the model's final answer only: an option letter for a "
    "multiple-choice question, otherwise the final value or expression. Reply with the answer alone, or NONE if "
    "the response gives no final answer.\n\nQuestion:\n{question}\n\nResponse:\n{response}"
)


def llm_extract(client: Any, items: Sequence[tuple[str, str]]) -> list[str | None]:
    """Ask an LLM to extract final answers, for responses where :func:`extract_answer` found none.

    Args:
        client: An :class:`perception_r1.llm.client.LLMClient` used synchronously (the caller closes it).
        items: ``(question, response)`` pairs.

    Returns:
        One cleaned answer per pair; ``None`` when the LLM said NONE or the request failed.
    """
    from perception_r1.llm.client import ChatRequest

    if not items:
        return []
    requests = [ChatRequest.user(LLM_EXTRACT_PROMPT.format(question=q, response=r)) for q, r in items]
    results = client.generate_sync(requests)
    out: list[str | None] = []
    for res in results:
        text = clean_answer(res.text or "") if res.ok else ""
        out.append(None if not text or text.upper() == "NONE" else text)
    return out
