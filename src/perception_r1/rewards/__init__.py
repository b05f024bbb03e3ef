"""TRL-compatible reward functions of Perception-R1 and their registry.

Example:
    >>> from perception_r1.rewards import get_reward
    >>> fmt = get_reward("format")
    >>> fmt(["<think>\\nx\\n</think>\\n<answer>\\n\\\\boxed{2}\\n</answer>"])
    [1.0]
"""

from __future__ import annotations

from typing import Any

from perception_r1.registry import Registry
from perception_r1.rewards.accuracy import AccuracyReward
from perception_r1.rewards.format import FormatReward
from perception_r1.rewards.perception import PerceptionReward
from perception_r1.rewards.repetition import RepetitionPenalty

# The names a recipe's `rewards:` list uses (the classes themselves: go-to-definition works, nothing is lazy).
REWARDS: Registry[Any] = Registry("reward")
REWARDS.register("accuracy", AccuracyReward)
REWARDS.register("format", FormatReward)
REWARDS.register("repetition", RepetitionPenalty)
REWARDS.register("perception", PerceptionReward)


def get_reward(name: str, **params: Any) -> Any:
    """Build the reward registered as ``name`` with ``params``.

    Raises:
        perception_r1.registry.UnknownNameError: for an unknown name, listing the known ones.
    """
    return REWARDS.get(name)(**params)


__all__ = ["REWARDS", "get_reward"]
