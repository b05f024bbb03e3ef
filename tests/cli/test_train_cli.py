"""``perception-r1 train``: argument handling, validation errors, --dry-run launch plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app
from perception_r1.cli.train import split_recipe_and_overrides

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
runner = CliRunner()


@pytest.mark.parametrize(
    ("recipe", "extra", "expected"),
    [
        # nothing: embedded default
        (None, [], (None, [])),
        # click hands the first override option to `recipe`; it is given back to the overrides
        (Path("--grpo.max_steps"), ["2"], (None, ["--grpo.max_steps", "2"])),
        # key=value overrides are not recipes either
        (Path("grpo.max_steps=2"), [], (None, ["grpo.max_steps=2"])),
        # a recipe followed by overrides
        (Path("r.yaml"), ["--a", "1"], ("r.yaml", ["--a", "1"])),
    ],
)
def test_split_recipe_and_overrides(recipe, extra, expected):
    assert split_recipe_and_overrides(recipe, extra) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # a misspelled override key
        (["--grpo.max_stpes", "3"], "did you mean 'max_steps'"),
        # a value of the wrong type
        (["--grpo.num_generations", "many"], "grpo.num_generations"),
        # a misspelled trl.GRPOConfig field: the suggestion comes from GRPOConfig's fields
        (["--dry-run", "--grpo.num_generation", "4"], "did you mean 'num_generations'"),
        # a GRPOConfig field the project never declared, with a value of the wrong type
        (["--dry-run", "--grpo.top_k", "several"], "grpo.top_k: expected int"),
        # a key of older recipes names its new place
        (["--dry-run", "--grpo.warmup_ratio", "0.1"], "use grpo.warmup_steps"),
        # TRL's own validation, surfaced before anything is loaded
        (
            ["--dry-run", "--grpo.generation_batch_size", "16", "--grpo.steps_per_generation", "1"],
            "grpo.generation_batch_size, grpo.steps_per_generation: trl.GRPOConfig rejected the settings",
        ),
        # a batch that cannot hold whole groups
        (["--dry-run", "--grpo.per_device_train_batch_size", "6"], "multiple of grpo.num_generations (8)"),
        # an unknown reward
        (["--dry-run", "rewards=[{name: percepton}]"], "did you mean 'perception'"),
        # a missing recipe file
        (["nope.yaml", "--dry-run"], "nope.yaml: no such recipe file"),
    ],
)
def test_bad_recipes_exit_2_with_the_reason(args, message):
    result = runner.invoke(build_app(), ["train", *args])
    assert result.exit_code == 2
    assert message in result.output


GPU_STACK = {"vllm": "0.31.0", "deepspeed": "0.19.8", "tensorboard": "2.21.0"}


def _installed(monkeypatch, versions):
    """Make the preflight see ``versions`` (name -> version, None: not installed) on top of what is installed."""
    import importlib.metadata

    real = importlib.metadata.version

    def version(name):
        if name in versions:
            if versions[name] is None:
                raise importlib.metadata.PackageNotFoundError(name)
            return versions[name]
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_dry_run_of_the_paper_recipe_prints_the_launch_sequence(monkeypatch):
    _installed(monkeypatch, GPU_STACK)  # what `scripts/setup.sh --gpu` installs
    result = runner.invoke(build_app(), ["train", str(RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml"), "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "0.7 x perception" in out
    assert "trl.GRPOConfig accepts the settings" in out  # TRL's checks ran, bf16 recipe on a machine without GPU
    assert "[ok]   vllm: vllm 0.31.0" in out and "[skip] GPU count" in out  # no GPU on this machine
    judge, train = out.index("judge server"), out.index("accelerate launch --config_file recipes/accelerate/zero3")
    assert judge < train  # the judge is served before training starts


@pytest.mark.parametrize(
    ("versions", "args", "message"),
    [
        # the GPU stack missing (a plain CPU install): named, with the command that installs it
        ({"vllm": None}, [], "vllm: vllm is not installed"),
        # a vLLM outside the range TRL 1.16 supports
        ({"vllm": "0.10.2"}, [], "vllm 0.10.2 is outside"),
        # flash-attn asked for but not built
        ({"flash-attn": None}, ["--model.attn_implementation", "flash_attention_2"], "flash-attn is not installed"),
        # an accelerate config that is not there
        ({}, ["--launch.accelerate_config", "recipes/accelerate/nope.yaml"], "nope.yaml: no such file"),
        # a judge URL moved on the command line is followed by the server command; a hard-coded port is refused
        (
            {},
            [
                "--rewards.perception.params.judge.base_url",
                "http://judge-host:9000/v1",
                "--launch.judge_serve",
                "vllm serve M --port 8001",
            ],
            "listens on port 8001 but the judge URL is http://judge-host:9000/v1",
        ),  # fmt: skip
    ],
)
def test_dry_run_preflight_failures_exit_2(monkeypatch, versions, args, message):
    _installed(monkeypatch, {**GPU_STACK, **versions})
    recipe = str(RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    result = runner.invoke(build_app(), ["train", recipe, "--dry-run", *args])
    assert result.exit_code == 2, result.output
    assert "error: preflight failed" in result.output and message in result.output
    assert "launch sequence" in result.output  # the plan is still printed


def test_judge_url_override_moves_the_printed_judge_server(monkeypatch):
    _installed(monkeypatch, GPU_STACK)
    recipe = str(RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    url = "http://judge-b:9100/v1"
    result = runner.invoke(
        build_app(), ["train", recipe, "--dry-run", "--rewards.perception.params.judge.base_url", url]
    )
    assert result.exit_code == 0, result.output
    assert "--port 9100" in result.output and f"curl -sf {url}/models" in result.output
    # the override is repeated in the training command, so the launched ranks use the same judge
    assert f"--rewards.perception.params.judge.base_url {url}" in result.output


def test_multi_process_recipe_refuses_a_single_process_start(monkeypatch):
    import perception_r1.cli.train as train_cli

    def no_training(cfg):
        raise AssertionError("a multi-process recipe started training in one process")

    monkeypatch.setattr(train_cli, "_run", no_training)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    recipe = str(RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    result = runner.invoke(build_app(), ["train", recipe])
    assert result.exit_code == 2
    assert "launch.num_processes is 8" in result.output
    assert "accelerate launch --config_file recipes/accelerate/zero3_1x8.yaml --num_processes 8" in result.output


def test_dry_run_fails_before_training_when_columns_are_missing(tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"id": "1", "images": ["a.png"], "problem": "<image>x?", "answer": "2"}) + "\n")
    result = runner.invoke(build_app(), ["train", "--dry-run", "--data.source", str(data)])
    assert result.exit_code == 2
    assert "reward 'perception' needs column 'visual_annotations' or 'visual_key_info'" in result.output
    # without the perception reward the same data is fine
    ok = runner.invoke(
        build_app(),
        [
            "train",
            "--dry-run",
            "--data.source",
            str(data),
            "rewards=[{name: accuracy, weight: 0.9}, {name: format, weight: 0.1}]",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "data: 1 examples" in ok.output


def test_help_config_lists_every_section():
    result = runner.invoke(build_app(), ["train", "--help-config"])
    assert result.exit_code == 0
    for key in ("model.lora.r", "grpo.num_generations", "rollout.mode", "output.resume", "launch.num_machines"):
        assert key in result.output
    # GRPOConfig fields the project never declared are listed from TRL's own metadata; owned ones are not
    assert "grpo.vllm_importance_sampling_correction" in result.output and "grpo.top_k" in result.output
    assert "grpo.output_dir" not in result.output


@pytest.mark.parametrize(
    ("args", "key", "expected"),
    [
        # a GRPOConfig field no project code names, converted with its field type
        (["--grpo.top_k", "20"], "top_k", 20),
        # a float PyYAML would read as text
        (["--grpo.learning_rate", "2e-6"], "learning_rate", 2e-6),
        # a mapping-valued field
        (["--grpo.generation_kwargs", "{min_tokens: 4}"], "generation_kwargs", {"min_tokens": 4}),
    ],
)
def test_any_grpo_field_can_be_set_from_the_command_line(args, key, expected):
    result = runner.invoke(build_app(), ["train", "--print-config", *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["grpo"][key] == expected


def test_print_config_prints_and_exits_without_training(monkeypatch):
    import perception_r1.cli.train as train_cli

    def no_training(cfg):  # would launch the real job with the paper recipe
        raise AssertionError("--print-config started training")

    monkeypatch.setattr(train_cli, "_run", no_training)
    recipe = str(RECIPES / "qwen2_5_vl_7b" / "perception_r1.yaml")
    result = runner.invoke(build_app(), ["train", recipe, "--print-config"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["grpo"]["learning_rate"] == 1e-6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grpo.learning_rate", "-1"], "grpo.learning_rate"),  # negative learning rate
        (["--grpo.learning_rate", "nan"], "grpo.learning_rate"),  # nan learning rate
        (["--grpo.temperature", "-1"], "grpo.temperature"),  # negative temperature
        (["--grpo.top_p", "7"], "grpo.top_p"),  # top_p above 1
        (["--grpo.loss_type", "nonsense"], "grpo.loss_type"),  # unknown loss type
        (["--output.resume", "maybe"], "output.resume"),  # not auto/never/a folder
    ],
)
def test_dry_run_rejects_invalid_values_before_loading_anything(args, message):
    result = runner.invoke(build_app(), ["train", "--dry-run", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "launch sequence" not in result.output


def test_help_config_shows_sections_as_recipe_yaml():
    result = runner.invoke(build_app(), ["train", "--help-config"], env={"COLUMNS": "400"})
    (rewards,) = [line for line in result.output.splitlines() if line.startswith("rewards ")]
    # the rewards as one writes them in a recipe, not a Python repr of dataclasses
    assert "{name: perception, weight: 0.7, params: {judge: {backend: rule}}}" in rewards
    assert "RewardSpec(" not in result.output


def test_version():
    from importlib.metadata import version

    result = runner.invoke(build_app(), ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"perception-r1 {version('perception-r1')}"


def test_train_resolves_the_warmup_policy_before_training(monkeypatch, tmp_path):
    import perception_r1.experiment.cache as cache
    import perception_r1.train.trainer as trainer

    seen = {}

    def fake_run_training(cfg):  # stands in for training: only the policy it would load matters here
        seen["path"] = cfg.model.path
        return {"output_dir": str(tmp_path), "judge_alarms": []}

    monkeypatch.setattr(cache, "warmup_policy", lambda: tmp_path / "warmup" / "final")
    monkeypatch.setattr(trainer, "run_training", fake_run_training)
    result = runner.invoke(build_app(), ["train"])  # the embedded default: model.path warmup
    assert result.exit_code == 0, result.output
    assert seen["path"] == str(tmp_path / "warmup" / "final")
