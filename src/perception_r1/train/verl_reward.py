"""verl custom reward: the Perception-R1 rewards behind verl's ``compute_score`` interface.

verl loads it with (the whole recipe, with the paper's GRPO settings: recipes/verl/perception_r1.yaml)::

    reward_model:
      reward_manager: batch
    custom_reward_function:
      path: pkg://perception_r1.train.verl_reward
      name: compute_score_batch
      reward_kwargs:            # optional; passed as **kw
        weights: {accuracy: 0.9, format: 0.1, perception: 0.7, repetition: 1.0}
        num_generations: 8      # = actor_rollout_ref.rollout.n
        judge: {backend: openai, base_url: http://judge-host:8001/v1, model: Qwen/Qwen2.5-32B-Instruct-AWQ}

verl passes no images; the annotations travel in each row's ``extra_info`` (``visual_annotations``: a list, or
``visual_key_info``: the reference ``<infoN>`` string). See recipes/verl/README.md.

Two entry points, because only a whole batch can make a missing component neutral:

* :func:`compute_score_batch` (verl's ``reward_model.reward_manager=batch``; the recipe's choice): a component
  that could not be computed for a response (judge failure, math-verify timeout) gets the mean of that component
  over the other responses of the same prompt, found by ``extra_info["index"]`` (or ``group_key``) or else by
  blocks of ``num_generations`` consecutive responses (verl repeats each prompt ``rollout.n`` times in a row).
  The response then gets no advantage of its own from that component, as under TRL's ``group_mean`` policy.
  When the component is missing for the whole group (no annotations, a judge outage) it adds 0 to every
  response of the group, which leaves their GRPO advantages unchanged.
* :func:`compute_score` (verl's per-response managers): it sees one response, so it cannot be neutral: a missing
  component adds 0 to the total, exactly like a real 0. It is flagged (``<name>_missing`` = 1) so that the rate
  is visible in verl's metrics.

The rows reach the rewards through the reward contract (:func:`perception_r1.rewards.contract.score_components`:
``ground_truth`` is the ``answer`` column, the ``extra_info`` keys are the other columns) and the total is
:func:`perception_r1.rewards.combined.combine`, as for TRL training and ``perception-r1 rewards score``: a missing
component adds nothing. A response with no component at all (TRL: unscorable) gets ``score`` 0.0, since verl
needs a number.

Both return every component next to ``score``; a missing one is ``nan`` with ``<name>_missing`` = 1.0
(``<name>_imputed`` = 1.0 when the batch entry point filled it with the group mean).

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
from collections.abc import Mapping, Sequence
from typing import Any

from perception_r1.rewards.combined import PAPER_WEIGHTS, combine
from perception_r1.rewards.contract import score_components
from perception_r1.rewards.groups import group_keys, impute_group_mean

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


def _rows(ground_truths: Sequence[Any], extra_infos: Sequence[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One dataset row per response: the ``extra_info`` keys as columns and the ground truth as ``answer``."""
    return [{**dict(extra or {}), "answer": truth} for truth, extra in zip(ground_truths, extra_infos, strict=True)]


def _component_scores(
    solutions: Sequence[str], rows: list[dict[str, Any]], weights: Mapping[str, float], kwargs: dict[str, Any]
) -> dict[str, list[float | None]]:
    repetition = kwargs["repetition"] or {"n": 20, "max_penalty": -2.0}
    rewards = _rewards(weights, kwargs["judge"], repetition, kwargs["isolation"])
    return score_components(rewards, list(solutions), rows)


def _result(scores: Mapping[str, float | None], missing: Mapping[str, bool], weights: Mapping[str, float]) -> dict:
    total = combine(scores, weights)
    out: dict[str, float] = {"score": 0.0 if total is None else total}
    for name, value in scores.items():
        out[name] = math.nan if missing[name] or value is None else float(value)
        out[f"{name}_missing"] = 1.0 if missing[name] else 0.0
    return out


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
    """Score one verl response with the Perception-R1 rewards (a missing component adds 0: see module docstring).

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
    options = {"judge": judge, "repetition": repetition, "isolation": isolation}
    scores = _component_scores([solution_str], _rows([ground_truth], [extra_info]), weights, options)
    first = {name: values[0] for name, values in scores.items()}
    return _result(first, {name: value is None for name, value in first.items()}, weights)


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    judge: Mapping[str, Any] | str | None = None,
    repetition: Mapping[str, Any] | None = None,
    isolation: str = "process",
    group_key: str = "index",
    num_generations: int | None = None,
    **kw: Any,
) -> list[dict[str, float]]:
    """Score a verl batch; a missing component is neutral within its prompt's group (see module docstring).

    Args:
        data_sources, solution_strs, ground_truths, extra_infos: verl's batch columns (one entry per response).
        weights, judge, repetition, isolation: As for :func:`compute_score`.
        group_key: ``extra_info`` key identifying the prompt (verl's data preprocessing stores ``index``).
        num_generations: Responses per prompt (``actor_rollout_ref.rollout.n``), used when ``group_key`` is
            absent from some row.
        **kw: Other keys verl may pass; ignored.

    Returns:
        One dict per response, as :func:`compute_score` returns, plus ``<component>_imputed`` (0.0|1.0).

    Raises:
        ValueError: columns of different lengths, or responses that cannot be grouped into blocks.
    """
    n = len(solution_strs)
    extras = list(extra_infos) if extra_infos is not None else [None] * n
    if len(ground_truths) != n or len(extras) != n:
        raise ValueError(
            f"verl batch: {n} solution_strs, {len(ground_truths)} ground_truths, {len(extras)} extra_infos"
        )
    weights = dict(PAPER_WEIGHTS if weights is None else weights)
    options = {"judge": judge, "repetition": repetition, "isolation": isolation}
    scores = _component_scores(solution_strs, _rows(ground_truths, extras), weights, options)
    ids = [(e or {}).get(group_key) for e in extras]
    groups = group_keys(n, ids=ids, num_generations=num_generations)
    out = []
    filled = {name: impute_group_mean(values, [v is None for v in values], groups) for name, values in scores.items()}
    for i in range(n):
        row_scores = {name: filled[name][i] for name in scores}
        missing = {name: scores[name][i] is None for name in scores}
        result = _result(row_scores, missing, weights)
        for name in scores:
            result[f"{name}_imputed"] = 1.0 if missing[name] and row_scores[name] is not None else 0.0
        out.append(result)
    return out
