"""EMMA official rule scoring, reproduced from ``evaluation/evaluate.py`` (``fast_extract_answer``) and
``evaluation/utils.py`` (``is_equal``) of github.com/hychaochao/EMMA.

Extraction (on the stripped response): a response that is a letter A-H in any case, or starts ``X:``, is that
letter; a number is itself; with a ``\\boxed{`` the last box's content (its last ``\\text{...}`` when it has one);
else the text after the last "final answer is" / "correct answer is" / "answer should be" / "answer is" (lower-cased),
cut at the line end and at the first full stop (so ``3.5`` becomes ``3``: an official quirk); else the response.

Equality (tried against the gold answer and, for multiple choice, the gold option's text): lower-cased equal strings,
or LaTeX values equal when rounded to 2 decimals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from perception_r1.eval.official.latex import is_number, to_number

_FLAGS = ("final answer is", "correct answer is", "answer should be", "answer is")


def boxed_contents(text: str) -> list[str]:
    """Contents of every closed ``\\boxed{...}`` (nested braces balanced), in order."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("\\boxed{", i):
            depth, start = 0, i + 7
            i = start
            while i < len(text):
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    if depth == 0:
                        out.append(text[start:i])
                        break
                    depth -= 1
                i += 1
        i += 1
    return out


def extract(response: str) -> str:
    """The official fast extraction of ``response``."""
    response = response.strip()
    for ch in "ABCDEFGH":
        if response.upper() == ch or response.startswith(f"{ch}:"):
            return ch
    if is_number(response):
        return response
    if "boxed{" in response:
        boxes = boxed_contents(response)
        if boxes:
            texts = re.findall(r"\\text{(.*?)}", boxes[-1])
            return texts[-1].strip() if texts else boxes[-1].strip()
    lowered = response.lower()
    for flag in _FLAGS:
        if flag in lowered:
            return lowered.split(flag)[-1].strip().split("\n")[0].split(".")[0]
    return response


def is_equal(pred: str, gold: str) -> bool:
    """Equal lower-cased strings, or equal LaTeX values rounded to 2 decimals."""
    pred, gold = pred.lower(), gold.lower()
    if pred.strip() == gold.strip():
        return True
    try:
        return round(float(to_number(pred)), 2) == round(float(to_number(gold)), 2)
    except (ValueError, TypeError, OverflowError):
        return False


def score(response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any]) -> tuple[str, bool]:
    """``(extraction, correct)``: equal to the gold answer or (multiple choice) the gold option's text."""
    pred = extract(response)
    gold = str(gold)
    content = gold
    if str(metadata.get("type") or "").lower() == "multiple choice" and choices and len(gold) == 1:
        index = ord(gold.upper()) - ord("A")
        values = list(choices.values())
        content = str(values[index]) if 0 <= index < len(values) else gold
    return pred, is_equal(pred, gold) or is_equal(pred, content)
