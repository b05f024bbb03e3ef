"""Word n-gram repetition penalty (docs/reference.md#repetition-penalty).

``r_p = max_penalty * (1 - unique_ngrams / total_ngrams)`` over lowercased whitespace-split words, 0.0 when the
response has fewer than ``n`` words. With the paper's defaults (n=20, max_penalty=-2.0) a response that repeats
one 20-word passage many times approaches -2.0.

Example:
    >>> RepetitionPenalty(n=2, max_penalty=-1.0)(["a b a b a b"])
    [-0.6]
"""

from __future__ import annotations

from typing import Any

from perception_r1.rewards.base import Completion, RewardList, completion_text
from perception_r1.rewards.contract import ColumnSpec


class RepetitionPenalty:
    """Callable, picklable n-gram repetition penalty.

    Args:
        n: n-gram size in words (paper: 20).
        max_penalty: Penalty for a fully repeated response; must be <= 0 (paper: -2.0).
    """

    columns: tuple[ColumnSpec, ...] = ()  # reads only the completions

    def __init__(self, n: int = 20, max_penalty: float = -2.0) -> None:
        if n < 1:
            raise ValueError(f"repetition n must be >= 1, got {n}")
        if max_penalty > 0:
            raise ValueError(f"repetition max_penalty must be <= 0, got {max_penalty}")
        self.__name__ = "repetition"
        self.n = n
        self.max_penalty = max_penalty

    def score(self, text: str) -> float:
        """Penalty for one response text, in ``[max_penalty, 0]``."""
        words = text.lower().split()
        if len(words) < self.n:
            return 0.0
        ngrams = [tuple(words[i : i + self.n]) for i in range(len(words) - self.n + 1)]
        return round(self.max_penalty * (1.0 - len(set(ngrams)) / len(ngrams)), 12) + 0.0

    def __call__(self, completions: list[Completion], **kwargs: Any) -> RewardList:
        return [self.score(completion_text(c)) for c in completions]
