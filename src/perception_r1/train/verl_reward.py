"""verl custom reward: the Perception-R1 rewards behind verl's ``compute_score`` interface.

verl loads it with::

    custom_reward_function:
      path: pkg://perception_r1.train.verl_reward
      name: compute_score
      reward_kwargs:            # optional; passed as **kw
        weights: {accuracy: 0.9, format: 0.1, perception: 0.7, repetition: 1.0}
        judge: {backend: openai, base_url: http://judge-host:8001/v1, model: Qwen/Qwen2.5-32B-Instruct-AWQ}

verl passes no images; the annotations travel in each row's ``extra_info`` (``visual_annotations``: a list, or
``visual_key_info``: the reference ``<infoN>`` string). See recipes/verl/README.md.

The returned dict has ``score`` (the weighted total) and every component; a component that could not be
computed (judge failure, no annotations) is ``nan`` with ``<name>_missing`` = 1.0 and is left out of the total
rather than silently counted as 0.

Example:
    >>> out = compute_score("geo", "<think>\\nx\\n</think>\\n<answer>\\n\\\\boxed{3}\\n</answer>", "3",
    ...                     weights={"accuracy": 0.9, "format": 0.1}, isolation="inline")
    >>> out["score"], out["accuracy"], out["format"]
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from typing import Any

from perception_r1.rewards.combined import PAPER_WEIGHTS, combine

_CACHE: dict[str, dict[str, Any]] = {}  # reward objects per configuration, built on first use
_CACHE_LOCK = threading.Lock()


def _rewards(
    weights: Mapping[str, float], judge: Any, repetition: Mapping[str, Any], isolation: str
) -> dict[str, Any]:
    """The reward objects for one configuration (built once per process, then reused)."""
    key = json.dumps([dict(weights), judge, dict(repetition), isolation], sort_keys=True, default=str)
    with _CACHE_LOCK:
        if key not in _CACHE:
            from perception_r1.rewards import get_reward

            params: dict[str, dict[str, Any]] = {
                "accuracy": {"isolation": isolation},
                "perception": {"judge": judge if judge is not None else {"backend": "rule"}},
                "repetition": dict(repetition),
            }
            _CACHE[key] = {name: get_reward(name, **params.get(name, {})) for name in weights}
        return _CACHE[key]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    judge: Mapping[str, Any] | str | None = None,
    repetition: Mapping[str, Any] | None = None,
    isolation: str = "process",
    **kw: Any,
) -> dict[str, float]:
    """Score one verl response with the Perception-R1 rewards.

    Args:
        data_source: verl's data source name (unused; kept for the interface).
        solution_str: The decoded response.
        ground_truth: The gold answer.
        extra_info: Row extras: ``visual_annotations`` (list of str) or ``visual_key_info`` (``<infoN>`` string),
            optionally ``choices``.
        weights: Component -> weight (default: the paper's 0.9/0.1/0.7/1.0); only named components are computed.
        judge: Judge config for the perception reward (mapping or YAML path; default: the rule judge).
        repetition: Parameters of the repetition penalty (default: n=20, max_penalty=-2.0).
        isolation: math-verify isolation of the accuracy reward (``process`` or ``inline``).
        **kw: Other keys verl may pass; ignored.

    Returns:
        ``{"score": total, "<component>": value, ..., "<component>_missing": 0.0|1.0}``; floats only (verl
        aggregates them as metrics).
    """
    weights = dict(PAPER_WEIGHTS if weights is None else weights)
    rewards = _rewards(weights, judge, repetition or {"n": 20, "max_penalty": -2.0}, isolation)
    extra = dict(extra_info or {})
    columns = {
        "answer": [ground_truth],
        "choices": [extra.get("choices")],
        "visual_annotations": [extra.get("visual_annotations")],
        "visual_key_info": [extra.get("visual_key_info")],
    }
    scores: dict[str, float | None] = {}
    for name, fn in rewards.items():
        scores[name] = fn([solution_str], **columns)[0]
    out: dict[str, float] = {"score": combine(scores, weights, missing="skip") or 0.0}
    for name, value in scores.items():
        out[name] = math.nan if value is None else float(value)
        out[f"{name}_missing"] = 1.0 if value is None else 0.0
    return out
