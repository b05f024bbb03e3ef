"""Weighted combination of reward components (the paper's total reward).

Total = 0.9 accuracy + 0.1 format + 0.7 perception + 1.0 repetition by default (reference section 3). Unlike the
reference code (defect 6), the logged total is exactly the trained total: every component, the repetition
penalty included, enters the same sum.

In TRL training the components are passed separately with ``reward_weights`` (so each one is logged on its
own); this class serves the CLI, the verl adapter and analysis, where one number per response is needed.

Example:
    >>> combine({"accuracy": 1.0, "format": 1.0, "repetition": -0.5})
    0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

PAPER_WEIGHTS: dict[str, float] = {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0}


def combine(
    scores: Mapping[str, float | None],
    weights: Mapping[str, float] | None = None,
    missing: Literal["none", "skip"] = "none",
) -> float | None:
    """Weighted sum of the component ``scores``.

    Args:
        scores: Component name -> value (``None`` = not applicable or failed).
        weights: Component name -> weight; defaults to the paper's. Components without a weight are an error.
        missing: ``"none"``: the total is ``None`` when any component is ``None`` (it cannot be computed honestly);
            ``"skip"``: ``None`` components are left out of the sum (e.g. no annotations for perception).

    Raises:
        KeyError: a scored component has no weight.
    """
    weights = PAPER_WEIGHTS if weights is None else weights
    total = 0.0
    for name, value in scores.items():
        if name not in weights:
            raise KeyError(f"no weight for reward component {name!r}; weights given for: {', '.join(weights)}")
        if value is None:
            if missing == "none":
                return None
            continue
        total += weights[name] * value
    return round(total, 12) + 0.0
