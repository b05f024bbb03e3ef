"""Which completions of a reward call belong to the same prompt (a GRPO group), and group-mean imputation.

A GRPO advantage compares a completion with the other completions of its prompt, so a reward that could not be
computed is neutral when it takes its group's mean. Finding the group must not depend on object identity:
TRL's ``prompts`` carry PIL images, and every repeated copy of a prompt is a distinct object whose ``repr``
differs. The key of a completion is therefore, in this order of preference:

1. its dataset id (TRL passes every dataset column to rewards; our training rows have ``id``);
2. its block of ``num_generations`` consecutive completions (TRL and verl repeat each prompt that many times
   in a row);
3. the *content* of its prompt: text compared by value, images by their pixels.

Example:
    >>> group_keys(4, ids=["a", "a", "b", "b"])
    ['a', 'a', 'b', 'b']
    >>> group_keys(4, num_generations=2)
    [0, 0, 1, 1]
    >>> impute_group_mean([1.0, None, 0.0, None], [False, True, False, True], ["a", "a", "b", "b"])
    [1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from perception_r1.rewards.base import RewardList


def stable_key(value: Any) -> Hashable:
    """A hashable key equal for equal content: containers by value, images and arrays by their bytes.

    Args:
        value: A prompt (string, chat messages with image parts), an id, or any nested mix of them.

    Returns:
        Nested tuples of primitives; two deep copies of the same prompt give equal keys.
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return ("bytes", hashlib.sha1(value).hexdigest())
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), stable_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(stable_key(v) for v in value)
    tobytes = getattr(value, "tobytes", None)  # PIL images, numpy arrays
    if callable(tobytes):
        shape = getattr(value, "size", None), getattr(value, "mode", None), getattr(value, "shape", None)
        return (type(value).__name__, repr(shape), hashlib.sha1(tobytes()).hexdigest())
    return (type(value).__name__, repr(value))


def block_keys(n: int, num_generations: int) -> list[int]:
    """Group index of each of ``n`` completions when each prompt is repeated ``num_generations`` times in a row.

    A call may also hold part of one group (multi-GPU: a group of 8 split over processes with 2 completions
    each), which is fine as long as no call straddles a group boundary.

    Raises:
        ValueError: when neither ``n`` nor ``num_generations`` divides the other (blocks would straddle groups).
    """
    if num_generations < 1:
        raise ValueError(f"num_generations must be >= 1, got {num_generations}")
    if n % num_generations == 0:
        return [i // num_generations for i in range(n)]
    if num_generations % n == 0:
        return [0] * n
    raise ValueError(
        f"cannot split {n} completions into groups of num_generations={num_generations}: pass the dataset id "
        "column instead"
    )


def group_keys(
    n: int,
    ids: Sequence[Any] | None = None,
    num_generations: int | None = None,
    prompts: Sequence[Any] | None = None,
) -> list[Hashable] | None:
    """The group key of each of ``n`` completions (see module docstring for the order of preference).

    Args:
        n: Number of completions.
        ids: Dataset id per completion (used when given for every completion).
        num_generations: Completions per prompt, repeated consecutively.
        prompts: Prompt per completion (compared by content).

    Returns:
        One key per completion, or None when nothing identifies the groups.

    Raises:
        ValueError: a column whose length differs from ``n``, or blocks that cannot be aligned.
    """
    for name, values in (("ids", ids), ("prompts", prompts)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} values for {n} completions")
    if ids is not None and all(i is not None for i in ids):
        return [stable_key(i) for i in ids]
    if num_generations is not None:
        return list(block_keys(n, num_generations))
    if prompts is not None:
        return [stable_key(p) for p in prompts]
    return None


def impute_group_mean(scores: RewardList, failed: Sequence[bool], groups: Sequence[Any] | None) -> RewardList:
    """Replace failed scores by the mean valid score of the completions of the same group.

    Args:
        scores: One score (or None) per completion.
        failed: Per completion, whether it failed (not-applicable Nones are left alone).
        groups: A group key per completion (ids, block numbers, or prompts, compared by content with
            :func:`stable_key`); without it nothing is imputed.

    Returns:
        New list; a failed score stays None when its whole group failed.
    """
    if groups is None:
        return list(scores)
    keys = [stable_key(g) for g in groups]
    valid: dict[Hashable, list[float]] = {}
    for key, score in zip(keys, scores, strict=True):
        if score is not None:
            valid.setdefault(key, []).append(score)
    out = list(scores)
    for i, (key, is_failed) in enumerate(zip(keys, failed, strict=True)):
        if is_failed and valid.get(key):
            out[i] = sum(valid[key]) / len(valid[key])
    return out
