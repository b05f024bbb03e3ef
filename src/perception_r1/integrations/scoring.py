"""What the verl and EasyR1 adapters share: their reward settings, scoring one record per response, group means.

A framework hands the adapter one record per response (verl: ``ground_truth`` and ``extra_info``; EasyR1: the
ground truth, which carries the annotations). :func:`record_row` turns such a record into a dataset row (the
``extra_info`` keys as columns, the ground truth as ``answer``; numpy arrays and scalars as lists and Python
scalars), and the rewards read their columns from it through the reward contract, exactly as under TRL
(:func:`perception_r1.rewards.contract.score_components`). The total is
:func:`perception_r1.rewards.combined.combine`.

The perception reward needs a judge, and there is no default: an adapter that silently fell back to the rule
judge would score free-form annotations as failures (no perception term at all, i.e. RLVR) without saying so.
:class:`RewardSettings` therefore refuses ``perception`` without a ``judge``; the rule judge has to be named
(``judge: {backend: rule}``).

Example:
    >>> settings = RewardSettings.from_kwargs(weights={"accuracy": 0.9, "format": 0.1}, isolation="inline")
    >>> scores = score_rows(settings, ["<think>\\nx\\n</think>\\n<answer>\\n\\\\boxed{3}\\n</answer>"],
    ...                     [record_row("3", None)])
    >>> scores
    {'accuracy': [1.0], 'format': [1.0]}
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perception_r1.rewards.base import RewardList, plain
from perception_r1.rewards.combined import PAPER_WEIGHTS, combine
from perception_r1.rewards.contract import reward_inputs, score_components

_CACHE: dict[str, dict[str, Any]] = {}  # reward objects per settings, built on first use in each process
_CACHE_LOCK = threading.Lock()
DEFAULT_REPETITION: dict[str, Any] = {"n": 20, "max_penalty": -2.0}


class JudgeRequiredError(ValueError):
    """The perception reward is weighted but no judge is configured (the rule judge must be named explicitly)."""


@dataclass(frozen=True)
class RewardSettings:
    """The reward keyword arguments an adapter receives, checked.

    Attributes:
        weights: Component -> weight; only these components are computed.
        judge: The perception judge (mapping of :class:`perception_r1.judge.config.JudgeConfig` fields, or a YAML
            path); None only when perception is not among the weights.
        repetition: Parameters of the repetition penalty.
        isolation: math-verify isolation of the accuracy reward (``process`` or ``inline``).
    """

    weights: dict[str, float]
    judge: Any = None
    repetition: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_REPETITION))
    isolation: str = "process"

    @classmethod
    def from_kwargs(
        cls,
        weights: Mapping[str, float] | None = None,
        judge: Mapping[str, Any] | str | None = None,
        repetition: Mapping[str, Any] | None = None,
        isolation: str = "process",
        where: str = "reward_kwargs",
    ) -> RewardSettings:
        """Settings from an adapter's keyword arguments (OmegaConf containers and numpy values are accepted).

        Args:
            weights: Component -> weight (default: the paper's 0.9/0.1/0.7/1.0).
            judge: The judge config; required when ``perception`` is among the weights.
            repetition: Repetition penalty parameters (default: n=20, max_penalty=-2.0).
            isolation: math-verify isolation of the accuracy reward.
            where: How the user's config names these settings, for error messages.

        Raises:
            JudgeRequiredError: ``perception`` is among the weights and ``judge`` is None.
            perception_r1.registry.UnknownNameError: a weight for an unknown component (with suggestions).
        """
        from perception_r1.rewards import REWARDS

        weights = dict(PAPER_WEIGHTS if weights is None else plain_config(weights))
        for name in weights:
            REWARDS.get(name)  # an unknown component fails here, with close matches
        judge = plain_config(judge)
        if judge is None and "perception" in weights:
            raise JudgeRequiredError(
                f"{where}.judge is not set, but the perception reward has weight {weights['perception']}: set "
                f"{where}.judge to your judge server, e.g. {{backend: openai, base_url: http://judge-host:8001/v1, "
                f"model: Qwen/Qwen2.5-32B-Instruct-AWQ}}, or name the rule judge explicitly ({where}.judge: "
                "{backend: rule}); the rule judge only understands canonical geometry facts such as 'AB = 5' or "
                "'angle ABC = 40°', so free-form annotations would get no perception score"
            )
        repetition = dict(plain_config(repetition) or DEFAULT_REPETITION)
        return cls({k: float(v) for k, v in weights.items()}, judge, repetition, str(isolation))

    def key(self) -> str:
        """A string identifying these settings (the reward cache key)."""
        return json.dumps([self.weights, self.judge, self.repetition, self.isolation], sort_keys=True, default=str)


def plain_config(value: Any) -> Any:
    """Plain Python containers from OmegaConf ones (verl passes ``reward_kwargs`` as a DictConfig) and numpy.

    Interpolations are resolved; a mandatory value that is still missing (``???``) reads as that string.
    """
    if type(value).__module__.startswith("omegaconf"):  # a DictConfig / ListConfig
        from omegaconf import OmegaConf

        value = OmegaConf.to_container(value, resolve=True)
    return plain(value)


def rewards_for(settings: RewardSettings) -> dict[str, Any]:
    """The reward objects of ``settings`` (built once per process, then reused: the judge client stays warm)."""
    key = settings.key()
    with _CACHE_LOCK:
        if key not in _CACHE:
            from perception_r1.rewards import get_reward

            params: dict[str, dict[str, Any]] = {
                "accuracy": {"isolation": settings.isolation},
                "perception": {"judge": settings.judge},
                "repetition": dict(settings.repetition),
            }
            _CACHE[key] = {name: get_reward(name, **params.get(name, {})) for name in settings.weights}
        return _CACHE[key]


def record_row(ground_truth: Any, extra_info: Mapping[str, Any] | None) -> dict[str, Any]:
    """One dataset row from a framework's record: the ``extra_info`` keys as columns, the ground truth as ``answer``.

    Raises:
        TypeError: ``extra_info`` is neither None nor a mapping.
    """
    extra = plain(extra_info) if extra_info is not None else {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra_info must be a mapping of column -> value, got {type(extra_info).__name__}")
    return {**extra, "answer": plain(ground_truth)}


def score_rows(
    settings: RewardSettings, texts: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, RewardList]:
    """Every weighted component for one row per response, blocking (the judge runs on the shared LLM loop)."""
    return score_components(rewards_for(settings), list(texts), rows)


async def ascore_rows(
    settings: RewardSettings, texts: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, RewardList]:
    """:func:`score_rows` for async callers: the caller's event loop is never blocked.

    Rewards with an ``acall`` coroutine (the judged perception reward) are awaited; the others (accuracy, format,
    repetition: CPU work of milliseconds) run together in one worker thread of the caller's default executor.
    """
    rewards = rewards_for(settings)
    texts = list(texts)
    awaited = {name: fn for name, fn in rewards.items() if callable(getattr(fn, "acall", None))}
    threaded = {name: fn for name, fn in rewards.items() if name not in awaited}

    async def judged(fn: Any) -> RewardList:
        return list(await fn.acall(texts, **reward_inputs(fn, rows, len(texts))))

    async def computed() -> dict[str, RewardList]:
        return await asyncio.to_thread(score_components, threaded, texts, rows) if threaded else {}

    threaded_scores, judged_scores = await asyncio.gather(computed(), asyncio.gather(*map(judged, awaited.values())))
    out: dict[str, RewardList] = {**threaded_scores, **dict(zip(awaited, judged_scores, strict=True))}
    return {name: out[name] for name in rewards}  # in weight order


def applicable(name: str, row: Mapping[str, Any]) -> bool:
    """Whether component ``name`` can have a value for ``row`` at all (a None then means it failed).

    Perception needs annotations, accuracy a gold answer; the others always apply.
    """
    if name == "perception":
        from perception_r1.rewards.perception import annotations_of

        return bool(annotations_of(row.get("visual_annotations"), row.get("visual_key_info")))
    if name == "accuracy":
        answer = row.get("answer")
        return answer is not None and str(answer).strip() != ""
    return True


def total(scores: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    """The weighted total of one response (:func:`combine`); 0.0 when no component has a value (a framework
    needs a number; every component is then flagged missing)."""
    value = combine(scores, weights)
    return 0.0 if value is None else value


__all__ = [
    "DEFAULT_REPETITION",
    "JudgeRequiredError",
    "RewardSettings",
    "applicable",
    "plain_config",
    "ascore_rows",
    "record_row",
    "rewards_for",
    "score_rows",
    "total",
]
