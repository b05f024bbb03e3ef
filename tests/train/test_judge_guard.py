"""Guards against a failing judge: the start-up probe and the per-step failure-rate alarm."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from perception_r1.config import ConfigError, from_dict
from perception_r1.train.config import TrainConfig
from perception_r1.train.judge_guard import JudgeFailureAlarm, llm_judges, probe_judges
from support.fake_judge import too_few_judge, truthful_judge
from support.fake_openai_server import FakeOpenAIServer, free_port


def _cfg(judge: dict, **guard) -> TrainConfig:
    rewards = [{"name": "format"}, {"name": "perception", "params": {"judge": judge}}]
    return from_dict(TrainConfig, {"rewards": rewards, "judge_guard": guard})


def _openai(url: str) -> dict:
    return {"backend": "openai", "base_url": url, "model": "m", "max_retries": 0, "timeout_s": 5.0}


def test_probe_passes_a_judge_that_answers():
    with FakeOpenAIServer(truthful_judge) as server:
        probe_judges(_cfg(_openai(server.base_url)))
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("responder", "reachable", "message"),
    [
        # nothing listens at the URL: the error names it
        (None, False, "cannot be reached"),
        # a judge that answers one verdict for three facts: it would fail every judgment
        (too_few_judge, True, "not with one valid verdict per annotation"),
    ],
)
def test_probe_refuses_a_judge_that_cannot_judge(responder, reachable, message):
    if reachable:
        with FakeOpenAIServer(responder) as server:
            url = server.base_url
            with pytest.raises(ConfigError, match=message) as err:
                probe_judges(_cfg(_openai(url)))
    else:
        url = f"http://127.0.0.1:{free_port()}/v1"
        with pytest.raises(ConfigError, match=message) as err:
            probe_judges(_cfg(_openai(url)))
    assert url in str(err.value) and "rewards[1].params.judge" in str(err.value)


def test_probe_can_be_turned_off_and_skips_the_rule_judge():
    dead = f"http://127.0.0.1:{free_port()}/v1"
    probe_judges(_cfg(_openai(dead), probe=False))  # told not to probe
    probe_judges(_cfg({"backend": "rule"}))  # nothing to reach
    assert llm_judges(_cfg({"backend": "rule"})) == []


@pytest.mark.parametrize(
    ("logs", "alarm"),
    [
        # within the threshold
        ({"perception/judge_failure_rate": 0.1}, False),
        # at it: not above
        ({"perception/judge_failure_rate": 0.2}, False),
        # above it
        ({"perception/judge_failure_rate": 1.0}, True),
        # a step with no perception reward logged
        ({"loss": 0.1}, False),
    ],
)
def test_alarm_fires_above_the_threshold_and_stops_when_told(logs, alarm):
    for stop in (False, True):
        callback = JudgeFailureAlarm(max_failure_rate=0.2, stop=stop)
        control = SimpleNamespace(should_training_stop=False, should_save=False)
        callback.on_log(None, SimpleNamespace(global_step=5), control, logs=logs)
        assert bool(callback.alarms) is alarm
        assert control.should_training_stop is (alarm and stop)
        assert control.should_save is (alarm and stop)  # a checkpoint to continue from once the judge is back
