"""We-Math official per-item rule, reproduced from ``evaluation/four_dimensional_metrics.py`` of
github.com/We-Math/We-Math (the aggregation, IK/IG/CM/RM over 525 composite problems, is in
:mod:`perception_r1.eval.metrics`).

The text after the last ``Answer`` (case-sensitive) is stripped, the characters ``> < : .`` are removed, it is
stripped again, and its first character is the answer when it is one of ``A``-``H``. So ``<Answer>: C`` reads C,
``Answer: (B)`` reads nothing (the first character is ``(``), and a response without ``Answer`` is read from its start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def extract(response: str) -> str | None:
    """The official We-Math letter of ``response`` (``None`` when its first character is not A-H)."""
    tail = response.split("Answer")[-1].strip()
    tail = re.sub(r"[><:.]", "", tail).strip()
    return tail[0] if tail and tail[0] in "ABCDEFGH" else None


def score(
    response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any]
) -> tuple[str | None, bool]:
    """``(letter, correct)``: the letter must equal the gold answer exactly."""
    pred = extract(response)
    return pred, pred is not None and pred == gold
