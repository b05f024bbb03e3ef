"""The written page: self-contained, safe against hostile text, and complete for every kind of run folder."""

from __future__ import annotations

import json
import re

import pytest

from perception_r1.report import write_report
from perception_r1.report.load import load_run
from perception_r1.report.page import page_data


def embedded_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match, "no embedded data block"
    return json.loads(match.group(1))


def test_page_is_self_contained(tmp_path, train_run, eval_run):
    out = write_report([train_run(), eval_run()], tmp_path / "deep" / "report.html")
    page = out.read_text()
    # nothing is loaded from anywhere: no external scripts, styles, images or fonts
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", page)
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_hostile_text_cannot_break_out_of_the_data_block(tmp_path, train_run, files):
    evil = "</script><script>document.title='pwned'</script><!--"
    row = {**files.sample_rows([1])[0], "completion": evil, "rewards": {"format": float("nan")}}
    page = write_report([train_run(samples=[row])], tmp_path / "r.html").read_text()
    assert "<script>document.title" not in page
    data = embedded_data(page)
    assert data["rollouts"][0]["c"] == evil  # the text itself survives, to be shown as text
    assert data["rollouts"][0]["w"] == {"format": None}  # NaN is not JSON: shown as n/a


def test_training_run_sections_and_records(tmp_path, train_run):
    page = write_report([train_run("a", offset=0.0), train_run("b", offset=0.5)], tmp_path / "r.html").read_text()
    for metric in ("reward", "rewards/format/mean", "rewards/perception/mean", "perception/judge_failure_rate",
                   "perception/judge_latency_s", "frac_reward_zero_std", "completions/mean_length",
                   "timing/_calculate_rewards"):  # fmt: skip
        assert f'data-metric="{metric}"' in page, metric
    # both runs overlaid on the total-reward chart, with their last values (0.3 + 0.05 * 4 and + 0.5)
    total = re.search(r'data-metric="reward".*?</figure>', page, re.S).group(0)
    assert total.count("<polyline") == 2 and ">0.5</b>" in total and ">1</b>" in total
    other = page.split("Other metrics")[1]
    assert 'data-metric="loss"' in other  # the rest under "other metrics"
    assert 'data-metric="reward_std"' not in other and "<polygon" in total  # std: a band, not a chart
    data = embedded_data(page)
    assert [r["label"] for r in data["runs"]] == ["a", "b"] and len(data["rollouts"]) == 2 * 12
    first = data["rollouts"][0]
    # weighted total from summary.json weights: a failed judgment contributes nothing (format 1.0 * 0.1)
    assert (first["s"], first["j"], first["t"], first["je"]) == (1, "failed", 0.1, "judge timed out after 3 attempts")
    assert data["rollouts"][1]["f"] == [["AB = 5", 1, None], ["angle ABC = 40", 0, None]]


def test_rollouts_are_grouped_by_step_and_prompt_in_logging_order(tmp_path, files):
    run = tmp_path / "r"
    rows = files.sample_rows([2], prompts=2, group=2) + files.sample_rows([1], prompts=1, group=2)
    rows = [rows[0], rows[2], rows[1], rows[3], *rows[4:]]  # interleaved groups of step 2
    files.write_jsonl(run / "samples.jsonl", rows)
    data = page_data([load_run(run)])
    order = [(r["s"], r["c"]) for r in data["rollouts"]]
    assert order == [(1, "answer 1-0-0"), (1, "answer 1-0-1"), (2, "answer 2-0-0"), (2, "answer 2-0-1"),
                     (2, "answer 2-1-0"), (2, "answer 2-1-1")]  # fmt: skip


def test_evaluation_tables_and_items(tmp_path, eval_run):
    page = write_report([eval_run("ev")], tmp_path / "r.html").read_text()
    assert 'class="eval-table"' in page and "MathVista" in page
    row = re.search(r'<tr data-run="0">.*?</tr>', page, re.S).group(0)
    assert '<span class="figure">75.0</span>' in row and "4 scored / 1 errors" in row
    assert "<th>task</th>" in page and "<td>fqa</td><td>50.0</td><td>2</td>" in page  # breakdown table
    items = embedded_data(page)["items"]
    assert [(i["g"], i["ok"], i["e"]) for i in items][3:] == [
        ("mv-3", False, None),
        ("mv-4", None, "image: unreadable"),
    ]


