"""A verl (>= 0.8) reward-loop manager that makes a failed reward component neutral within its GRPO group.

verl's reward loop scores one response at a time, in whatever order the rollouts finish: a per-response
function cannot compare a response with the rest of its group, so a failed judgment would add 0 to that
response's total and give it a negative perception advantage. This manager, loaded by verl from the config::

    reward:
      num_workers: 1
      reward_manager:
        source: importlib
        name: PerceptionR1RewardManager
        module: {path: pkg://perception_r1.integrations.verl_manager}
      custom_reward_function:
        path: pkg://perception_r1.integrations.verl
        name: compute_score_async
        reward_kwargs: {...}          # weights, judge, repetition, isolation; group_wait_s, num_generations

scores each response with the same rewards as :func:`perception_r1.integrations.verl.compute_score_async` and
then meets the other responses of its prompt (verl's ``uid``) at a :class:`GroupRendezvous`: a response whose
component failed (the judge gave no valid verdicts after its retries, math-verify timed out) waits until its
whole group has been scored and takes the mean of that component over the group's valid responses (flagged
``<name>_missing`` and ``<name>_imputed``), so it gets no advantage of its own from that component, as under TRL's
``group_mean`` policy. Responses without a failure return at once. The group size is ``num_generations`` from
``reward_kwargs`` or else ``actor_rollout_ref.rollout.n``; a response waits at most ``group_wait_s`` seconds
(default 300: validation groups are smaller than training ones), then its failed component adds 0 instead.

The rendezvous is per process, so every response of a group must reach the same reward worker: the manager
refuses to start unless ``reward.num_workers`` is 1 (one worker judges all responses concurrently: the judge calls
are async). The class subclasses verl's ``RewardManagerBase`` and is built when verl first asks for it (module
``__getattr__``), so this module imports without verl.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perception_r1.integrations.scoring import RewardSettings, applicable, ascore_rows, plain_config, record_row
from perception_r1.integrations.verl import result
from perception_r1.integrations.verl_check import MANAGER_NAME, adapter_problem, get
from perception_r1.rewards.base import plain

logger = logging.getLogger(__name__)
DEFAULT_GROUP_WAIT_S = 300.0
# reward_kwargs keys that configure the manager, not the rewards
MANAGER_KEYS = ("group_wait_s", "num_generations", "group_key")


@dataclass
class _Group:
    members: list[Mapping[str, float | None]] = field(default_factory=list)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    born: float = 0.0


class GroupRendezvous:
    """Where the responses of one prompt meet, so that a failed component can take its group's mean.

    Used from one event loop (verl's reward worker); not thread-safe.

    Args:
        group_size: Responses per prompt (``rollout.n``); a group is complete when that many have arrived.
        wait_s: Longest wait of a response with a failed component for the rest of its group.
        clock: Monotonic clock (injected by tests).

    Attributes:
        timeouts: Responses that stopped waiting before their group was complete.
    """

    def __init__(self, group_size: int, wait_s: float = DEFAULT_GROUP_WAIT_S, clock: Any = time.monotonic) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size, self.wait_s, self.clock = group_size, float(wait_s), clock
        self.timeouts = 0
        self._groups: dict[Hashable, _Group] = {}

    def pending(self) -> int:
        """Groups seen but not complete yet."""
        return len(self._groups)

    async def settle(
        self, key: Hashable | None, scores: Mapping[str, float | None], failed: Mapping[str, bool]
    ) -> dict[str, float | None]:
        """Record one response's components; for a failed one, wait for the group and return its mean.

        Args:
            key: The prompt's id (verl's ``uid``); None: the response is alone (nothing is imputed).
            scores: Component -> value (None when missing).
            failed: Component -> whether its None is a failure (to impute) rather than not applicable.

        Returns:
            The components with each failed one replaced by the mean of the valid values of its group (still None
            when no other response of the group has one, or the group did not complete within ``wait_s``).
        """
        out = dict(scores)
        if key is None or self.group_size == 1:
            return out
        self._forget_stale()
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(born=self.clock())
        group.members.append(dict(scores))
        if len(group.members) >= self.group_size:
            group.complete.set()
            del self._groups[key]  # the waiters keep their reference; a later response starts a new group
        if not any(failed.get(name, False) for name in scores):
            return out
        try:
            await asyncio.wait_for(group.complete.wait(), timeout=self.wait_s)
        except asyncio.TimeoutError:
            self.timeouts += 1
            logger.warning(
                "perception-r1 verl manager: group %r had %d of %d responses after %.0f s; the failed components "
                "of this response take the mean of those present",
                key,
                len(group.members),
                self.group_size,
                self.wait_s,
            )
        for name in scores:
            if failed.get(name, False):
                valid = [float(v) for m in group.members if (v := m.get(name)) is not None]
                out[name] = sum(valid) / len(valid) if valid else None
        return out

    def _forget_stale(self) -> None:
        """Drop groups that can no longer complete (e.g. validation groups smaller than ``group_size``)."""
        horizon = self.clock() - 2 * max(self.wait_s, 60.0)
        for key in [k for k, g in self._groups.items() if g.born < horizon and not g.complete.is_set()]:
            del self._groups[key]


@dataclass(frozen=True)
class ManagerOptions:
    """What the manager reads from verl's config.

    Attributes:
        settings: The reward settings (``reward.custom_reward_function.reward_kwargs``).
        group_size: Responses per prompt.
        group_wait_s: See :class:`GroupRendezvous`.
    """

    settings: RewardSettings
    group_size: int
    group_wait_s: float

    @classmethod
    def from_config(cls, config: Any) -> ManagerOptions:
        """Options from verl's whole config (the manager is built with it; a DictConfig or a nested mapping).

        Raises:
            ValueError: ``reward.num_workers`` is not 1, or ``reward.custom_reward_function`` does not name
                :mod:`perception_r1.integrations.verl` (the manager scores with that function's settings).
            perception_r1.integrations.scoring.JudgeRequiredError: perception weighted without a judge.
        """
        cfg = plain_config(config)
        where = "reward.custom_reward_function"
        problem = adapter_problem(get(cfg, f"{where}.path"), get(cfg, f"{where}.name"), where=where)
        if problem:
            raise ValueError(f"{MANAGER_NAME}: {problem}")
        workers = get(cfg, "reward.num_workers")
        if workers != 1:
            raise ValueError(
                f"{MANAGER_NAME} needs reward.num_workers=1 (got {workers}): the responses of a prompt must reach "
                "the same worker to share their group mean; one worker still judges them all at once"
            )
        kwargs = dict(get(cfg, f"{where}.reward_kwargs") or {})
        manager = {key: kwargs.pop(key) for key in MANAGER_KEYS if key in kwargs}
        settings = RewardSettings.from_kwargs(
            **{k: v for k, v in kwargs.items() if k in ("weights", "judge", "repetition", "isolation")},
            where=f"{where}.reward_kwargs",
        )
        size = manager.get("num_generations") or get(cfg, "actor_rollout_ref.rollout.n")
        return cls(settings, int(size), float(manager.get("group_wait_s", DEFAULT_GROUP_WAIT_S)))


async def score_grouped(
    options: ManagerOptions,
    rendezvous: GroupRendezvous,
    response: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None,
    key: Hashable | None,
) -> dict[str, Any]:
    """Score one response and settle it with its group: what the manager's ``run_single`` returns.

    Returns:
        ``{"reward_score": total, "reward_extra_info": result}`` (verl's reward-loop contract), where ``result``
        is :func:`perception_r1.integrations.verl.result` with ``<name>_imputed`` flags.
    """
    row = record_row(ground_truth, extra_info)
    scores = {name: values[0] for name, values in (await ascore_rows(options.settings, [response], [row])).items()}
    failed = {name: value is None and applicable(name, row) for name, value in scores.items()}
    filled = await rendezvous.settle(key, scores, failed)
    missing = {name: value is None for name, value in scores.items()}
    imputed = {name: missing[name] and filled[name] is not None for name in scores}
    info = result(filled, missing, options.settings.weights, imputed)
    return {"reward_score": info["score"], "reward_extra_info": info}


@functools.cache
def manager_class() -> type:
    """verl's ``RewardManagerBase`` subclass (built on first use: verl is imported only then)."""
    from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

    class PerceptionR1RewardManager(RewardManagerBase):
        """Perception-R1 rewards with group-neutral failures (see :mod:`perception_r1.integrations.verl_manager`)."""

        def __init__(
            self,
            config: Any,
            tokenizer: Any,
            compute_score: Any,
            reward_router_address: Any = None,
            reward_model_tokenizer: Any = None,
        ) -> None:
            super().__init__(config, tokenizer, compute_score)
            self.options = ManagerOptions.from_config(config)
            self.rendezvous = GroupRendezvous(self.options.group_size, self.options.group_wait_s)

        async def run_single(self, data: Any) -> dict[str, Any]:
            item = data[-1:][0]  # multi-turn outputs: the last sequence is scored, as verl's managers do
            responses = item.batch["responses"]
            length = int(item.batch["attention_mask"][-responses.shape[-1] :].sum())
            text = await self.loop.run_in_executor(
                None, lambda: self.tokenizer.decode(responses[:length], skip_special_tokens=True)
            )
            extras = item.non_tensor_batch
            key = plain(extras.get("uid"))
            return await score_grouped(
                self.options,
                self.rendezvous,
                text,
                extras["reward_model"]["ground_truth"],
                extras.get("extra_info"),
                key,
            )

    PerceptionR1RewardManager.__qualname__ = MANAGER_NAME
    PerceptionR1RewardManager.__module__ = __name__
    return PerceptionR1RewardManager


def __getattr__(name: str) -> Any:
    """``PerceptionR1RewardManager``, built on first access (verl's loader does ``getattr(module, name)``)."""
    if name == MANAGER_NAME:
        return manager_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GroupRendezvous", "MANAGER_NAME", "ManagerOptions", "manager_class", "score_grouped"]
