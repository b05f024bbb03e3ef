"""Visual perception reward: the share of annotated visual facts that a judge finds reflected in the response.

``reward = (#1-verdicts) / M`` with M the number of annotations of the sample (never the number of verdicts the
judge returned). Annotations come from the column ``visual_annotations`` (list of strings) or, failing that,
the reference format ``visual_key_info`` (``<info1>...</info1>\\n<info2>...</info2>``).

Outcomes per completion:
    * a number in [0, 1] when the judge gave exactly M binary verdicts;
    * ``None`` when the sample has no annotations (not applicable);
    * ``None`` when the judgment failed (timeouts, HTTP errors or invalid verdicts after every retry); failures
      are counted (``stats``) and logged as ``perception/judge_failure_rate``.

Making a failed judgment neutral in training, two ways. ``failure_policy="group_mean"`` (used by the paper
recipe) scores it with the mean of the valid scores of the same prompt's other completions, so the completion
gets no perception advantage of its own under any aggregation. The prompt's completions are found by the
dataset's ``id`` column (TRL passes every column to rewards), else by blocks of ``num_generations`` consecutive
completions, else by prompt content (images compared by pixels, never by object identity):
:mod:`perception_r1.rewards.groups`. Or keep ``None``: TRL turns it into NaN. With the default
``multi_objective_aggregation="sum_then_normalize"`` the NaN is dropped by ``nansum``, i.e. it counts as a
perception reward of 0 for that sample. With ``multi_objective_aggregation="normalize_then_sum"`` each reward
is normalised per group with ``nanmean``/``nanstd`` and the NaN contributes nothing to that sample's advantage
(neutral), but that aggregation also changes the weighting of the rewards (see the README).

Design (sync vs async): ``__call__`` is synchronous. It runs the judge's async client on the LLM layer's shared
event-loop thread (:func:`perception_r1.llm.loop.shared_loop`, as every sync caller does) and blocks, so it
works from the main thread, a worker thread, or inside a running event loop (an async caller that must not block
its loop runs it in a worker thread, ``await asyncio.to_thread(reward, ...)``). We do not make ``__call__`` itself
a coroutine: TRL would then run it on its own loop, and the client's connection pool would be bound to whichever
loop called first.

Example:
    >>> reward = PerceptionReward(judge={"backend": "rule"})  # the rule judge: no model, no server
    >>> reward(["AB = 5 and angle ABC = 40°"], visual_annotations=[["AB = 5", "AB ∥ CD"]])
    [0.5]
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from perception_r1.judge.config import JudgeConfig, coerce_judge_config
from perception_r1.key_info import parse_visual_key_info
from perception_r1.rewards.base import Completion, RewardList, completion_text, log_metric, plain
from perception_r1.rewards.contract import ColumnSpec, reward_inputs
from perception_r1.rewards.groups import group_keys, impute_group_mean

__all__ = ["PerceptionReward", "annotations_of", "impute_group_mean"]


def annotations_of(row_annotations: Any, row_key_info: Any) -> list[str]:
    """The annotations of one sample: ``visual_annotations`` if present, else parsed ``visual_key_info``.

    Numpy arrays (verl's ``extra_info``, pandas rows) count as lists.

    Raises:
        TypeError: when ``visual_annotations`` is neither None nor a list of strings.
        ValueError: a malformed ``visual_key_info`` (unclosed, duplicated or empty item): dropping an item would
            shrink M and inflate the reward, so bad data stops the caller instead.
    """
    row_annotations, row_key_info = plain(row_annotations), plain(row_key_info)
    if row_annotations is not None:
        if isinstance(row_annotations, str) or not isinstance(row_annotations, Sequence):
            raise TypeError(f"visual_annotations must be a list of strings, got {type(row_annotations).__name__}")
        return [str(a).strip() for a in row_annotations if str(a).strip()]
    return parse_visual_key_info(row_key_info)


class PerceptionReward:
    """TRL-compatible perception reward (see module docstring).

    Args:
        judge: A :class:`JudgeConfig`, a mapping of its fields, a YAML path, or None (defaults).
        annotations_column: Column holding a list of annotation strings.
        key_info_column: Column in the reference ``<infoN>`` format, used when the first is absent.
        failure_policy: ``"none"``: a failed judgment scores ``None``. ``"group_mean"``: it scores the mean of
            the valid scores of the completions of the same prompt in this call (neutral for the GRPO advantage
            under any ``multi_objective_aggregation``); ``None`` when the whole group failed. Failures are
            counted either way (imputed ones also in ``stats["imputed"]``).
        group_column: Dataset column identifying the prompt of each completion (``group_mean``).
        num_generations: Completions per prompt, used to find groups when ``group_column`` is absent: TRL repeats
            each prompt that many times consecutively. None: fall back to comparing prompts by content.

    Attributes:
        columns: The columns it reads: the annotations (either layout; required) and the group column.
        last_judgments: The :class:`perception_r1.judge.judges.Judgment` of each completion of the last call
            (per-annotation verdicts, raw judge reply, errors), for sample dumps. Under TRL the verdicts are
            also logged as the completions-table column ``perception_verdicts`` (through ``log_extra``).
        stats: Cumulative counters: judged, failed, not_applicable, injected, cached, imputed.
    """

    def __init__(
        self,
        judge: JudgeConfig | Mapping[str, Any] | str | None = None,
        annotations_column: str = "visual_annotations",
        key_info_column: str = "visual_key_info",
        failure_policy: str = "none",
        group_column: str = "id",
        num_generations: int | None = None,
    ) -> None:
        if failure_policy not in ("none", "group_mean"):
            raise ValueError(f"failure_policy must be 'none' or 'group_mean', got {failure_policy!r}")
        self.__name__ = "perception"
        self.failure_policy = failure_policy
        if num_generations is not None and num_generations < 1:
            raise ValueError(f"num_generations must be >= 1, got {num_generations}")
        self.group_column = group_column
        self.num_generations = num_generations
        self.judge_config = coerce_judge_config(judge)
        if self.judge_config.backend != "rule":
            from perception_r1.judge.config import judge_template

            judge_template(self.judge_config)  # a bad prompt file fails here, not at the first training step
        self.annotations_column = annotations_column
        self.key_info_column = key_info_column
        # Either annotation layout will do; the group column only helps failure_policy=group_mean.
        self.columns = (ColumnSpec((annotations_column, key_info_column)), ColumnSpec((group_column,), required=False))
        self.last_judgments: list[Any] = []
        self.stats = {"judged": 0, "failed": 0, "not_applicable": 0, "injected": 0, "cached": 0, "imputed": 0}
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._judge: Any = None
        self._loop: Any = None
        self._lock = threading.Lock()

    def _runtime(self) -> tuple[Any, Any]:
        """The judge and its private loop, created on first use (never at construction or unpickling)."""
        with self._lock:
            if self._judge is None:
                from perception_r1.judge.judges import build_judge
                from perception_r1.llm.loop import shared_loop

                self._judge = build_judge(self.judge_config)
                self._loop = shared_loop()  # the LLM layer's one loop for sync callers (see llm/loop.py)
            return self._judge, self._loop

    def _cases(self, completions: list[Completion], kwargs: dict[str, Any]) -> list[tuple[list[str], str]]:
        n = len(completions)
        inputs = reward_inputs(self, kwargs, n)
        annotations, key_info = inputs[self.annotations_column], inputs[self.key_info_column]
        return [
            (annotations_of(a, k), completion_text(c))
            for a, k, c in zip(annotations, key_info, completions, strict=True)
        ]

    def __call__(self, completions: list[Completion], **kwargs: Any) -> RewardList:
        """Score completions, blocking until the judge has answered.

        Args:
            completions: Plain or conversational completions.
            **kwargs: Dataset columns (``visual_annotations`` / ``visual_key_info``) and TRL extras
                (``log_metric``).

        Returns:
            One ``float | None`` per completion.
        """
        cases = self._cases(completions, kwargs)
        judge, loop = self._runtime()
        judgments = loop.run(judge.ajudge(cases))
        return self._finish(judgments, kwargs)

    async def acall(self, completions: list[Completion], **kwargs: Any) -> RewardList:
        """Score completions from async code: :meth:`__call__` without blocking the caller's event loop.

        The judge still runs on the LLM layer's shared loop (its client is bound there, see the module
        docstring); the caller awaits it (:meth:`perception_r1.llm.loop.BackgroundLoop.arun`), so many calls
        from one loop (verl's reward loop scores each response in its own coroutine) are judged concurrently.

        Args:
            completions, **kwargs: As for :meth:`__call__`.

        Returns:
            One ``float | None`` per completion.
        """
        cases = self._cases(completions, kwargs)
        judge, loop = self._runtime()
        judgments = await loop.arun(judge.ajudge(cases))
        return self._finish(judgments, kwargs)

    def _finish(self, judgments: list[Any], kwargs: dict[str, Any]) -> RewardList:
        self.last_judgments = judgments
        applicable = [j for j in judgments if j.status != "not_applicable"]
        failed = sum(1 for j in applicable if j.status == "failed")
        self.stats["judged"] += len(applicable)
        self.stats["failed"] += failed
        self.stats["not_applicable"] += len(judgments) - len(applicable)
        self.stats["injected"] += sum(1 for j in applicable if j.injected)
        self.stats["cached"] += sum(1 for j in applicable if j.cached)
        log = log_metric(kwargs)
        if applicable:
            log("perception/judge_failure_rate", failed / len(applicable))
            log("perception/judge_latency_s", max(j.latency_s for j in applicable))
            log("perception/injection_rate", sum(1 for j in applicable if j.injected) / len(applicable))
        log("perception/not_applicable_rate", (len(judgments) - len(applicable)) / max(1, len(judgments)))
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):  # TRL's completions table: per-annotation verdicts, or the failure reason
            log_extra("perception_verdicts", [j.verdicts if j.status == "ok" else j.error for j in judgments])
        scores = [j.score if j.status == "ok" else None for j in judgments]
        if self.failure_policy == "group_mean":
            scores = self._impute(scores, judgments, kwargs, failed)
            if applicable:
                log("perception/group_mean_imputed_rate", self._last_imputed / len(applicable))
        return scores

    def _impute(self, scores: RewardList, judgments: list[Any], kwargs: dict[str, Any], failed: int) -> RewardList:
        """``group_mean``: give each failed judgment the mean valid score of its prompt's completions."""
        self._last_imputed = 0
        if not failed:  # finding groups can mean hashing images: only when there is something to impute
            return scores
        groups = group_keys(
            len(judgments),
            ids=kwargs.get(self.group_column),
            num_generations=self.num_generations,
            prompts=kwargs.get("prompts"),
        )
        imputed = impute_group_mean(scores, [j.status == "failed" for j in judgments], groups)
        self._last_imputed = sum(1 for a, b in zip(scores, imputed, strict=True) if a is None and b is not None)
        self.stats["imputed"] += self._last_imputed
        return imputed

    def close(self) -> None:
        """Close the judge client (optional). The shared loop keeps running: other LLM clients may use it."""
        with self._lock:
            judge, loop = self._judge, self._loop
            self._init_runtime()
        if loop is not None:
            loop.run(judge.aclose())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_judge", "_loop", "_lock"):
            state.pop(key, None)  # clients, loops and locks do not pickle; they are rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()
