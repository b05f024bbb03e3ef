"""One canned case sent to a judge, past the reply cache: is it reachable, and does it return valid verdicts?

Used by ``perception-r1 judge check`` (a report) and at the start of training and of the verl/EasyR1 adapters (a
judge that cannot answer would silently turn Perception-R1 into RLVR: every perception score ``None``).

Example:
    >>> from perception_r1.judge.config import JudgeConfig
    >>> probe_judge(JudgeConfig(backend="rule")).status  # the rule judge needs no server
    'ok'
"""

from __future__ import annotations

import dataclasses

from perception_r1.config import ConfigError
from perception_r1.judge.config import JudgeConfig
from perception_r1.judge.judges import Judgment, failure_reason

# One case whose answer is unambiguous for a capable judge: facts 1 and 3 are stated, fact 2 is not.
CANNED_ANNOTATIONS = ["AB = 5", "angle ABC = 90°", "BC = 12"]
CANNED_RESPONSE = "From the figure, AB = 5 and BC = 12, so by Pythagoras AC = 13."
CANNED_EXPECTED = [1, 0, 1]


def probe_judge(cfg: JudgeConfig) -> Judgment:
    """Judge the canned case once, never from the reply cache (a probe must reach the judge).

    Returns:
        The :class:`perception_r1.judge.judges.Judgment` (``status`` ok or failed; never raises for a failure).
    """
    from perception_r1.judge.judges import build_judge, judge_sync

    judge = build_judge(dataclasses.replace(cfg, cache_path=None))
    (judgment,) = judge_sync(judge, [(CANNED_ANNOTATIONS, CANNED_RESPONSE)], close=True)
    return judgment


def describe_judge(cfg: JudgeConfig) -> str:
    """``the judge at URL (model M)`` for messages (no key: the key never leaves the environment)."""
    if cfg.backend == "openai":
        return f"the judge at {cfg.base_url} (model {cfg.model})"
    return f"the {cfg.backend} judge (model {cfg.model})"


def require_working_judge(cfg: JudgeConfig, where: str, skip_hint: str = "") -> Judgment:
    """Probe the judge; raise unless it answered with valid verdicts.

    Args:
        cfg: The judge.
        where: The recipe key it comes from, for the message (e.g. ``rewards[perception].params.judge``).
        skip_hint: How to start without this check, appended to the message.

    Returns:
        The successful judgment (latency, attempts).

    Raises:
        ConfigError: naming the URL, the kind of failure and the judge's error text.
    """
    judgment = probe_judge(cfg)
    if judgment.status == "ok":
        return judgment
    reason = failure_reason(judgment.error)
    what = {
        "connection": "cannot be reached (nothing answers there?)",
        "timeout": f"did not answer within judge.timeout_s={cfg.timeout_s:g} s",
        "invalid reply": "answered, but not with one valid verdict per annotation (a model too small to judge?)",
    }.get(reason, f"failed ({reason})")
    raise ConfigError(
        f"{where}: {describe_judge(cfg)} {what}: {judgment.error}. Every perception score would be missing and "
        f"the run would train on the other rewards alone.{' ' + skip_hint if skip_hint else ''}"
    )
