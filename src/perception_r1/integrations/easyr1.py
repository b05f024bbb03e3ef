"""EasyR1 reward function: the Perception-R1 rewards in EasyR1's batch reward contract.

EasyR1 (hiyouga/EasyR1; the paper's reference code is a fork of it) loads a reward file by path::

    worker:
      reward:
        reward_function: /path/to/perception_r1/integrations/easyr1.py:compute_score
        reward_function_kwargs: {judge: {...}, num_generations: 8}

It imports the file under the module name ``custom_reward_fn`` (``importlib.util.spec_from_file_location``),
reads ``REWARD_TYPE`` (``batch`` here) and calls ``compute_score(reward_inputs, **reward_function_kwargs)`` with
one dict per response holding only ``response``, ``response_length`` and ``ground_truth`` (the dataset's answer
column), expecting one dict per response with ``overall`` (the trained reward) back; every other key becomes a
``reward/<key>`` metric (the batch mean). So the file imports nothing relative (only the installed
``perception_r1`` package), and since unpatched EasyR1 passes nothing but the ground truth, the annotations
travel inside it.

Ground-truth encoding (:func:`encode_ground_truth`; ``perception-r1 data export --to easyr1`` writes it): the
answer column holds a JSON object ``{"perception_r1": 1, "answer": "3", "id": "geo-17", "visual_annotations":
["AB = 5", ...], "choices": null}`` (``visual_key_info``, the reference ``<infoN>`` string, may stand in for
``visual_annotations``). Any other ground truth is a plain answer with no annotations (perception not
applicable). The ``perception_r1`` key marks the encoding and its version: a JSON object without it is a plain
answer, one with an unknown version or without ``answer`` is an error naming the response.

Returned per response: ``overall`` (the weighted total, :func:`perception_r1.rewards.combined.combine`), each
component's value, ``<name>_missing`` and ``<name>_imputed`` (0.0/1.0). A failed component (judge error,
math-verify timeout) takes the mean of that component over the other responses of the same prompt (found by the
encoded ``id``, else by blocks of ``num_generations`` consecutive responses: EasyR1 repeats each prompt
``rollout.n`` times in a row), so it gives no advantage of its own; when nothing can be imputed it adds 0 and its
key is left out of the dict, so that EasyR1's metric means stay means of real values (use ``overall``, always
present, as ``algorithm.filter_key``).

Example:
    >>> truth = encode_ground_truth("3", ["AB = 5"], id="p1")
    >>> out = compute_score([{"response": "AB = 5 <answer>\\\\boxed{3}</answer>", "response_length": 9,
    ...                       "ground_truth": truth}], judge={"backend": "rule"}, isolation="inline")
    >>> out[0]["overall"], out[0]["accuracy"], out[0]["perception"]
    (1.6, 1.0, 1.0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from perception_r1.integrations.scoring import RewardSettings, record_row, score_rows, total
from perception_r1.rewards.base import plain
from perception_r1.rewards.groups import group_keys, impute_group_mean

# EasyR1 reads these two module attributes.
REWARD_NAME = "perception_r1"
REWARD_TYPE = "batch"
ENCODING_KEY = "perception_r1"
ENCODING_VERSION = 1
_FIELDS = ("answer", "id", "visual_annotations", "visual_key_info", "choices")


class GroundTruthError(ValueError):
    """An encoded ground truth that cannot be read; the message names the response and the key."""


def encode_ground_truth(
    answer: Any,
    visual_annotations: Sequence[str] | None = None,
    *,
    id: Any = None,
    choices: Any = None,
    visual_key_info: str | None = None,
) -> str:
    """The answer column of an EasyR1 row: the answer and what the rewards need besides it, as one JSON string.

    Args:
        answer: The gold answer.
        visual_annotations: The annotations (or give ``visual_key_info``, the reference ``<infoN>`` string).
        id: The problem's id (groups a prompt's responses for the neutral handling of failures).
        choices: Options of a multiple-choice problem.
        visual_key_info: The reference layout of the annotations.

    Returns:
        Compact JSON, keys in a fixed order.

    Example:
        >>> encode_ground_truth("3", ["AB = 5"], id="p1")
        '{"perception_r1": 1, "answer": "3", "id": "p1", "visual_annotations": ["AB = 5"]}'
    """
    value = {
        ENCODING_KEY: ENCODING_VERSION,
        "answer": None if answer is None else str(plain(answer)),
        "id": None if id is None else str(plain(id)),
        "visual_annotations": None if visual_annotations is None else [str(a) for a in plain(visual_annotations)],
        "visual_key_info": visual_key_info,
        "choices": plain(choices),
    }
    return json.dumps({k: v for k, v in value.items() if v is not None}, ensure_ascii=False)


def decode_ground_truth(ground_truth: Any, where: str = "ground_truth") -> dict[str, Any]:
    """One dataset row (``answer``, ``id``, ``visual_annotations``/``visual_key_info``, ``choices``) from a
    ground truth written by :func:`encode_ground_truth`, or ``{"answer": ground_truth}`` for a plain one.

    Args:
        ground_truth: The JSON string (or an already decoded mapping), or a plain answer.
        where: Names the response in error messages.

    Raises:
        GroundTruthError: an encoded ground truth of another version, or without ``answer``.
    """
    raw = value = plain(ground_truth)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {"answer": raw}  # a plain answer that happens to start with a brace
    if not isinstance(value, Mapping) or ENCODING_KEY not in value:
        return {"answer": raw}
    if value[ENCODING_KEY] != ENCODING_VERSION:
        raise GroundTruthError(
            f"{where}: encoding version {value[ENCODING_KEY]!r}, expected {ENCODING_VERSION} (re-export the data with "
            "this version of perception-r1: perception-r1 data export --to easyr1)"
        )
    if "answer" not in value:
        raise GroundTruthError(f"{where}: encoded ground truth has no 'answer' key (keys: {', '.join(value)})")
    return {key: value.get(key) for key in _FIELDS}


def compute_score(
    reward_inputs: Sequence[Mapping[str, Any]],
    *,
    weights: Mapping[str, float] | None = None,
    judge: Mapping[str, Any] | str | None = None,
    repetition: Mapping[str, Any] | None = None,
    isolation: str = "process",
    num_generations: int | None = None,
    **kw: Any,
) -> list[dict[str, float]]:
    """Score an EasyR1 batch (``REWARD_TYPE = "batch"``); see the module docstring for the contract.

    Args:
        reward_inputs: One ``{"response", "response_length", "ground_truth"}`` dict per response.
        weights: Component -> weight (default: the paper's 0.9/0.1/0.7/1.0).
        judge: Judge config of the perception reward; required when perception is weighted
            (``{"backend": "rule"}`` names the rule judge).
        repetition: Parameters of the repetition penalty (default: n=20, max_penalty=-2.0).
        isolation: math-verify isolation of the accuracy reward (``process`` or ``inline``).
        num_generations: Responses per prompt (``worker.rollout.n``), for grouping rows without an encoded id.
        **kw: Other ``reward_function_kwargs``; ignored.

    Returns:
        One dict per response: ``overall``, the components, ``<name>_missing`` and ``<name>_imputed``.

    Raises:
        GroundTruthError: an unreadable encoded ground truth.
        perception_r1.integrations.scoring.JudgeRequiredError: perception weighted without a judge.
        KeyError: a reward input without ``response`` or ``ground_truth``.
    """
    settings = RewardSettings.from_kwargs(
        weights, judge, repetition, isolation, where="worker.reward.reward_function_kwargs"
    )
    rows = []
    for i, item in enumerate(reward_inputs):
        for key in ("response", "ground_truth"):
            if key not in item:
                raise KeyError(f"reward input {i} has no {key!r} (keys: {', '.join(item)})")
        row = decode_ground_truth(item["ground_truth"], where=f"reward input {i}")
        rows.append(record_row(row.pop("answer"), row))
    texts = [str(item["response"]) for item in reward_inputs]
    scores = score_rows(settings, texts, rows)
    ids = [row.get("id") for row in rows]
    groups = group_keys(len(rows), ids=ids, num_generations=num_generations) if rows else None
    filled = {name: impute_group_mean(values, [v is None for v in values], groups) for name, values in scores.items()}
    out = []
    for i in range(len(rows)):
        values = {name: filled[name][i] for name in scores}
        result: dict[str, float] = {"overall": total(values, settings.weights)}
        for name, value in values.items():
            missing = scores[name][i] is None
            if value is not None:
                result[name] = float(value)
            result[f"{name}_missing"] = 1.0 if missing else 0.0
            result[f"{name}_imputed"] = 1.0 if missing and value is not None else 0.0
        out.append(result)
    return out


__all__ = [
    "ENCODING_KEY",
    "ENCODING_VERSION",
    "GroundTruthError",
    "REWARD_NAME",
    "REWARD_TYPE",
    "compute_score",
    "decode_ground_truth",
    "encode_ground_truth",
]