def test_mmmu_pro_settings_and_wemath_tables(tmp_path):
    run = tmp_path / "ev"
    run.mkdir()
    summary = {
        "model_name": "m",
        "benchmarks": {
            "mmmu_pro": {"overall": 40.0, "scored": 20, "settings": {"standard-10": 30.0, "vision": 50.0}},
            "wemath": {
                "overall": 61.0,
                "four_dim": {m: {"IK_pct": 10.0, "IG_pct": 5.0, "CM_pct": 80.0, "RM_pct": 5.0, "score": 61.0}
                             for m in ("strict", "loose")},
            },
        },
    }  # fmt: skip
    (run / "summary.json").write_text(json.dumps(summary))
    page = write_report([run], tmp_path / "r.html").read_text()
    assert "<td>standard-10</td><td>30.0</td>" in page and "<td>vision</td><td>50.0</td>" in page
    assert "<td>strict</td><td>10.0</td><td>5.0</td><td>80.0</td><td>5.0</td><td>61.0</td>" in page


def test_evaluation_still_running_is_counted_from_items(tmp_path, eval_run):
    page = write_report([eval_run("ev", with_summary=False)], tmp_path / "r.html").read_text()
    row = re.search(r'<tr data-run="0">.*?</tr>', page, re.S).group(0)
    assert "counted from items" in row and '<span class="figure">75.0</span>' in row  # 3 right of 4 scored


@pytest.mark.parametrize(
    ("damage", "shown"),
    [
        (lambda run: (run / "metrics.jsonl").write_text('{"step": 1}\n{"step"'), "being written"),  # torn tail
        (lambda run: (run / "samples.jsonl").write_text("garbage\n"), "damaged files"),  # nothing readable
        (lambda run: (run / "summary.json").write_text("{"), "summary.json: corrupt"),  # broken summary
        (lambda run: (run / "metrics.jsonl").unlink(), "metrics.jsonl: missing"),  # a file gone
    ],
)
def test_damaged_runs_are_shown_as_such(tmp_path, train_run, damage, shown):
    run = train_run()
    damage(run)
    page = write_report([run, tmp_path / "never-created"], tmp_path / "r.html").read_text()
    assert shown in page
    assert "folder missing" in page and "no such folder" in page


def test_experiment_folder_with_extra_html(tmp_path, files):
    exp = tmp_path / "exp"
    for arm in ("rlvr", "perception_r1"):
        rows = [{**r, "arm": arm, "seed": 0, "problem_id": f"p{i % 2}"} for i, r in enumerate(files.sample_rows([1]))]
        files.write_jsonl(exp / "runs" / f"{arm}-seed0" / "samples.jsonl", rows)
        files.write_jsonl(exp / "runs" / f"{arm}-seed0" / "metrics.jsonl", files.metric_rows(2))
    (exp / "summary.json").write_text(json.dumps({"arms": ["rlvr", "perception_r1"], "p_value": 0.04}))
    extra = '<table id="exp-results"><tr><td>McNemar p = 0.04</td></tr></table>'
    page = write_report([exp], tmp_path / "r.html", title="Experiment", extra_html=extra).read_text()
    assert page.index('id="exp-results"') < page.index('id="runs"')  # the experiment's tables come first
    assert "experiment summary.json" in page and "&quot;p_value&quot;: 0.04" in page
    data = embedded_data(page)
    assert [r["label"] for r in data["runs"]] == ["perception_r1-seed0", "rlvr-seed0"]
    assert {r["g"] for r in data["rollouts"]} == {"p0", "p1"}  # problem ids pair rollouts across arms
    assert data["rollouts"][0]["x"] == {"arm": "perception_r1", "seed": 0}


def test_labels_must_match(tmp_path, train_run):
    with pytest.raises(ValueError, match="one per run folder"):
        write_report([train_run()], tmp_path / "r.html", labels=["a", "b"])


def test_no_runs_still_writes_a_page(tmp_path):
    page = write_report([], tmp_path / "r.html").read_text()
    assert "No run folders given" in page
