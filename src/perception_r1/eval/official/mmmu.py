"""MMMU and MMMU-Pro official rule scoring, reproduced (quirks included) from ``mmmu/utils/eval_utils.py`` and
``mmmu-pro/evaluate.py`` of github.com/MMMU-Benchmark/MMMU.

Multiple choice (MMMU): strip ``, . ! ? ; : '`` from both ends, pad with spaces, then candidates are the letters
written ``(X)``; else letters written `` X `` (space on both sides); else, for a response of more than five words,
options whose text occurs in it (case-insensitive). Several candidates: the last occurrence wins. None: a random
letter (the official script seeds ``random`` with 42 at import, so a run draws from one seeded generator in item
order; pass the same :class:`random.Random` for the items of one run).

MMMU-Pro first looks after the last ``Answer:``: when exactly one option letter occurs anywhere in the rest of the
response (``"B**"``, ``"\\( \\text{D} \\)"``; also the article "A" of "A cell"), that letter is the answer.
Otherwise the MMMU rules run with ``X `` (space after only) and then ``X.`` as letter forms.

Open questions (MMMU): key sub-responses after indicator words (``is``, ``so``, ``therefore``, ... and ``=`` in the
last sentence), plus every number in them; numbers become floats rounded to 2 decimals, texts are lower-cased.
Correct when a predicted float equals a gold float or a gold text occurs inside a predicted text; a gold may be a
list of accepted forms.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

_STRIP = ",.!?;:'"
_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}
_NUM_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUM_SCI = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_NUM_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def _last_of(candidates: list[str], positions: list[int]) -> str:
    # np.argmax semantics: the first maximum wins on ties.
    best = max(range(len(candidates)), key=lambda i: (positions[i], -i))
    return candidates[best]


def _parse_choice(
    response: str, letters: Sequence[str], index2ans: Mapping[str, str], rng: random.Random, pro: bool
) -> str:
    for char in _STRIP:  # one pass per character, in this order, as the official loop does
        response = response.strip(char)
    response = f" {response} "
    candidates = [c for c in letters if f"({c})" in response]
    bracketed = bool(candidates)
    if not candidates:
        candidates = [c for c in letters if (f"{c} " if pro else f" {c} ") in response]
    if not candidates and pro:
        candidates = [c for c in letters if f"{c}." in response]
    by_text = False
    if not candidates and len(response.split()) > 5:
        candidates = [k for k, text in index2ans.items() if str(text).lower() in response.lower()]
        by_text = bool(candidates)
    if not candidates:
        return rng.choice(list(letters))
    if len(candidates) == 1:
        return candidates[0]
    if by_text:
        positions = [response.lower().rfind(str(index2ans[c]).lower()) for c in candidates]
    elif bracketed:
        positions = [response.rfind(f"({c})") for c in candidates]
    else:
        positions = [response.rfind(f" {c} ") for c in candidates]
    return _last_of(candidates, positions)


def parse_choice_mmmu(response: str, choices: Mapping[str, str], rng: random.Random) -> str:
    """MMMU's multiple-choice parse: an option letter (random when nothing is found)."""
    return _parse_choice(response, list(choices), choices, rng, pro=False)


def parse_choice_mmmu_pro(response: str, choices: Mapping[str, str], rng: random.Random) -> str:
    """MMMU-Pro's parse: a unique letter after the last ``Answer:``, else the MMMU rules with ``X `` / ``X.``."""
    pos = response.rfind("Answer:")
    if pos != -1:
        tail = response[pos + len("Answer:") :].strip()
        found = [c for c in choices if c in tail]
        if len(found) == 1:
            return found[0]
    return _parse_choice(response, list(choices), choices, rng, pro=True)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize_value(text: str) -> list[Any]:
    """A number -> ``[float rounded to 2]``; a one-character text -> its two space-padded forms; else lower-case."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def extract_numbers(text: str) -> list[str]:
    """Numbers with thousands commas, in scientific notation and plain, in that order."""
    return _NUM_COMMAS.findall(text) + _NUM_SCI.findall(text) + _NUM_SIMPLE.findall(text)


def _key_subresponses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    parts = re.split(r"\.\s(?=[A-Z])|\n", response)  # after lower(): only the newline splits (official quirk)
    indicators = list(_INDICATORS)
    keys: list[str] = []
    for index, part in enumerate(parts):
        if index == len(parts) - 1:
            indicators.append("=")
        shortest: str | None = None
        for indicator in indicators:
            if indicator in part:
                tail = part.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [response]


def parse_open(response: str) -> list[Any]:
    """MMMU's open-question parse: normalised key answers and the numbers in them (duplicates removed)."""
    keys = _key_subresponses(response)
    preds: list[str] = list(keys)
    for key in keys:
        preds.extend(extract_numbers(key))
    out: list[Any] = []
    for pred in preds:
        out.extend(normalize_value(pred))
    return list(dict.fromkeys(out))


def gold_forms(gold: Any) -> list[str] | str:
    """A gold stored as a list literal (``"['24/7', '3.429']"``) -> the list of accepted forms; else the string."""
    if isinstance(gold, (list, tuple)):
        return [str(g) for g in gold]
    text = str(gold)
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
    return text


def eval_open(gold: Any, preds: Sequence[Any]) -> bool:
    """A predicted float equal to a gold float, or a gold text inside a predicted text."""
    forms = gold_forms(gold)
    norm: list[Any] = []
    for form in forms if isinstance(forms, list) else [forms]:
        norm.extend(normalize_value(form))
    for pred in preds:
        if isinstance(pred, str):
            if any(isinstance(n, str) and n in pred for n in norm):
                return True
        elif pred in norm:
            return True
    return False


def score_mmmu(
    response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], rng: random.Random
) -> tuple[str, bool]:
    """``(prediction, correct)`` by MMMU's rules (open questions when the item has no options)."""
    qtype = metadata.get("question_type")
    if choices and (qtype == "multiple-choice" or qtype is None):  # no type stored: options mean multiple choice
        pred = parse_choice_mmmu(response, choices, rng)
        forms = gold_forms(gold)
        return pred, pred in forms if isinstance(forms, list) else pred == forms
    preds = parse_open(response)
    return repr(preds), eval_open(gold, preds)


def score_mmmu_pro(
    response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], rng: random.Random
) -> tuple[str, bool]:
    """``(letter, correct)`` by MMMU-Pro's rules: the parsed letter equals the gold letter."""
    pred = parse_choice_mmmu_pro(response, choices, rng)
    return pred, pred == gold
