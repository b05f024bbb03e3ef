"""Guards against a judge that fails, so that Perception-R1 never silently trains as RLVR.

Two guards, configured by the recipe's ``judge_guard`` section:

* before the policy loads, every LLM judge of a perception reward gets one canned case past the reply cache
  (:func:`probe_judges`); a judge that is unreachable or answers no valid verdicts stops the run with an error
  naming its URL;
* during training, a logged step whose judge failure rate (``perception/judge_failure_rate``, averaged over the
  ranks by TRL) passes ``judge_guard.max_failure_rate`` is reported loudly; with ``judge_guard.stop`` the run
  stops there (:class:`JudgeFailureAlarm`) and ``run_training`` raises :class:`JudgeFailureStop`.

Example:
    >>> alarm = JudgeFailureAlarm(max_failure_rate=0.2, stop=False)
    >>> alarm.check(step=3, logs={"perception/judge_failure_rate": 0.5})
    'step 3: 50% of the judgments failed (judge_guard.max_failure_rate 20%)'
    >>> alarm.check(step=4, logs={"perception/judge_failure_rate": 0.0}) is None
    True
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from perception_r1.ranks import is_main_process

if TYPE_CHECKING:
    from perception_r1.train.config import TrainConfig

log = logging.getLogger(__name__)

FAILURE_RATE_KEY = "perception/judge_failure_rate"


class JudgeFailureStop(RuntimeError):
    """Training stopped because the judge failed too often (``judge_guard.stop``)."""


def llm_judges(cfg: TrainConfig) -> list[tuple[str, Any]]:
    """``(recipe key, JudgeConfig)`` of every perception reward judged by an LLM served elsewhere."""
    from perception_r1.judge.config import coerce_judge_config

    judges = []
    for i, spec in enumerate(cfg.rewards):
        if spec.name == "perception":
            judge = coerce_judge_config(spec.params.get("judge"))
            if judge.backend == "openai":
                judges.append((f"rewards[{i}].params.judge", judge))
    return judges


def probe_judges(cfg: TrainConfig) -> None:
    """Probe each served judge of the recipe once (unless ``judge_guard.probe`` is false).

    Raises:
        ConfigError: an unreachable judge or one without valid verdicts, naming its URL.
    """
    if not cfg.judge_guard.probe:
        return
    from perception_r1.judge.probe import describe_judge, require_working_judge

    for where, judge in llm_judges(cfg):
        hint = "Start it first (`perception-r1 train RECIPE --dry-run` prints how), or pass --judge_guard.probe false."
        judgment = require_working_judge(judge, where, skip_hint=hint)
        log.info("%s answered the probe in %.2f s", describe_judge(judge), judgment.latency_s)


class JudgeFailureAlarm(TrainerCallback):
    """Reports (and optionally stops at) logged steps whose judge failure rate passes a threshold.

    Args:
        max_failure_rate: The threshold, a share in [0, 1].
        stop: Stop training at the first such step.

    Attributes:
        alarms: One message per step that passed the threshold.
        stopped: The message of the step that stopped training, or None.
    """

    def __init__(self, max_failure_rate: float, stop: bool) -> None:
        self.max_failure_rate = max_failure_rate
        self.stop = stop
        self.alarms: list[str] = []
        self.stopped: str | None = None

    def check(self, step: int, logs: dict[str, Any]) -> str | None:
        """The alarm message for one logged step, or None when the step is within the threshold."""
        rate = logs.get(FAILURE_RATE_KEY)
        if not isinstance(rate, (int, float)) or rate <= self.max_failure_rate:
            return None
        limit = self.max_failure_rate
        return f"step {step}: {rate:.0%} of the judgments failed (judge_guard.max_failure_rate {limit:.0%})"

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        message = self.check(state.global_step, logs or {})
        if message is None:
            return
        self.alarms.append(message)
        if is_main_process():  # every rank sees the same averaged rate; one of them reports it
            log.warning(
                "JUDGE FAILURES %s: those completions got no perception score, so the step trained on the other "
                "rewards alone (samples.jsonl shows the judge's errors)",
                message,
            )
        if self.stop and self.stopped is None:
            self.stopped = message
            # On every rank (they all read the same rate), with a checkpoint: a rerun continues from this step.
            control.should_training_stop = True
            control.should_save = True
