"""Per-item scoring by each benchmark's official rules (rule-based; no LLM needed).

Scorers take the extracted answer, the gold answer, the options and the item metadata, and return whether the
answer is correct. Multiple-choice answers are compared as option letters (a letter, "(B)", "B. text", or the
option's text itself); free-form answers by normalised string equality and then math-verify through the
project's :class:`~perception_r1.rewards.mathcheck.MathChecker` (gold answers wrapped, thread-safe).

MathVista follows its official normaliser: a multiple-choice prediction becomes the text of the named option
(or the most similar option when it names none); integers compare as ``str(int(float(x)))``; floats are rounded
to the item's ``precision``; lists compare element by element.

Example:
    >>> from perception_r1.rewards.mathcheck import MathChecker
    >>> score_item("mathvista", "B", "3.5", {"A": "2", "B": "3.5"}, {"question_type": "multi_choice"},
    ...            MathChecker(isolation="inline"))
    True
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from perception_r1.registry import Registry
from perception_r1.rewards.answer import as_choice_letter

Scorer = Callable[[str, str, Mapping[str, str], Mapping[str, Any], Any], bool]
SCORERS: Registry[Scorer] = Registry("scorer")

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")


def normalize_text(text: str) -> str:
    """Lower-case, drop ``$``, ``\\text{}``, spaces and a trailing full stop, for exact comparisons."""
    out = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}", r"\1", str(text))
    out = out.replace("$", "").replace("\\!", "").replace("\\,", "").strip().rstrip(".").lower()
    return re.sub(r"\s+", "", out)


def answers_match(gold: str, pred: str, checker: Any) -> bool:
    """Free-form equality: normalised strings first, then math-verify (``None`` verdicts count as no match)."""
    if normalize_text(gold) == normalize_text(pred):
        return True
    return checker.verify(gold, pred) is True


def choice_letter(pred: str, choices: Mapping[str, str], checker: Any) -> str | None:
    """The option ``pred`` names: a letter form, else the option whose text equals it (normalised or as maths)."""
    letter = as_choice_letter(pred, choices)
    if letter is not None:
        return letter
    target = normalize_text(pred)
    hits = [k for k, v in choices.items() if normalize_text(v) == target]
    if not hits:
        # Only math-like options are worth a math-verify call (texts such as "a right angle" are not).
        hits = [k for k, v in choices.items() if re.search(r"\d", v) and checker.verify(v, pred) is True]
    return hits[0] if len(hits) == 1 else None


@SCORERS.register("choice_or_math")
def score_choice_or_math(
    pred: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], checker: Any
) -> bool:
    """Letter comparison when the gold answer is an option letter; option-text or maths comparison otherwise."""
    if choices and gold in choices:
        return choice_letter(pred, choices, checker) == gold
    if choices:
        letter = as_choice_letter(pred, choices)
        if letter is not None:  # a letter against a gold option *text* (some EMMA/MMMU rows)
            return answers_match(gold, choices[letter], checker)
    return answers_match(gold, pred, checker)


def _to_float(text: str, checker: Any) -> float | None:
    from perception_r1.rewards import fastpath
    from perception_r1.rewards.mathcheck import wrap_latex

    value = fastpath.evaluate(wrap_latex(text))  # fractions, radicals, pi ...
    if value is not None:
        return float(value.value)
    numbers = _NUMBER.findall(text.replace("\\%", "%"))
    if len(numbers) == 1:  # "3.5 cm", "12%": a single number with a unit around it
        return float(numbers[0].replace(",", ""))
    return None


def _mathvista_list(text: str) -> list[str] | None:
    body = text.strip().strip("[]()")
    try:
        value = ast.literal_eval(f"[{body}]")
    except (ValueError, SyntaxError):
        value = [v.strip() for v in body.split(",")]
    return [normalize_text(str(v)) for v in value]


@SCORERS.register("mathvista")
def score_mathvista(
    pred: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], checker: Any
) -> bool:
    """MathVista's official normalisation (see the module docstring), then equality with the gold answer."""
    qtype = metadata.get("question_type")
    atype = metadata.get("answer_type")
    if qtype == "multi_choice" and choices:
        letter = as_choice_letter(pred, choices)
        if letter is not None:
            pred_text = choices[letter]
        elif any(normalize_text(v) == normalize_text(pred) for v in choices.values()):
            pred_text = pred
        else:  # the official script picks the most similar option when the prediction names none
            pred_text = max(choices.values(), key=lambda v: difflib.SequenceMatcher(None, pred, v).ratio())
        return normalize_text(pred_text) == normalize_text(gold)
    if atype in ("integer", "float"):
        p, g = _to_float(pred, checker), _to_float(gold, checker)
        if p is None or g is None:
            return False
        if atype == "integer":
            return int(p) == int(g)
        precision = metadata.get("precision")
        digits = int(precision) if precision is not None else 2
        return round(p, digits) == round(g, digits)
    if atype == "list":
        return _mathvista_list(pred) == _mathvista_list(gold)
    return normalize_text(pred) == normalize_text(gold)


def score_item(
    scorer: str, pred: str | None, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], checker: Any
) -> bool:
    """Score one extracted answer with the named scorer; no answer (``None``) is wrong.

    Raises:
        perception_r1.registry.UnknownNameError: for an unknown scorer.
    """
    fn = SCORERS.get(scorer)
    if pred is None or not pred.strip():
        return False
    return bool(fn(pred, gold, choices, metadata, checker))
