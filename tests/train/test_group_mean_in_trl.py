"""``failure_policy: group_mean`` inside a real TRL GRPOTrainer step: image prompts and a judge that fails.

TRL hands rewards the prompts with their PIL images, a distinct object per repeated copy, so grouping by object
identity or ``repr`` finds no groups and every failure stays None (NaN, counted as 0 by TRL's default sum). The
reward must group by the dataset ``id`` (or blocks of ``num_generations``) and give each failed judgment its own
group's mean. Kept small: one step, 2 prompts x 4 completions x 8 tokens on the tiny model.
"""

from __future__ import annotations

import hashlib
import math

import pytest

from perception_r1.config import from_dict
from perception_r1.judge.prompt import format_verdicts
from support.fake_judge import parse_case
from support.fake_openai_server import FakeOpenAIServer, last_user_text

pytestmark = pytest.mark.integration

N_GENERATIONS = 4


def varied_judge(body):
    """Per-fact verdicts from a hash of the response: valid scores differ between completions and groups."""
    annotations, response = parse_case(last_user_text(body))
    verdicts = [hashlib.sha1(f"{i}|{response}".encode()).digest()[0] % 2 for i in range(len(annotations))]
    return format_verdicts(verdicts, structured=False)


class Recorder:
    """Wraps the reward as TRL sees it and keeps what TRL passed in and what came back."""

    def __init__(self, reward):
        self.reward = reward
        self.__name__ = reward.__name__
        self.calls = []

    def __call__(self, completions, **kwargs):
        out = self.reward(completions, **kwargs)
        self.calls.append({"kwargs": kwargs, "out": out, "judgments": list(self.reward.last_judgments)})
        return out


@pytest.fixture(scope="module")
def trl_step(tiny_model_path, tmp_path_factory):
    from trl import GRPOTrainer

    from perception_r1.train.config import TrainConfig
    from perception_r1.train.grpo_args import grpo_config
    from perception_r1.train.reward_setup import build_rewards
    from perception_r1.train.trainer import build_dataset, load_policy, load_rows

    # the first two judge requests fail with HTTP 500 and, with no retries, so do their judgments
    with FakeOpenAIServer(varied_judge, script=["500", "500"]) as server:
        judge = {"base_url": server.base_url, "max_retries": 0, "max_concurrency": 1, "invalid_retries": 0}
        cfg = from_dict(
            TrainConfig,
            {
                "data": {"synth_n": 2, "synth_seed": 3},
                "rewards": [
                    {"name": "perception", "weight": 1.0, "params": {"judge": judge, "failure_policy": "group_mean"}}
                ],
                "grpo": {
                    "num_generations": N_GENERATIONS,
                    "per_device_train_batch_size": 2 * N_GENERATIONS,
                    "max_completion_length": 8,
                    "max_steps": 1,
                    "seed": 11,
                },
                "logging": {"plot": False},
                "output": {"dir": str(tmp_path_factory.mktemp("group-mean")), "save_final": False, "resume": "never"},
            },
        )
        funcs, weights, _ = build_rewards(cfg.rewards)
        recorder = Recorder(funcs[0])
        policy, processor, _ = load_policy(cfg.model, tiny_model_path)
        dataset, _ = build_dataset(load_rows(cfg.data), processor, None)
        trainer = GRPOTrainer(
            model=policy,
            reward_funcs=[recorder],
            args=grpo_config(cfg, weights),
            train_dataset=dataset,
            processing_class=processor,
        )
        trainer.train()
        funcs[0].close()
    return recorder, trainer


def test_failed_judgments_take_their_own_groups_mean(trl_step):
    recorder, _ = trl_step
    assert recorder.calls, "TRL never called the reward"
    checked = 0
    for call in recorder.calls:
        ids, out, judgments = call["kwargs"]["id"], call["out"], call["judgments"]
        assert len(set(ids)) == 2 and len(out) == 2 * N_GENERATIONS
        for i, judgment in enumerate(judgments):
            if judgment.status != "failed":
                assert out[i] == judgment.score
                continue
            siblings = [out[j] for j, g in enumerate(judgments) if ids[j] == ids[i] and g.status == "ok"]
            if siblings:  # neutral: exactly the mean of the valid scores of the same prompt, never None or 0
                assert out[i] == pytest.approx(sum(siblings) / len(siblings))
                checked += 1
            else:
                assert out[i] is None
    assert checked >= 1, "no failed judgment had a valid sibling: the test did not exercise group_mean"
    assert recorder.reward.stats["failed"] >= 2 and recorder.reward.stats["imputed"] == checked


def test_the_prompts_trl_passes_carry_images_that_defeat_identity_grouping(trl_step):
    # The condition behind the bug: equal prompts arrive as distinct objects with images inside.
    recorder, _ = trl_step
    prompts, ids = recorder.calls[0]["kwargs"]["prompts"], recorder.calls[0]["kwargs"]["id"]
    first = [p for p, i in zip(prompts, ids, strict=True) if i == ids[0]]
    assert len(first) == N_GENERATIONS
    assert "image" in repr(first[0]).lower()


def test_trl_logged_a_finite_perception_reward(trl_step):
    _, trainer = trl_step
    logged = [h for h in trainer.state.log_history if "rewards/perception/mean" in h]
    assert logged and all(math.isfinite(h["rewards/perception/mean"]) for h in logged)
