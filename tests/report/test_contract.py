"""The report reads what the project's own writers write: MetricsCallback (training) and the eval runner."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from perception_r1.report import write_report
from perception_r1.report.load import load_run
from perception_r1.report.page import page_data

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"


def _state(step):
    return SimpleNamespace(global_step=step, epoch=step / 10, is_world_process_zero=True)


def test_training_files_written_by_metrics_callback(tmp_path):
    from perception_r1.train.callbacks import MetricsCallback

    cb = MetricsCallback(tmp_path, ["format", "perception"], samples_per_step=2, plot=False)
    user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find AB."}]}]
    cb.trainer = SimpleNamespace(
        _logs={
            "prompt": [user, user],
            "completion": [[{"role": "assistant", "content": "AB = 5"}], [{"role": "assistant", "content": "?"}]],
            "rewards": {"format": [1.0, 0.0], "perception": [0.5, None]},
            "advantages": [0.7, -0.7],
            "extra": {"perception_verdicts": [[1, 0], "judge: HTTP 503"]},
        }
    )
    cb.on_train_begin(None, _state(0), None)
    cb.on_log(None, _state(1), None, logs={"reward": 0.4, "rewards/format/mean": 0.5, "frac_reward_zero_std": 0.0})
    run = load_run(tmp_path)
    assert run.is_train and run.in_progress  # no summary.json yet: training is still going
    data = page_data([run])
    ok, failed = data["rollouts"]
    assert data["prompts"][ok["p"]] == "<image>Find AB." and ok["c"] == "AB = 5"
    assert (ok["w"], ok["a"], ok["j"]) == ({"format": 1.0, "perception": 0.5}, 0.7, "ok")
    assert ok["f"] == [[None, 1, None], [None, 0, None]]  # the samples carry no annotation texts: numbered
    assert (failed["j"], failed["je"], failed["w"]["perception"]) == ("failed", "judge: HTTP 503", None)
    page = write_report([tmp_path], tmp_path / "r.html").read_text()
    assert 'data-metric="frac_reward_zero_std"' in page


class GoldAnswers:
    """A generator that answers every item with its gold answer in the project's answer format."""

    def __init__(self, items):
        from perception_r1.eval.prompts import build_prompt

        self.answers = {build_prompt(item): item.gold for item in items}

    def generate(self, requests):
        from perception_r1.eval.generation import Generation

        return [Generation(f"<answer>\n\\boxed{{{self.answers[r.prompt]}}}\n</answer>") for r in requests]


def test_evaluation_folder_written_by_the_runner(tmp_path):
    from perception_r1.eval.benchmarks import get_benchmark
    from perception_r1.eval.data import iter_items
    from perception_r1.eval.runner import EvalConfig, run_eval
    from perception_r1.rewards.mathcheck import MathChecker

    benches = ["mathvista", "wemath"]
    items = [item for b in benches for item in iter_items(get_benchmark(b), FIXTURES)]
    out = tmp_path / "ev"
    cfg = EvalConfig(model="scripted", output_dir=str(out), data_dir=str(FIXTURES), benchmarks=",".join(benches))
    run_eval(cfg, checker=MathChecker(isolation="inline"), generator=GoldAnswers(items))
    summary = json.loads((out / "summary.json").read_text())
    page = write_report([out], tmp_path / "r.html").read_text()
    row = re.search(r'<tr data-run="0">.*?</tr>', page, re.S).group(0)
    figures = re.findall(r'<span class="figure">([^<]*)</span>', row)
    # the table shows exactly the runner's headline figures, in the paper's benchmark order
    expected = [summary["benchmarks"][b]["overall"] for b in benches]
    assert figures == [f"{v:.1f}" if v is not None else "n/a" for v in expected]
    data = page_data([load_run(out)])
    assert len(data["items"]) == len(items)
    assert {i["b"] for i in data["items"]} == set(benches)
