"""Reward set-up for training: recipe reward specs -> TRL reward functions + weights, and dataset column checks.

The columns a reward needs are the ones its ``columns`` declaration names (the reward contract,
:mod:`perception_r1.rewards.contract`), so a renamed column (``answer_column``, ``annotations_column``) is
checked under its new name without a table kept here.

Example:
    >>> from perception_r1.train.config import RewardSpec
    >>> missing_columns([RewardSpec("accuracy"), RewardSpec("format")], {"problem", "images"})
    ["reward 'accuracy' needs column 'answer'"]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from perception_r1.config import ConfigError
from perception_r1.train.config import RewardSpec, check_reward_names


def _build(spec: RewardSpec, i: int) -> Any:
    from perception_r1.rewards import get_reward

    try:
        return get_reward(spec.name, **spec.params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"rewards[{i}] ({spec.name}).params: {exc}") from exc


def missing_columns(specs: Sequence[RewardSpec], columns: Iterable[str]) -> list[str]:
    """Human-readable list of the columns that the chosen rewards need and the dataset lacks (empty: all good).

    Args:
        specs: The recipe's reward terms (each is built to read its column declaration).
        columns: Columns present in the dataset (a column whose values are all empty counts as absent).

    Raises:
        ConfigError: an unknown reward name or parameters its constructor rejects.
    """
    from perception_r1.rewards.contract import missing_columns as declared_missing

    check_reward_names(specs)
    return declared_missing([_build(spec, i) for i, spec in enumerate(specs)], columns)


def present_columns(rows: Sequence[dict[str, Any]]) -> set[str]:
    """Columns with at least one non-empty value in ``rows``."""
    return {key for row in rows for key, value in row.items() if value is not None and value != [] and value != ""}


def check_columns(specs: Sequence[RewardSpec], rows: Sequence[dict[str, Any]], where: str = "data") -> None:
    """Fail before training when the dataset lacks a column a chosen reward needs.

    Raises:
        ConfigError: listing every missing column and the columns the data has.
    """
    have = present_columns(rows)
    problems = missing_columns(specs, have)
    if problems:
        raise ConfigError(
            f"{where}: the dataset cannot feed the chosen rewards: "
            + "; ".join(problems)
            + f". Columns present: {', '.join(sorted(have)) or '(none)'}. Remove the reward from 'rewards' or use "
            "data that has the column (perception needs annotations: see `perception-r1 data`)."
        )


def build_rewards(specs: Sequence[RewardSpec]) -> tuple[list[Any], list[float], list[str]]:
    """Instantiate the reward functions of a recipe.

    Args:
        specs: Reward terms (name, weight, params).

    Returns:
        ``(functions, weights, names)`` in recipe order; ``weights`` goes to ``GRPOConfig.reward_weights``.

    Raises:
        ConfigError: an unknown reward name (with suggestions) or parameters its constructor rejects.
    """
    check_reward_names(specs)
    funcs = [_build(spec, i) for i, spec in enumerate(specs)]
    names = [str(getattr(fn, "__name__", spec.name)) for fn, spec in zip(funcs, specs, strict=True)]
    return funcs, [float(spec.weight) for spec in specs], names
