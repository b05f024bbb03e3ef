"""The whole experiment end to end at toy size (integration), plus resume and bad-input behaviour."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from perception_r1.config import ConfigError, apply_overrides, from_dict
from perception_r1.experiment.config import ExperimentConfig
from support.fake_model import write_fake_model
from support.toy_experiment import toy_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from perception_r1.experiment.runner import run_experiment

    out = tmp_path_factory.mktemp("exp") / "toy"
    run_experiment(toy_config(out), command="test")
    return out


@pytest.mark.integration
def test_end_to_end_writes_every_output(finished: Path) -> None:
    summary = json.loads((finished / "summary.json").read_text())
    for key in ("command", "seeds", "n_test", "wall_s", "machine", "arms", "mcnemar", "training"):
        assert key in summary
    for policy in ("warmup", "rlvr", "perception_r1"):
        for fig in ("answer_accuracy", "perception_accuracy"):
            block = summary["arms"][policy][fig]
            assert 0.0 <= block["mean"] <= 1.0 and len(block["per_seed"]) == 1
    for comparison in ("perception_r1_vs_rlvr", "perception_r1_vs_warmup", "rlvr_vs_warmup"):
        for outcome in ("answer", "perception"):
            test = summary["mcnemar"][comparison][outcome]
            assert {"b", "c", "p_value"} <= test.keys() and 0.0 <= test["p_value"] <= 1.0
    # the image-blind chance level is graded on the same problems and tested against the warm-up
    blind = summary["baselines"]["blind"]
    assert 0.0 <= blind["perception_accuracy"] <= 1.0 and blind["format"] == 1.0
    assert {"b", "c", "p_value"} <= summary["mcnemar"]["warmup_vs_blind"]["perception"].keys()
    assert "image-blind baseline" in (finished / "report.md").read_text()
    assert summary["n_test"] == len(
        list((finished / "eval" / "warmup").glob("items.jsonl"))[0].read_text().splitlines()
    )
    outputs = (
        "report.md", "report.html", "plots/reward_components.png", "plots/test_figures.png",
        "plots/zero_variance_groups.png", "runs/rlvr-seed0/metrics.jsonl",
        "runs/perception_r1-seed0/final/config.json",
    )  # fmt: skip
    for name in outputs:
        assert (finished / name).is_file(), name
    html = (finished / "report.html").read_text()
    assert "Controlled experiment" in html and "http://" not in html.split("<body")[1][:2000]
    # both arms log the perception reward; only perception_r1 trains on it
    rl = json.loads((finished / "runs" / "rlvr-seed0" / "summary.json").read_text())
    pr = json.loads((finished / "runs" / "perception_r1-seed0" / "summary.json").read_text())
    assert rl["rewards"]["perception"] == 0.0 and pr["rewards"]["perception"] == 0.7
    assert rl["steps"] == pr["steps"] == 2
    # the two runs trained in parallel worker processes (workers: 2) and each recorded its time
    timings = json.loads((finished / "timings.json").read_text())
    assert {"grpo/rlvr-seed0", "grpo/perception_r1-seed0", "reading", "warmup", "eval/warmup"} <= timings.keys()
    # the warm-up started from the reading stage's policy, whose figures are in the summary and the report
    assert summary["reading"]["steps"] == 2 and set(summary["reading"]["val_read_after"]) == {"cells", "blank"}
    assert "Reading stage" in (finished / "report.md").read_text()
    # their shared time is subtracted once, so the entries sum to the wall time the summary reports
    assert timings.get("grpo/parallel overlap", 0.0) <= 0.0
    assert summary["wall_s"] == pytest.approx(sum(timings.values()), abs=0.2)


# What TRL logs into metrics.jsonl every step, which the published per-step records promise (a TRL upgrade that
# stops logging one of them fails here).
LOGGED = (
    "loss",
    "grad_norm",
    "learning_rate",
    "entropy",
    "completions/mean_length",
    "completions/max_length",
    "completions/clipped_ratio",
    "clip_ratio/region_mean",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    *(f"rewards/{c}/{s}" for c in ("accuracy", "format", "perception", "repetition") for s in ("mean", "std")),
)


@pytest.mark.integration
def test_the_frozen_control_runs_on_the_arms_prompts_and_never_moves(finished: Path) -> None:
    from safetensors.torch import load_file

    runs = finished / "runs"
    metrics = {
        arm: [json.loads(x) for x in (runs / f"{arm}-seed0" / "metrics.jsonl").read_text().splitlines()]
        for arm in ("rlvr", "perception_r1", "frozen")
    }
    for arm, rows in metrics.items():
        steps = [r for r in rows if "loss" in r]
        assert [r["step"] for r in steps] == [1, 2], arm
        missing = [k for k in LOGGED for r in steps if k not in r]
        assert not missing, (arm, missing)
    assert {r["learning_rate"] for r in metrics["frozen"] if "loss" in r} == {0.0}
    # learning rate 0: the control's weights are the warm-up's, tensor for tensor
    warm = load_file(finished / "warmup" / "final" / "model.safetensors")
    frozen = load_file(runs / "frozen-seed0" / "final" / "model.safetensors")
    assert warm.keys() == frozen.keys() and all(bool((warm[k] == frozen[k]).all()) for k in warm)
    # the same seed draws the same prompts in the same order as the arms
    prompts = {
        arm: [json.loads(x)["prompt"] for x in (runs / f"{arm}-seed0" / "samples.jsonl").read_text().splitlines()]
        for arm in ("rlvr", "frozen")
    }
    assert prompts["rlvr"] == prompts["frozen"] and prompts["rlvr"]
    # every reward component is logged and compared step by step with each arm; the control is not evaluated
    summary = json.loads((finished / "summary.json").read_text())
    assert summary["training"]["frozen"]["0"]["steps"] == [1, 2]
    pair = summary["training_compared"]["perception_r1_minus_frozen"]["perception"]
    assert pair["per_seed"]["0"]["n_steps"] == 2 and pair["second_half"]["ci95"] is None  # one seed: no interval
    assert not (finished / "eval" / "frozen-seed0").exists()
    # the report opens with what was and was not shown, the rules last
    lines = (finished / "report.md").read_text().splitlines()
    findings = lines[2 : 2 + len(summary["findings"])]
    assert findings == [f"- {line}" for line in summary["findings"]], lines[:15]
    assert findings[-1].startswith("- Rules:") and "Not tested" not in "".join(findings)
    html = (finished / "report.html").read_text()
    assert html.index("id='findings'") < html.index("<h3>Test results")


@pytest.mark.integration
def test_publish_writes_the_raw_records_from_which_every_figure_recomputes(finished: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from perception_r1.cli.main import build_app
    from perception_r1.experiment.recompute import differences

    dest = tmp_path / "published"
    result = CliRunner().invoke(build_app(), ["publish", str(finished), str(dest)])
    assert result.exit_code == 0, result.output
    assert "check: every figure" in result.output and "MB" in result.output
    manifest = json.loads((dest / "published.json").read_text())
    files = set(manifest["files"])
    for name in ("recipe.json", "summary.json", "report.md", "report.html", "timings.json", "data/splits.jsonl.gz",
                 "warmup/summary.json", "warmup/trainer_state.json", "reading/summary.json",
                 "policy/policy_build.json",
                 "runs/frozen-seed0/metrics.jsonl.gz", "runs/rlvr-seed0/samples.jsonl.gz",
                 "eval/perception_r1-seed0/items.jsonl.gz", "eval/blind/items.jsonl.gz", "plots/test_figures.png",
                 "plots/rewards_minus_frozen.png"):  # fmt: skip
        assert name in files, name
    # no weights, checkpoints, images or uncompressed JSONL
    assert not [f for f in files if f.endswith((".safetensors", ".parquet", ".jsonl")) or "checkpoint" in f]
    print(f"published toy folder: {manifest['bytes']} bytes in {len(files)} files")
    # the figures rebuilt from the published records alone are the experiment's own
    assert (
        differences(
            json.loads((finished / "summary.json").read_text()), json.loads((dest / "summary.json").read_text())
        )
        == []
    )
    # `perception-r1 report` on the published folder reads the compressed runs: rollouts and all
    page = CliRunner().invoke(build_app(), ["report", str(dest), "-o", str(tmp_path / "page.html")])
    assert page.exit_code == 0 and "3 run(s), 24 rollout(s)" in page.output, page.output
    # a figure edited by hand, or a record removed, is found by the check
    summary = json.loads((dest / "summary.json").read_text())
    summary["arms"]["rlvr"]["answer_accuracy"]["mean"] += 0.5
    (dest / "summary.json").write_text(json.dumps(summary))
    check = CliRunner().invoke(build_app(), ["publish", "--check", str(dest)])
    assert check.exit_code == 1 and "summary.json: arms.rlvr.answer_accuracy.mean" in check.output, check.output
    assert "summary.json: changed since it was published" in check.output


@pytest.mark.integration
def test_rerun_resumes_without_repeating(finished: Path, tmp_path: Path) -> None:
    from perception_r1.experiment.runner import run_experiment

    copy = tmp_path / "toy"
    shutil.copytree(finished, copy)
    timings = json.loads((copy / "timings.json").read_text())
    # an interrupted evaluation (summary missing, last line cut) regenerates only what is missing
    items = copy / "eval" / "rlvr-seed0" / "items.jsonl"
    lines = items.read_text().splitlines()
    items.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])
    (copy / "eval" / "rlvr-seed0" / "summary.json").unlink()
    run_experiment(toy_config(copy), command="test")
    after = json.loads((copy / "timings.json").read_text())
    # no training stage ran again; only the one evaluation did
    assert {k: v for k, v in after.items() if k != "eval/rlvr-seed0"} == {
        k: v for k, v in timings.items() if k != "eval/rlvr-seed0"
    }
    assert len(items.read_text().splitlines()) == len(lines)


@pytest.mark.integration
def test_an_evaluation_graded_by_an_older_grader_is_graded_again_without_generating(finished: Path, tmp_path) -> None:
    from perception_r1.experiment.perception_metrics import GRADER_VERSION
    from perception_r1.experiment.runner import run_experiment

    copy = tmp_path / "toy"
    shutil.copytree(finished, copy)
    folder = copy / "eval" / "rlvr-seed0"
    # as an evaluation made before grader versions: no stamp, one grade changed; and no checkpoint to generate with
    items = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    for item in items:
        item.pop("grader")
    items[0]["wrong_facts"] = 99
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    summary = json.loads((folder / "summary.json").read_text())
    summary.pop("grader")
    (folder / "summary.json").write_text(json.dumps(summary))
    shutil.rmtree(copy / "runs" / "rlvr-seed0" / "final")
    (copy / "runs" / "rlvr-seed0" / "final").mkdir()
    run_experiment(toy_config(copy), command="test")
    again = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    assert [i["id"] for i in again] == [i["id"] for i in items] and {i["grader"] for i in again} == {GRADER_VERSION}
    assert [i["response"] for i in again] == [i["response"] for i in items]  # the stored responses, regraded
    assert again[0]["wrong_facts"] != 99
    assert json.loads((folder / "summary.json").read_text())["grader"] == GRADER_VERSION
    # the report states how the test split was held out, with the twins counted on its splits
    report = json.loads((copy / "summary.json").read_text())
    assert report["split"]["split_by"] == "key" and report["split"]["test"]["twins"] == 0
    assert "0 of " in (copy / "report.md").read_text()


@pytest.mark.integration
def test_other_settings_on_the_same_folder_are_refused(finished: Path, tmp_path: Path) -> None:
    from perception_r1.experiment.runner import run_experiment

    copy = tmp_path / "toy"
    shutil.copytree(finished, copy)
    cfg = apply_overrides(toy_config(copy), {"grpo.learning_rate": 1.0})
    with pytest.raises(ConfigError, match="grpo.learning_rate"):
        run_experiment(cfg)


@pytest.mark.integration
@pytest.mark.parametrize(
    "workers",
    [
        1,  # the runs train one after another in this process
        2,  # each run trains in a worker process: its error comes back to the caller
    ],
)
def test_missing_warmup_checkpoint_is_a_clear_error(finished: Path, tmp_path: Path, workers: int) -> None:
    from perception_r1.experiment.runner import run_experiment

    copy = tmp_path / "toy"
    shutil.copytree(finished, copy)
    shutil.rmtree(copy / "warmup" / "final")
    shutil.rmtree(copy / "runs")
    with pytest.raises(FileNotFoundError, match="missing warm-up checkpoint"):
        run_experiment(apply_overrides(toy_config(copy), {"workers": workers}))


def test_unknown_family_fails_before_any_work(tmp_path: Path) -> None:
    from perception_r1.experiment.runner import run_experiment

    cfg = apply_overrides(toy_config(tmp_path / "x"), {"data.families": ["circle", "hexagon"]})
    with pytest.raises(ConfigError, match="unknown family 'hexagon'"):
        run_experiment(cfg)
    assert not (tmp_path / "x").exists()  # nothing was written


@pytest.mark.parametrize(
    ("overrides", "cached"),
    [
        ({}, True),  # the quick settings: train's default can start from this warm-up
        ({"warmup": {"epochs": 1.0}}, False),  # another warm-up: never mistaken for the default's
        ({"grpo": {"max_steps": 3}}, True),  # GRPO settings do not change the warm-up
    ],
)
def test_quick_warmup_is_shared_with_the_train_default(tmp_path: Path, monkeypatch, overrides: dict, cached: bool):
    from perception_r1.experiment.cache import ensure_warmup_policy
    from perception_r1.experiment.config import QUICK
    from perception_r1.experiment.warmup import share_with_train_default, warmup_cache_dir

    monkeypatch.setenv("PERCEPTION_R1_CACHE", str(tmp_path / "cache"))
    warm = tmp_path / "exp" / "warmup"
    write_fake_model(warm / "final")  # a complete-looking saved model (the cache checks its files)
    (warm / "summary.json").write_text("{}")
    merged = {**QUICK, "output_dir": str(tmp_path / "exp")}
    for section, values in overrides.items():
        merged[section] = {**merged.get(section, {}), **values}
    share_with_train_default(from_dict(ExperimentConfig, merged), warm)
    assert (warmup_cache_dir() / "warmup" / "final" / "config.json").is_file() == cached
    if cached:  # found without training anything
        assert ensure_warmup_policy() == warmup_cache_dir() / "warmup" / "final"


@pytest.mark.parametrize(
    ("drop", "override", "refused"),
    [
        # a folder made before the reading stage existed, continued with it off: the same settings
        ("reading", {}, None),
        # ... continued with it on: other settings, named
        ("reading", {"reading.steps": 5}, "reading.steps"),
        # ... continued with the full mode's default, which turned it on later: the folder warmed up without it
        ("reading", {"reading.steps": 2000}, "reading.steps: 0 -> 2000"),
        # a key the old recipe has, changed: refused as always
        (None, {"warmup.epochs": 3.0}, "warmup.epochs"),
        # the frozen control turned off (or on): it adds or leaves out runs, changes none of the others
        (None, {"grpo.frozen": False}, None),
        # nothing dropped, nothing changed
        (None, {}, None),
    ],
)
def test_check_recipe_reads_keys_added_later_as_the_folder_ran(tmp_path: Path, drop, override, refused) -> None:
    from perception_r1.config import to_dict
    from perception_r1.experiment.runner import check_recipe

    # the reading section as an older folder ran it: no stage, the other keys at their defaults
    base = apply_overrides(toy_config(tmp_path), {"reading.steps": 0, "reading.batch_size": 32})
    made = to_dict(base)
    made.pop(drop, None)
    (tmp_path / "recipe.json").write_text(json.dumps(made))
    cfg = apply_overrides(base, override)
    if refused is None:
        check_recipe(tmp_path, cfg)
    else:
        with pytest.raises(ConfigError, match=refused):
            check_recipe(tmp_path, cfg)


@pytest.mark.parametrize(
    ("recorded", "override", "refused"),
    [
        # a folder split by instance (the default until the split by values), continued with today's default
        ("instance", {}, "data.split_by: 'instance' -> 'key'"),
        # ... continued with its own split: the same settings
        ("instance", {"data.split_by": "instance"}, None),
        # a recipe.json without the key ran what every folder ran before: instance splits
        (None, {}, "data.split_by: 'instance' -> 'key'"),
        (None, {"data.split_by": "instance"}, None),
        # a folder made with today's default
        ("key", {}, None),
    ],
)
def test_an_instance_split_folder_is_recognised_as_such(tmp_path: Path, recorded, override, refused) -> None:
    from perception_r1.config import to_dict
    from perception_r1.experiment.runner import check_recipe

    made = to_dict(toy_config(tmp_path))
    if recorded is None:
        del made["data"]["split_by"]
    else:
        made["data"]["split_by"] = recorded
    (tmp_path / "recipe.json").write_text(json.dumps(made))
    cfg = apply_overrides(toy_config(tmp_path), override)
    if refused is None:
        check_recipe(tmp_path, cfg)
    else:
        with pytest.raises(ConfigError, match=refused):
            check_recipe(tmp_path, cfg)


@pytest.mark.integration
def test_grpo_run_over_two_processes_is_one_run(finished: Path, tmp_path: Path) -> None:
    from perception_r1.experiment.runner import Stages

    # the finished toy experiment's data and warm-up, one arm trained again as a 2-process data-parallel run
    root = tmp_path / "toy"
    shutil.copytree(finished, root, ignore=shutil.ignore_patterns("runs", "eval"))
    cfg = apply_overrides(toy_config(root), {"processes": 2, "workers": 1})
    stages = Stages(cfg)
    stages.data()
    final = stages.arm("perception_r1", 0, root / "warmup" / "final")
    run = root / "runs" / "perception_r1-seed0"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 2 and final == run / "final"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert steps == [1, 2]  # one row per step: the two processes are one run
    assert (run / "checkpoint-2" / "rng_state_1.pth").is_file()


@pytest.mark.parametrize(
    ("processes", "valid"),
    [
        # the toy's 2 prompts a step split over 2 processes
        (2, True),
        # 3 does not divide 2 prompts
        (3, False),
        # at least one process
        (0, False),
    ],
)
def test_processes_must_divide_the_prompts_per_step(tmp_path: Path, processes: int, valid: bool) -> None:
    from perception_r1.experiment.arms import arm_recipe
    from perception_r1.experiment.config import validate

    cfg = apply_overrides(toy_config(tmp_path), {"processes": processes})
    if not valid:
        with pytest.raises(ConfigError, match="processes"):
            validate(cfg)
        return
    validate(cfg)
    recipe = arm_recipe(cfg, "rlvr", 0, "w", "d", "o")
    # the global batch is unchanged: 2 prompts x 2 completions, 2 completions per process
    assert recipe.grpo["per_device_train_batch_size"] == 2 and recipe.launch.num_processes == 2


def test_a_second_experiment_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    from support.cli_runs import error_lines, holder_pid, run_cli, start_cli, wait_for

    out, release = tmp_path / "exp", tmp_path / "release"
    command = ["experiment", "--quick", "--output_dir", str(out)]
    first = start_cli("--pause-until", str(release), "--", *command, module="support.fault_run")
    try:
        wait_for(lambda: holder_pid(out) == first.pid, 300, "the first experiment to hold the folder", first)
        second = run_cli(*command)
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr[-3000:]
        (line,) = error_lines(second.stderr)
        assert f"{out} is in use by another run: experiment (pid {first.pid}" in line
    finally:
        first.proc.kill()  # the first would now run the whole quick experiment
        first.finish()
    assert not (out / "recipe.json").exists()  # the refused one wrote nothing
