"""Per-item scoring in two modes (``--scoring``):

* ``official`` (the default): each benchmark's official rule scorer, reproduced item for item with its quirks
  (:mod:`perception_r1.eval.official`), on the raw response; numbers are comparable with published tables.
* ``corrected``: the project's rule extraction (:mod:`perception_r1.eval.extract`) and the scorers below, which fix
  the official scorers' defects (each listed with an example in ``docs/eval-scoring.md``).

Corrected scorers take the extracted answer, the gold answer, the options and the item metadata, and return whether
the answer is correct. Multiple-choice answers are compared as option letters (a letter in either case, "(B)",
"B. text", or the option's text itself; an answer naming several options is wrong); gold letters are compared
case-insensitively; a gold answer may be a list of accepted forms (``"['24/7', '3.429']"``). Free-form answers are
compared by normalised string equality, then as numbers (exactly; a unit after the number is allowed, a number inside
an expression such as ``f(0)`` is not read), then with math-verify through the project's
:class:`~perception_r1.rewards.mathcheck.MathChecker` (gold answers wrapped, thread-safe).

MathVista (corrected): a multiple-choice answer that names no option is wrong (no nearest-option guess); integer
answers must equal the gold value (``4/3`` is not ``1``); floats are rounded to the item's ``precision``; lists
compare element by element.

Example:
    >>> from perception_r1.rewards.mathcheck import MathChecker
    >>> score_item("mathvista", "B", "3.5", {"A": "2", "B": "3.5"}, {"question_type": "multi_choice"},
    ...            MathChecker(isolation="inline"))
    True
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from perception_r1.registry import lookup
from perception_r1.rewards.answer import as_choice_letter

Scorer = Callable[[str, str, Mapping[str, str], Mapping[str, Any], Any], bool]
SCORING_MODES = ("official", "corrected")

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")
# A number standing on its own: not part of a word, a subscript/power or a call such as f(0).
_STANDALONE_NUMBER = re.compile(r"(?<![\w^_.(,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w.]*\))(?![\d,]*\d)")
# Several option letters written as options: "(A), (C), and (E)", "A, C and E", "A and C".
_LETTER_TOKEN = re.compile(r"\(([A-Z])\)|(?<![\w\\])([A-Z])(?![\w'])")
_LIST_OF_LETTERS = re.compile(
    r"^\s*[\(\[]?[A-Z][\)\]]?(?:\s*(?:,|and|&|or|/)\s*(?:and\s+)?[\(\[]?[A-Z][\)\]]?)+\s*\.?$"
)


def check_mode(mode: str) -> str:
    """``mode`` when it is a scoring mode.

    Raises:
        ValueError: naming the known modes.
    """
    if mode not in SCORING_MODES:
        raise ValueError(f"unknown scoring mode {mode!r}; known: {', '.join(SCORING_MODES)}")
    return mode


def normalize_text(text: str) -> str:
    """Lower-case, drop ``$``, ``\\text{}``, spaces and a trailing full stop, for exact comparisons."""
    out = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}", r"\1", str(text))
    out = out.replace("$", "").replace("\\!", "").replace("\\,", "").strip().rstrip(".").lower()
    return re.sub(r"\s+", "", out)


def gold_forms(gold: Any) -> list[str]:
    """The accepted forms of a gold answer: a list (or a list literal such as ``"['24/7', '3.429']"``) gives
    several, anything else one."""
    if isinstance(gold, (list, tuple)):
        return [str(g) for g in gold]
    text = str(gold)
    if text.startswith("[") and text.endswith("]") and ("'" in text or '"' in text):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
        if isinstance(value, (list, tuple)) and value:
            return [str(v) for v in value]
    return [text]


def plain_number(text: str) -> float | None:
    """The value of ``text`` when it is one plain number, optionally with a unit or inside a sentence ("551 Hz",
    "The frequency is 551 Hz"); ``None`` for no number, several, or any maths around it (``f(0)``, ``12\\pi``,
    ``x^2 = 4``: those go to math-verify)."""
    plain = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}", r"\1", str(text))
    plain = plain.replace("$", "").replace("\\%", "%").replace("\\,", "").replace("\\ ", " ").strip().rstrip(".")
    if re.search(r"[\\^/*=+()\[\]{}<>|]", plain):
        return None
    numbers = _STANDALONE_NUMBER.findall(plain)
    if len(numbers) != 1:
        return None
    return float(numbers[0].replace(",", ""))


def _numbers_equal(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def answers_match(gold: str, pred: str, checker: Any) -> bool:
    """Free-form equality for any accepted gold form: normalised strings, exact numbers (a unit allowed), then
    math-verify (``None`` verdicts count as no match)."""
    for form in gold_forms(gold):
        if normalize_text(form) == normalize_text(pred):
            return True
        g, p = plain_number(form), plain_number(pred)
        if g is not None and p is not None and _numbers_equal(g, p):
            return True
        if checker.verify(form, pred) is True:
            return True
    return False


def several_letters(pred: str, choices: Mapping[str, str]) -> bool:
    """Whether ``pred`` names more than one option ("(A), (C), and (E)", "A and C")."""
    text = str(pred).strip()
    bracketed = {m for m in re.findall(r"\(([A-Z])\)", text) if m in choices}
    if len(bracketed) > 1:
        return True
    if _LIST_OF_LETTERS.match(text):
        return len({a or b for a, b in _LETTER_TOKEN.findall(text)} & set(choices)) > 1
    return False


def choice_letter(pred: str, choices: Mapping[str, str], checker: Any) -> str | None:
    """The one option ``pred`` names: a letter form, else the option whose text equals it (normalised or as maths);
    ``None`` when it names none or several."""
    if several_letters(pred, choices):
        return None
    letter = as_choice_letter(pred, choices)
    if letter is not None:
        return letter
    target = normalize_text(pred)
    hits = [k for k, v in choices.items() if normalize_text(v) == target]
    if not hits:
        # Only math-like options are worth a math-verify call (texts such as "a right angle" are not).
        hits = [k for k, v in choices.items() if re.search(r"\d", v) and checker.verify(v, pred) is True]
    return hits[0] if len(hits) == 1 else None


def _gold_letter(gold: str, choices: Mapping[str, str]) -> str | None:
    """The gold option letter, case-insensitively ("b" is option B); ``None`` when the gold is not a letter."""
    text = str(gold).strip()
    if len(text) == 1 and text.upper() in choices:
        return text.upper()
    return text if text in choices else None


def score_choice_or_math(
    pred: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], checker: Any
) -> bool:
    """Letter comparison when the gold answer is an option letter; option-text or maths comparison otherwise."""
    letter_gold = _gold_letter(gold, choices) if choices else None
    if letter_gold is not None:
        return choice_letter(pred, choices, checker) == letter_gold
    if choices:
        if several_letters(pred, choices):
            return False
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
    return plain_number(text)  # "3.5 cm", "12%": one stand-alone number with a unit around it


def _mathvista_list(text: str) -> list[str] | None:
    body = text.strip().strip("[]()")
    try:
        value = ast.literal_eval(f"[{body}]")
    except (ValueError, SyntaxError):
        value = [v.strip() for v in body.split(",")]
    return [normalize_text(str(v)) for v in value]


def score_mathvista(
    pred: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], checker: Any
) -> bool:
    """MathVista, corrected (see the module docstring), then equality with the gold answer."""
    qtype = metadata.get("question_type")
    atype = metadata.get("answer_type")
    if qtype == "multi_choice" and choices:
        letter = None if several_letters(pred, choices) else as_choice_letter(pred, choices)
        if letter is not None:
            pred_text = choices[letter]
        elif any(normalize_text(v) == normalize_text(pred) for v in choices.values()):
            pred_text = pred
        else:  # names no option: wrong (the official script guesses the nearest option instead)
            return False
        return normalize_text(pred_text) == normalize_text(gold)
    if atype in ("integer", "float"):
        p, g = _to_float(pred, checker), _to_float(gold, checker)
        if p is None or g is None:
            return False
        if atype == "integer":  # the value itself must be the integer: 4/3 is not 1
            return _numbers_equal(p, g)
        precision = metadata.get("precision")
        digits = int(precision) if precision is not None else 2
        return round(p, digits) == round(g, digits)
    if atype == "list":
        return _mathvista_list(pred) == _mathvista_list(gold)
    return normalize_text(pred) == normalize_text(gold)


# A benchmark's per-item scorer, by the name its definition gives (perception_r1.eval.benchmarks).
SCORERS: dict[str, Scorer] = {"choice_or_math": score_choice_or_math, "mathvista": score_mathvista}


def score_item(
    scorer: str, pred: str | None, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], checker: Any
) -> bool:
    """Score one extracted answer with the named corrected scorer; no answer (``None``) is wrong.

    Raises:
        perception_r1.registry.UnknownNameError: for an unknown scorer.
    """
    fn = lookup(SCORERS, scorer, "scorer")
    if pred is None or not pred.strip():
        return False
    return bool(fn(pred, gold, choices, metadata, checker))
