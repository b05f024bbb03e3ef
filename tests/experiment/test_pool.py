"""Pooling experiment folders: run-level differences (the headline), the summed McNemar counts labelled as
pseudo-replicated, and refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perception_r1.analysis.mcnemar import exact_p_value
from perception_r1.cli.main import build_app
from perception_r1.experiment.pool import load_summaries, pool_summaries, pooled_markdown

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "results" / "synthetic-experiment"


def summary(warmup: float, rlvr: list[float], pr1: list[float], b: int, c: int) -> dict:
    """A minimal experiment summary: the same values for every metric, one McNemar comparison's counts."""
    arms = {}
    for policy, values in (("warmup", [warmup]), ("rlvr", rlvr), ("perception_r1", pr1)):
        arms[policy] = {m: {"per_seed": values} for m in ("answer_accuracy", "perception_accuracy")}
    counts = {"b": b, "c": c}
    return {"seeds": list(range(len(rlvr))), "n_test": 10, "arms": arms,
            "mcnemar": {"perception_r1_vs_rlvr": {"answer": counts, "perception": counts}}}  # fmt: skip


def test_the_run_is_the_unit_and_summed_counts_are_labelled() -> None:
    pooled = pool_summaries({
        "a": summary(0.5, [0.4, 0.6], [0.5, 0.7], 3, 1),
        "b": summary(0.2, [0.3, 0.2], [0.3, 0.1], 2, 4),
        "c": summary(0.4, [0.4, 0.4], [0.45, 0.45], 1, 0),
    })  # fmt: skip
    d = pooled["differences"]["perception_r1_vs_rlvr"]["perception_accuracy"]
    # one value per run (the mean over its seeds), in the order given; the interval is over the 3 runs
    assert d["per_run"] == pytest.approx([0.1, -0.05, 0.05]) and d["unit"] == "run"
    assert d["mean"] == pytest.approx(0.1 / 3, abs=1e-6) and d["ci95"] is not None and d["ci95"][0] < 0 < d["ci95"][1]
    assert (d["positive"], d["negative"]) == (2, 1)
    # the per-(run, seed) values are kept, grouped by run, for information
    assert d["per_run_seed"] == [pytest.approx([0.1, 0.1]), pytest.approx([0.0, -0.1]), pytest.approx([0.05, 0.05])]
    # the warm-up's single value stands for every seed of its own run
    w = pooled["differences"]["rlvr_vs_warmup"]["answer_accuracy"]
    assert w["per_run"] == pytest.approx([0.0, 0.05, 0.0])
    # McNemar: the discordant counts summed over runs, tested exactly, under the pseudo-replication label
    summed = pooled["mcnemar_summed"]["perception_r1_vs_rlvr"]["answer"]
    assert summed == {"b": 6, "c": 5, "p_value": exact_p_value(6, 5)}
    assert "pseudo-replication" in pooled["mcnemar_summed_label"]
    # a comparison missing from the summaries is left out rather than invented
    assert "rlvr_vs_warmup" not in pooled["mcnemar_summed"]
    # a metric the summaries lack (recall) is left out of the differences
    assert "perception_recall" not in pooled["differences"]["perception_r1_vs_rlvr"]
    text = pooled_markdown(pooled)
    assert "| perception_r1_vs_rlvr | answer | 6 | 5 | 1 |" in text and "pseudo-replication" in text
    assert "| perception_r1_vs_rlvr | perception_accuracy | +0.033 [" in text and "(n=3)" in text


def test_two_runs_of_one_seed_each_give_two_units() -> None:
    pooled = pool_summaries({"a": summary(0.5, [0.4], [0.5], 1, 0), "b": summary(0.5, [0.4], [0.6], 2, 0)})
    d = pooled["differences"]["perception_r1_vs_rlvr"]["answer_accuracy"]
    assert d["per_run"] == pytest.approx([0.1, 0.2]) and len(d["ci95"]) == 2


def write(folder: Path, content: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


@pytest.mark.parametrize(
    ("second", "message"),
    [
        # a folder without a summary: the experiment did not finish there
        (None, "no such file"),
        # a summary that is not JSON
        ("{not json", "not valid JSON"),
        # a JSON file that is not an experiment summary
        ({"seeds": [0]}, "missing key 'arms'"),
        # an arm without per-seed values
        ({"seeds": [0], "arms": {}, "mcnemar": {}}, "missing arms.warmup.answer_accuracy.per_seed"),
        # one seed listed, two per-seed values
        (summary(0.5, [0.1, 0.2], [0.1, 0.2], 0, 0) | {"seeds": [0]}, "has 2 values for 1 seeds"),
        # a warm-up with neither one value nor one per seed
        (
            summary(0.5, [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], 0, 0)
            | {"arms": {"warmup": {m: {"per_seed": [0.1, 0.2]} for m in ("answer_accuracy", "perception_accuracy")}}},
            "warmup.answer_accuracy.per_seed has 2 values for 3 seeds",
        ),
    ],
)
def test_bad_folders_are_refused_with_their_path(tmp_path: Path, second: object, message: str) -> None:
    good = write(tmp_path / "good", summary(0.5, [0.5], [0.5], 0, 0))
    bad = tmp_path / "bad"
    if second is None:
        bad.mkdir()
    else:
        write(bad, second)
    with pytest.raises(ValueError, match=message) as err:
        load_summaries([good, bad])
    assert "bad" in str(err.value)


def test_one_run_twice_or_alone_is_refused(tmp_path: Path) -> None:
    good = write(tmp_path / "good", summary(0.5, [0.5], [0.5], 0, 0))
    # pooling a run with itself would count every problem twice
    with pytest.raises(ValueError, match="given twice"):
        load_summaries([good, good / "summary.json"])
    # one run is not a pool
    with pytest.raises(ValueError, match="at least two"):
        load_summaries([good])


def test_the_cli_pools_the_committed_full_runs(tmp_path: Path) -> None:
    runs = [COMMITTED, COMMITTED / "full-first-run", COMMITTED / "full-warmup-seed1"]
    result = CliRunner().invoke(
        build_app(), ["analyze", "experiments", *map(str, runs), "-o", str(tmp_path / "p.json")]
    )
    assert result.exit_code == 0, result.output
    pooled = json.loads((tmp_path / "p.json").read_text())
    # 3 runs x 3 seeds: 3 units, each the mean of its 3 seeds
    d = pooled["differences"]["perception_r1_vs_rlvr"]["perception_accuracy"]
    assert len(d["per_run"]) == 3 and [len(s) for s in d["per_run_seed"]] == [3, 3, 3]
    own = [json.loads((r / "summary.json").read_text()) for r in runs]
    for value, seeds, s in zip(d["per_run"], d["per_run_seed"], own, strict=True):
        pr, rl = (s["arms"][p]["perception_accuracy"]["per_seed"] for p in ("perception_r1", "rlvr"))
        assert seeds == pytest.approx([a - b for a, b in zip(pr, rl, strict=True)])
        assert value == pytest.approx(sum(seeds) / 3)
    # the summed counts are the sums of each run's own summed counts
    summed = pooled["mcnemar_summed"]["perception_r1_vs_rlvr"]["perception"]
    assert summed["b"] == sum(o["mcnemar"]["perception_r1_vs_rlvr"]["perception"]["b"] for o in own)
    assert "| perception_r1_vs_rlvr | perception |" in result.output


def test_the_cli_names_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["analyze", "experiments", str(COMMITTED), str(tmp_path / "nope")])
    assert result.exit_code == 2 and "nope" in result.output and "no such file" in result.output
