"""Reward wiring for training: recipe reward specs -> TRL reward functions + weights, and dataset column checks.

Example:
    >>> from perception_r1.train.config import RewardSpec
    >>> missing_columns([RewardSpec("accuracy"), RewardSpec("format")], {"problem", "images"})
    ["reward 'accuracy' needs column 'answer'"]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from perception_r1.config import ConfigError
from perception_r1.train.config import REWARD_COLUMNS, RewardSpec


def required_columns(spec: RewardSpec) -> list[tuple[str, ...]]:
    """Dataset columns the reward reads; each tuple lists alternatives (one of them must be present).

    A column renamed through the reward's own parameters (``answer_column``, ``annotations_column``) replaces
    the default name.
    """
    needs = list(REWARD_COLUMNS.get(spec.name, []))
    if spec.name == "accuracy" and "answer_column" in spec.params:
        needs = [(str(spec.params["answer_column"]),)]
    if spec.name == "perception" and "annotations_column" in spec.params:
        needs = [(str(spec.params["annotations_column"]),)]
    return needs


def missing_columns(specs: Sequence[RewardSpec], columns: Iterable[str]) -> list[str]:
    """Human-readable list of the columns that the chosen rewards need and the dataset lacks (empty: all good).

    Args:
        specs: The recipe's reward terms.
        columns: Columns present in the dataset (a column whose values are all empty counts as absent).
    """
    present = set(columns)
    out = []
    for spec in specs:
        for alternatives in required_columns(spec):
            if not present.intersection(alternatives):
                wanted = " or ".join(repr(c) for c in alternatives)
                out.append(f"reward {spec.name!r} needs column {wanted}")
    return out


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
    from perception_r1.registry import UnknownNameError
    from perception_r1.rewards import get_reward

    funcs, weights, names = [], [], []
    for i, spec in enumerate(specs):
        try:
            fn = get_reward(spec.name, **spec.params)
        except UnknownNameError as exc:
            raise ConfigError(f"rewards[{i}].name: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"rewards[{i}] ({spec.name}).params: {exc}") from exc
        funcs.append(fn)
        weights.append(float(spec.weight))
        names.append(getattr(fn, "__name__", spec.name))
    return funcs, weights, names
