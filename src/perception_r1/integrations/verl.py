"""verl custom reward functions: the Perception-R1 rewards behind verl's ``compute_score`` interface.

verl (0.8 and later; tested on 0.9.1) scores through its reward loop and reads (recipes/verl/perception_r1.yaml)::

    reward:
      custom_reward_function:
        path: pkg://perception_r1.integrations.verl
        name: compute_score_async
        reward_kwargs:
          weights: {accuracy: 0.9, format: 0.1, perception: 0.7, repetition: 1.0}
          judge: {backend: openai, base_url: http://judge-host:8001/v1, model: Qwen/Qwen2.5-32B-Instruct-AWQ}

The top-level ``custom_reward_function`` / ``reward_model.reward_manager`` keys of older verl are still accepted
by verl 0.9.1's config and then ignored by its trainer, which falls back to verl's built-in scorer:
:mod:`perception_r1.integrations.verl_check` (``perception-r1 verl check``) catches that before a run.

Entry points (all return a dict of floats per response; see :func:`result`):

* :func:`compute_score_async` (verl >= 0.8, any reward-loop manager): a coroutine, which verl's reward loop
  awaits directly, so the judge calls of all responses are in flight together (a synchronous function runs in
  verl's thread executor, a handful at a time). A component that failed (judge error, math-verify timeout)
  adds 0 to that response's total, flagged ``<name>_missing``; to make it neutral within its GRPO group use
  the reward-loop manager of :mod:`perception_r1.integrations.verl_manager`, which gives it the group's mean.
* :func:`compute_score`: the same, synchronous (verl's legacy per-response managers, ``naive`` / ``prime``).
* :func:`compute_score_batch` (verl < 0.8 with ``reward_model.reward_manager: batch``): a whole batch, so a
  failed component takes the mean of that component over the other responses of the same prompt, found by
  ``extra_info["index"]`` (or ``group_key``) or else by blocks of ``num_generations`` consecutive responses.
  When the component is missing for the whole group (no annotations, a judge outage) it adds 0 to every
  response of the group, which leaves their GRPO advantages unchanged.

verl passes no images: the annotations travel in each row's ``extra_info`` (``visual_annotations``: a list, or
``visual_key_info``: the reference ``<infoN>`` string), which verl hands over with lists as numpy arrays; every
value is read as plain Python (:func:`perception_r1.rewards.base.plain`). A perception weight without a ``judge``
is refused (:class:`perception_r1.integrations.scoring.JudgeRequiredError`): name ``{backend: rule}`` to use
the rule judge.

Example:
    >>> out = compute_score("geo", "<think>\\nx\\n</think>\\n<answer>\\n\\\\boxed{3}\\n</answer>", "3",
    ...                     weights={"accuracy": 0.9, "format": 0.1}, isolation="inline")
    >>> out["score"], out["accuracy"], out["acc"], out["format"]
    (1.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from perception_r1.integrations.scoring import RewardSettings, ascore_rows, record_row, score_rows, total
from perception_r1.rewards.groups import group_keys, impute_group_mean

#: The functions verl may be pointed at (``reward.custom_reward_function.name``), and whether each is a coroutine.
ENTRY_POINTS: dict[str, str] = {
    "compute_score_async": "per response, async (verl >= 0.8 reward loop)",
    "compute_score": "per response, sync (verl's per-response managers)",
    "compute_score_batch": "whole batch, sync (verl < 0.8, reward_model.reward_manager: batch)",
}


def result(
    scores: Mapping[str, float | None],
    missing: Mapping[str, bool],
    weights: Mapping[str, float],
    imputed: Mapping[str, bool] | None = None,
) -> dict[str, float]:
    """verl's result dict for one response.

    Args:
        scores: Component -> value entering the total (None: adds nothing).
        missing: Component -> whether it could not be computed for this response.
        weights: Component -> weight.
        imputed: Component -> whether its value is its group's mean (adds ``<name>_imputed`` keys when given).

    Returns:
        ``{"score": total, "<name>": value or nan when missing, "<name>_missing": 0.0|1.0, ...}`` and ``acc`` (the
        accuracy again: verl's DAPO recipes filter groups and report validation by ``acc``). Floats only, with the
        same keys for every response (verl stacks them into arrays by the first response's keys).
    """
    out: dict[str, float] = {"score": total(scores, weights)}
    for name, value in scores.items():
        out[name] = math.nan if missing[name] or value is None else float(value)
        out[f"{name}_missing"] = 1.0 if missing[name] else 0.0
        if imputed is not None:
            out[f"{name}_imputed"] = 1.0 if imputed[name] else 0.0
    if "accuracy" in out:
        out["acc"] = out["accuracy"]
    return out


def _settings(weights: Any, judge: Any, repetition: Any, isolation: str) -> RewardSettings:
    return RewardSettings.from_kwargs(
        weights, judge, repetition, isolation, where="reward.custom_reward_function.reward_kwargs"
    )


def _single(scores: Mapping[str, list[float | None]], weights: Mapping[str, float]) -> dict[str, float]:
    first = {name: values[0] for name, values in scores.items()}
    return result(first, {name: value is None for name, value in first.items()}, weights)


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
    """Score one verl response (a failed component adds 0, flagged: see the module docstring).

    Args:
        data_source: verl's data source name (unused; kept for the interface).
        solution_str: The decoded response.
        ground_truth: The gold answer.
        extra_info: Row extras: ``visual_annotations`` (list of str, numpy array accepted) or ``visual_key_info``
            (``<infoN>`` string), optionally ``choices``.
        weights: Component -> weight (default: the paper's 0.9/0.1/0.7/1.0); only named components are computed.
        judge: Judge config for the perception reward (mapping or YAML path); required when ``perception`` is
            weighted (``{"backend": "rule"}`` for the rule judge).
        repetition: Parameters of the repetition penalty (default: n=20, max_penalty=-2.0).
        isolation: math-verify isolation of the accuracy reward (``process`` or ``inline``).
        **kw: Other keys verl passes (``reward_router_address``, ...); ignored.

    Returns:
        :func:`result`: ``{"score": total, "<component>": value, "<component>_missing": 0.0|1.0, "acc": ...}``.

    Raises:
        perception_r1.integrations.scoring.JudgeRequiredError: perception weighted without a judge.
    """
    settings = _settings(weights, judge, repetition, isolation)
    scores = score_rows(settings, [solution_str], [record_row(ground_truth, extra_info)])
    return _single(scores, settings.weights)


async def compute_score_async(
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
    """:func:`compute_score` as a coroutine, for verl's reward loop (it awaits coroutine functions directly).

    The judge request runs on the LLM layer's shared loop and is awaited from verl's loop, so all the responses
    verl scores at once are judged concurrently (up to the judge's ``max_concurrency``); accuracy, format and
    repetition run in a worker thread. Arguments and result as for :func:`compute_score`.
    """
    settings = _settings(weights, judge, repetition, isolation)
    scores = await ascore_rows(settings, [solution_str], [record_row(ground_truth, extra_info)])
    return _single(scores, settings.weights)


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
    """Score a verl batch; a failed component is neutral within its prompt's group (see the module docstring).

    Args:
        data_sources, solution_strs, ground_truths, extra_infos: verl's batch columns (one entry per response).
        weights, judge, repetition, isolation: As for :func:`compute_score`.
        group_key: ``extra_info`` key identifying the prompt (verl's data preprocessing stores ``index``).
        num_generations: Responses per prompt (``actor_rollout_ref.rollout.n``), used when ``group_key`` is
            absent from some row.
        **kw: Other keys verl may pass; ignored.

    Returns:
        One :func:`result` dict per response, with ``<component>_imputed`` (0.0|1.0).

    Raises:
        ValueError: columns of different lengths, or responses that cannot be grouped into blocks.
    """
    n = len(solution_strs)
    extras = list(extra_infos) if extra_infos is not None else [None] * n
    if len(ground_truths) != n or len(extras) != n:
        raise ValueError(
            f"verl batch: {n} solution_strs, {len(ground_truths)} ground_truths, {len(extras)} extra_infos"
        )
    settings = _settings(weights, judge, repetition, isolation)
    rows = [record_row(truth, extra) for truth, extra in zip(ground_truths, extras, strict=True)]
    scores = score_rows(settings, solution_strs, rows)
    groups = group_keys(n, ids=[row.get(group_key) for row in rows], num_generations=num_generations)
    filled = {name: impute_group_mean(values, [v is None for v in values], groups) for name, values in scores.items()}
    out = []
    for i in range(n):
        missing = {name: scores[name][i] is None for name in scores}
        row_scores = {name: filled[name][i] for name in scores}
        imputed = {name: missing[name] and row_scores[name] is not None for name in scores}
        out.append(result(row_scores, missing, settings.weights, imputed))
    return out


__all__ = ["ENTRY_POINTS", "compute_score", "compute_score_async", "compute_score_batch", "result"]
