"""MMStar official scoring, reproduced from ``eval/vlmeval/evaluate/mmstar.py`` of
github.com/MMStar-Benchmark/MMStar.

The raw prediction and the gold letter are lower-cased, stripped and have newlines turned into spaces; the item is
correct when the gold letter equals the prediction's first character, or its second after ``(``, or the character
after a leading ``option `` or ``the answer is ``. Only the start of the response is ever read (a response opening
with ``<think>`` is always wrong), and the accuracy is divided by all 1,500 items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def score(response: str, gold: str, choices: Mapping[str, str], metadata: Mapping[str, Any]) -> tuple[str, bool]:
    """``(prediction, correct)``; the prediction is the character that was compared ("" when none)."""
    answer = str(gold).lower().strip().replace("\n", " ")
    pred = str(response).lower().strip().replace("\n", " ")
    for prefix in ("", "(", "option ", "the answer is "):
        if pred.startswith(prefix) and len(pred) > len(prefix):
            if answer == pred[len(prefix)]:
                return pred[len(prefix)].upper(), True
    return (pred[:1].upper(), False) if pred else ("", False)
