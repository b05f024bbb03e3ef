"""Weighted combination of reward components (the paper's total reward).

Total = 0.9 accuracy + 0.1 format + 0.7 perception + 1.0 repetition by default (docs/reference.md#total-reward).
Unlike the reference code (docs/reference.md#defect-6-penalty-missing-from-logged-total), the logged total is
exactly the trained total: every component, the repetition penalty included, enters the same sum.

This is the one place that decides what a ``None`` component (not applicable, or failed) does to a total, and the
rule is the one TRL's ``GRPOTrainer`` applies when it sums its separately passed ``reward_weights`` terms: a
``None`` adds nothing (TRL: NaN, then ``nansum``), and a response with no component at all has no total (TRL:
unscorable, no advantage). The verl adapter and ``perception-r1 rewards score`` use :func:`combine`, so the
three give one response the same total. (The verl adapter must return a float: it reports 0.0 with every
component flagged missing in the no-total case.)

Example:
    >>> combine({"accuracy": 1.0, "format": 1.0, "repetition": -0.5})
    0.5
    >>> combine({"accuracy": None, "format": 1.0, "repetition": 0.0})  # no ground truth: accuracy adds nothing
    0.1
    >>> combine({"accuracy": None, "perception": None}) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping

PAPER_WEIGHTS: dict[str, float] = {"accuracy": 0.9, "format": 0.1, "perception": 0.7, "repetition": 1.0}


def combine(scores: Mapping[str, float | None], weights: Mapping[str, float] | None = None) -> float | None:
    """Weighted sum of the component ``scores`` (the paper's total reward).

    Args:
        scores: Component name -> value; ``None`` (not applicable or failed) adds nothing to the sum.
        weights: Component name -> weight; defaults to the paper's. Components without a weight are an error.

    Returns:
        The total, or ``None`` when no component has a value.

    Raises:
        KeyError: a scored component has no weight.
    """
    weights = PAPER_WEIGHTS if weights is None else weights
    total, counted = 0.0, 0
    for name, value in scores.items():
        if name not in weights:
            raise KeyError(f"no weight for reward component {name!r}; weights given for: {', '.join(weights)}")
        if value is not None:
            total += weights[name] * value
            counted += 1
    return round(total, 12) + 0.0 if counted else None
