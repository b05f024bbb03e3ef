"""Run folders as ``perception-r1 train`` / ``eval`` / ``experiment`` write them, for the report tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

REWARD_WEIGHTS = {"format": 0.1, "perception": 0.7}


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]], tail: str = "") -> Path:
    """JSON lines, then ``tail`` verbatim (e.g. a torn last line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")
    return path


def metric_rows(steps: int, offset: float = 0.0) -> list[dict[str, Any]]:
    """Metrics rows with the keys MetricsCallback writes (reward = 0.3 + offset + 0.05 * step)."""
    return [
        {
            "step": s,
            "epoch": s / 10,
            "reward": round(0.3 + offset + 0.05 * s, 4),
            "reward_std": 0.1,
            "rewards/format/mean": 1.0,
            "rewards/perception/mean": round(0.2 + 0.05 * s, 4),
            "perception/judge_failure_rate": 0.25,
            "perception/judge_latency_s": 1.5,
            "frac_reward_zero_std": 0.5,
            "completions/mean_length": 100 + s,
            "timing/_calculate_rewards": 0.2,
            "loss": 0.01,
        }
        for s in range(1, steps + 1)
    ]


def sample_rows(steps: Iterable[int], prompts: int = 2, group: int = 3) -> list[dict[str, Any]]:
    """samples.jsonl rows: per step and prompt a group; the first completion of each group has a failed judgment.

    Completions are ``answer <step>-<prompt>-<k>``; verdicts ``[1, 0]`` over two annotations otherwise.
    """
    rows = []
    for s in steps:
        for p in range(prompts):
            for k in range(group):
                rows.append(
                    {
                        "step": s,
                        "prompt": f"<image>Find AB in triangle {p}.",
                        "completion": f"answer {s}-{p}-{k}",
                        "rewards": {"format": 1.0, "perception": None if k == 0 else 0.5},
                        "advantage": round(0.5 * k - 0.5, 3),
                        "perception_verdicts": "judge timed out after 3 attempts" if k == 0 else [1, 0],
                        "visual_annotations": ["AB = 5", "angle ABC = 40"],
                    }
                )
    return rows


@pytest.fixture
def train_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a finished training folder (metrics, samples, summary, recipe) named ``name``."""

    def make(name: str = "train", steps: int = 4, offset: float = 0.0, samples: list | None = None) -> Path:
        run = tmp_path / name
        write_jsonl(run / "metrics.jsonl", metric_rows(steps, offset))
        write_jsonl(run / "samples.jsonl", sample_rows([1, steps]) if samples is None else samples)
        (run / "summary.json").write_text(json.dumps({"steps": steps, "rewards": REWARD_WEIGHTS}))
        (run / "recipe.json").write_text(json.dumps({"model": {"path": "tiny"}}))
        return run

    return make


@pytest.fixture
def eval_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: an evaluation folder with summary.json and items/mathvista.jsonl (3 right, 1 wrong, 1 error)."""

    def make(name: str = "eval", with_summary: bool = True) -> Path:
        run = tmp_path / name
        items = [
            {
                "id": f"mv-{i}",
                "benchmark": "mathvista",
                "prompt": f"Question {i}?",
                "response": f"The answer is {i}",
                "extracted": str(i),
                "extraction": "rule",
                "gold": str(i) if i < 3 else "99",
                "choices": None,
                "correct": i < 3,
                "graded_by": "rule",
                "error": None,
                "metadata": {"task": "fqa" if i % 2 else "geometry"},
            }
            for i in range(4)
        ]
        items.append({**items[0], "id": "mv-4", "correct": None, "extracted": None, "error": "image: unreadable"})
        write_jsonl(run / "items" / "mathvista.jsonl", items)
        if with_summary:
            summary = {
                "model_name": "tiny-vl",
                "benchmarks": {
                    "mathvista": {
                        "overall": 75.0,
                        "correct": 3,
                        "scored": 4,
                        "errors": 1,
                        "no_answer": 0,
                        "n_items": 5,
                        "breakdowns": {"task": {"fqa": {"accuracy": 50.0, "correct": 1, "n": 2}}},
                    }
                },
            }
            (run / "summary.json").write_text(json.dumps(summary))
        return run

    return make


@pytest.fixture
def files() -> Any:
    """The builders above (``write_jsonl``, ``metric_rows``, ``sample_rows``) for tests that shape their own runs."""
    from types import SimpleNamespace

    return SimpleNamespace(write_jsonl=write_jsonl, metric_rows=metric_rows, sample_rows=sample_rows)
