"""A scripted teacher and annotator for the curation steps (``data distill`` / ``data annotate``), for tests.

:func:`curation_responder` reads the step's prompt back and answers from the number ``N`` of the problem's ``[pN]``
tag alone, so the same request always gets the same reply (an interrupted and an uninterrupted run must write
identical outputs):

* a distillation request gets a solution in the paper's format with ``\\boxed{N}`` (the row's gold ``N`` verifies),
  except for every third problem (``N`` divisible by 3): a teacher that never boxes its answer, so the step rejects
  each reply, asks again (``invalid_retries``) and finally rejects the item;
* an annotation request gets two ``<infoN>`` facts, except that a solution of such a third problem gets prose
  without any fact (rejected and re-asked the same way).

Run it standalone with ``python -m support.fake_openai_server --responder curation``.
"""

from __future__ import annotations

import re
from typing import Any

from support.fake_openai_server import last_user_text

_TAG = re.compile(r"\[p(\d+)\]")


def never_answers(number: int) -> bool:
    """Whether the fake teacher and annotator give a rejected reply every time for problem ``[p<number>]``."""
    return number % 3 == 0


def curation_responder(body: dict[str, Any]) -> str:
    """Reply to a curation request (see the module docstring); other requests get their text back, shortened."""
    text = last_user_text(body)
    match = _TAG.search(text)
    number = int(match.group(1)) if match else 0
    if text.startswith("You extract visual facts"):  # the instruction of data annotate
        if never_answers(number):
            return "The figure shows a triangle."
        return f"<info1>AB = {number}</info1>\n<info2>angle ABC = {number % 90 + 1}°</info2>"
    if "<think>" in text and "\\boxed{}" in text:  # the teacher instruction of data distill
        if never_answers(number):
            return f"<think>\nAB = {number}.\n</think>\n<answer>\nI am not sure.\n</answer>"
        solution = f"<think>\nFrom the figure, AB = {number}. [p{number}]\n</think>\n"
        return solution + f"<answer>\n\\boxed{{{number}}}\n</answer>"
    return text[:200]
