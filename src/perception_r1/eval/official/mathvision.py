"""MATH-Vision official scoring, reproduced from ``evaluation/evaluate.py`` and ``evaluation/utils.py`` of
github.com/mathllm/MATH-V.

Extraction: a response ending in `` X.`` / `` (X).`` or starting ``X\\n`` / ``(X)\\n`` / ``(X) X\\n`` is the letter
X (A-E, the last that applies); a number after the last ``is `` is taken; without a box the text after the last
"the (final|correct) answer is" / "the answer should be" phrase (lower- or title-case) is kept up to the line end
and the first ``". "``; with several boxes only the last is kept. Then ``find_math_answer`` (lower-case, the last
``oxed{...}`` greedily, the part after ``=``, LaTeX and unit clean-up, ``_strip_string``) gives the answer.

Equality (``is_equal``, tried against the gold letter and against the gold option's text): lower-cased equal
strings, element-wise rounded tuples/lists, or equal values rounded to 2 decimals. Option text written with
``$...$`` is not stripped, so it rarely matches (an official quirk kept here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from perception_r1.eval.official.latex import is_number, to_number

_FLAGS = ("the final answer is", "the answer is", "the correct answer is", "the answer should be")


def _fix_sqrt(text: str) -> str:
    parts = text.split("\\sqrt")
    out = parts[0]
    for part in parts[1:]:
        out += "\\sqrt{" + part[0] + "}" + part[1:] if part and part[0] != "{" else "\\sqrt" + part
    return out


def _fix_fracs(text: str) -> str:
    parts = text.split("\\frac")
    out = parts[0]
    for part in parts[1:]:
        out += "\\frac"
        if part and part[0] == "{":
            out += part
            continue
        if len(part) < 2:
            return text
        a, b, rest = part[0], part[1], part[2:]
        out += "{" + a + "}{" + b + "}" + rest if b != "{" else "{" + a + "}" + b + rest
    return out


def _fix_slash(text: str) -> str:
    pieces = text.split("/")
    if len(pieces) != 2:
        return text
    try:
        a, b = int(pieces[0]), int(pieces[1])
    except ValueError:
        return text
    return "\\frac{" + str(a) + "}{" + str(b) + "}" if text == f"{a}/{b}" else text


def strip_string(text: str) -> str:
    """The official ``_strip_string`` clean-up."""
    text = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "").replace("$", "")
    text = text.split("\\text{ ")[0]
    text = text.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not text:
        return text
    if text[0] == ".":
        text = "0" + text
    if len(text.split("=")) == 2:
        text = text.split("=")[-1]
    if len(text.split("\\approx")) == 2:
        text = text.split("\\approx")[-1]
    if "sqrt" in text:
        text = _fix_sqrt(text)
    text = text.replace(" ", "")
    if "sqrt" in text:  # the official code fixes fractions only when a root is present
        text = _fix_fracs(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return _fix_slash(text)


def find_math_answer(text: str) -> str:
    """The official ``find_math_answer``: the last box's content (or the text), cleaned."""
    text = text.lower().replace("{}", "")
    boxes = re.findall(r"oxed{(.*)}", text, flags=re.S)
    ans = boxes[-1] if boxes else text
    if ans.find("}") != -1 and (ans.find("{") == -1 or ans.find("}") < ans.find("{")):
        ans = ans.split("}")[0]
    ans = ans.split("=")[-1].split("\\approx")[-1]
    ans = ans.replace(" ", "").replace("\\,", "").replace("∞", "\\infty").replace("+\\infty", "\\infty")
    ans = ans.replace("\\\\", "\\").replace("\n", "").replace("\\text", "").replace("\\mbox", "")
    ans = ans.replace("bmatrix", "pmatrix").replace("\\left", "").replace("\\right", "").replace("^{\\circ}", "")
    ans = ans.replace("^\\circ", "").replace("{m}^3", "").replace("m^3", "").replace("{units}", "")
    ans = ans.replace("units", "").replace("{km}", "").replace("km", "")
    return strip_string(ans)


def extract(response: str) -> str:
    """The official model answer of ``response``."""
    answer = response.strip()
    for c in "ABCDE":
        if answer.endswith((f" {c}.", f" ({c}).")) or answer.startswith((f"{c}\n", f"({c})\n", f"({c}) {c}\n")):
            answer = c
    tail = answer.split("is ")[-1].rstrip(".")
    if is_number(tail):
        answer = tail
    if "oxed{" not in answer:
        for flag in _FLAGS:
            for form in (flag, flag.replace("the", "The")):
                before = answer
                answer = answer.split(form)[-1].strip()
                if form in before:
                    answer = answer.split("\n")[0].split(". ")[0]
    elif answer.count("oxed{") > 1:
        answer = "\\boxed{" + answer.split("oxed{")[-1]
    answer = find_math_answer(answer)
    for letter in "abcde":
        answer = answer.replace(f"({letter})", letter)
    for letter in "abcde":
        answer = answer.replace("{" + letter + "}", letter)
    return answer.rstrip(".").lstrip(":").strip()


def _round_value(text: str) -> str:
    return str(round(to_number(text), 2))


def eval_tuple(text: str) -> str:
    """Tuples/lists of two or more elements with each element evaluated and rounded to 2 decimals."""
    if not text:
        return text
    elements = text[1:-1].split(",")
    brackets = {"(": ")", "[": "]"}
    if text[0] in brackets and text[-1] == brackets[text[0]] and len(elements) > 1:
        try:
            body = ",".join(e if "infty" in e or e in ("a", "-a") else _round_value(e) for e in elements)
        except ValueError:
            return text
        return f"{text[0]}{body}{text[-1]}"
    return text


def is_equal(first: str, second: str) -> bool:
    """The official ``is_equal``: equal lower-cased strings, equal evaluated tuples, or equal values to 2 decimals."""
    first, second = first.lower(), second.lower()
    if not first.replace(" ", "") or not second.replace(" ", ""):
        return False
    if first.strip() == second.strip():
        return True
    first, second = eval_tuple(first), eval_tuple(second)
    if first == second:
        return True
    try:
        return round(to_number(second), 2) == round(to_number(first), 2)
    except (ValueError, TypeError, OverflowError):
        return False


def score(response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any]) -> tuple[str, bool]:
    """``(model answer, correct)``: equal to the gold letter or to the gold option's text."""
    answer = extract(response)
    gold = str(gold)
    gold_text = ""
    if choices and len(gold) == 1:
        gold_text = (
            str(list(choices.values())[ord(gold) - ord("A")]) if 0 <= ord(gold) - ord("A") < len(choices) else ""
        )
    return answer, is_equal(gold, answer) or is_equal(gold_text, answer)
