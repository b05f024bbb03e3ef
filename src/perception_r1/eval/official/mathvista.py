"""MathVista official scoring, reproduced from ``evaluation/extract_answer.py`` and ``calculate_score.py`` of
github.com/lupantech/MathVista.

Extraction: the official script answers from the raw response when it is one of the options, an integer (integer
items) or a float (float items); everything else goes to GPT. Without an LLM, :func:`stand_in_extract` (the
project's rule extraction, then the last ``(X)`` letter or the last number) stands in for GPT.

Normalisation (``normalize_extracted_answer``): for multiple choice, a letter in parentheses ``(x)`` becomes its
upper-case letter; an upper-case letter of an option becomes that option's text; anything else becomes the option
nearest by Levenshtein distance (the first on ties). Integers become ``str(int(float(x)))``, floats
``str(round(float(x), precision))``, lists ``str(x)``; a value that does not convert is ``None``. The prediction is
correct only when it equals the gold answer string exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions; unit costs), as ``Levenshtein.distance``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def nearest_option(prediction: str, options: Sequence[str]) -> str:
    """The option with the smallest edit distance to ``prediction`` (the first one on ties)."""
    distances = [levenshtein(prediction, o) for o in options]
    return options[distances.index(min(distances))]


def quick_extract(response: str, options: Sequence[str], metadata: Mapping[str, Any]) -> str | None:
    """The official rules applied before GPT: a response equal to an option, or an integer / float response."""
    if response == "":
        return ""
    if metadata.get("question_type") == "multi_choice" and response in options:
        return response
    atype = metadata.get("answer_type")
    if atype == "integer":
        try:
            return str(int(response))
        except ValueError:
            pass
    if atype == "float":
        try:
            return str(float(response))
        except ValueError:
            pass
    return None


def normalize(extraction: Any, options: Sequence[str], metadata: Mapping[str, Any]) -> str | None:
    """The official ``normalize_extracted_answer`` (``ignore_empty_extractions`` off, the default)."""
    if metadata.get("question_type") == "multi_choice":
        text = extraction.strip() if isinstance(extraction, str) else str(extraction)
        letters = re.findall(r"\(([a-zA-Z])\)", text)
        if letters:
            text = letters[0].upper()
        sequential = [chr(ord("A") + i) for i in range(len(options))]
        if text in sequential:
            return options[sequential.index(text)]
        return nearest_option(text, options) if options else None
    atype = metadata.get("answer_type")
    try:
        if atype == "integer":
            return str(int(float(extraction)))
        if atype == "float":
            precision = metadata.get("precision")
            if precision is None:  # nothing to round to: the answer cannot be normalised, so it never matches
                return None
            return str(round(float(extraction), int(precision)))
        if atype == "list":
            return str(extraction)
    except (TypeError, ValueError, OverflowError):
        return None
    return None  # the official code leaves text answers unset (so they never match)


_BRACKETED_LETTER = re.compile(r"\(([A-Za-z])\)")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def stand_in_extract(response: str, options: Sequence[str], metadata: Mapping[str, Any], rules: Any) -> str:
    """A rule stand-in for the official GPT extraction: the project's rule extraction (``rules``), else, for
    multiple choice, the last option letter written ``(X)``; for integer/float items the last number; else the
    response itself (which the official normalisation maps to the nearest option).

    For multiple choice, an extraction that starts with an option's text ("no, there are not ...") is that option.
    """
    extraction = rules(response)
    qtype, atype = metadata.get("question_type"), metadata.get("answer_type")
    if extraction is None and qtype == "multi_choice":
        letters = [m for m in _BRACKETED_LETTER.findall(response) if ord(m.upper()) - ord("A") < len(options)]
        extraction = f"({letters[-1].upper()})" if letters else None
    if extraction is None and atype in ("integer", "float"):
        numbers = _NUMBER.findall(response)
        extraction = numbers[-1].replace(",", "") if numbers else None
    extraction = response.strip() if extraction is None else extraction
    letter_form = re.fullmatch(r"\(?[A-Za-z]\)?", extraction.strip())  # a letter is the official's to map
    if qtype == "multi_choice" and extraction not in options and not letter_form:
        lowered = extraction.lower()
        starts = [o for o in options if o and re.match(re.escape(o.lower()) + r"\b", lowered)]
        if len(starts) == 1:
            return starts[0]
    return extraction


def score(
    response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any], fallback: Any
) -> tuple[str | None, bool]:
    """``(prediction, correct)``; ``fallback(response)`` is the project's rule extraction, used by
    :func:`stand_in_extract` in place of GPT."""
    options = list(choices.values())
    extraction = quick_extract(response, options, metadata)
    if extraction is None:
        extraction = stand_in_extract(response, options, metadata, fallback)
    prediction = normalize(extraction, options, metadata)
    return prediction, prediction == str(gold)
