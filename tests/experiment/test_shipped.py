"""The warm-up policy shipped with the package: written from a finished experiment, installed only into an
experiment with the same shaping settings, every file's digest checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception_r1.config import ConfigError, to_dict
from perception_r1.experiment import shipped
from support.fake_model import write_fake_model


def _experiment(root: Path, recipe: dict) -> Path:
    """A finished experiment folder as far as write_assets reads it."""
    write_fake_model(root / "warmup" / "final")
    (root / "warmup" / "summary.json").write_text(json.dumps({"steps": 5, "loss_curve": [2.0, 1.0]}))
    for policy, perception in (("blind", 0.02), ("warmup", 0.15)):
        (root / "eval-val" / policy).mkdir(parents=True)
        figures = {"n": 10, "answer_accuracy": 0.1, "perception_accuracy": perception}
        (root / "eval-val" / policy / "summary.json").write_text(json.dumps(figures))
    (root / "recipe.json").write_text(json.dumps(recipe))
    return root


def _recipe(**warmup) -> dict:
    from perception_r1.experiment.config import ExperimentConfig

    recipe = to_dict(ExperimentConfig())
    recipe["warmup"].update(warmup)
    return recipe


def test_written_assets_install_into_an_experiment_with_the_same_settings(tmp_path):
    assets = tmp_path / "assets"
    made = shipped.write_assets(_experiment(tmp_path / "exp", _recipe()), assets)
    assert made["validation"]["warmup"]["perception_accuracy"] == 0.15 and "model.safetensors" in made["sha256"]
    # the experiment that uses it says shipped: true; that flag alone does not make the settings differ
    final = tmp_path / "new" / "warmup" / "final"
    shipped.install(_recipe(shipped=True), final, assets)
    assert sorted(p.name for p in final.iterdir()) == sorted(made["sha256"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # other warm-up settings: the shipped policy is not the one this recipe would train
        (lambda r: r["warmup"].update(epochs=2.0), "warmup.epochs: 10.0 (shipped) vs 2.0"),
        # another data seed: other splits, so its training problems could be in this test split
        (lambda r: r["data"].update(seed=1), "data.seed: 0 (shipped) vs 1"),
    ],
)
def test_other_settings_are_refused(tmp_path, change, message):
    assets = tmp_path / "assets"
    shipped.write_assets(_experiment(tmp_path / "exp", _recipe()), assets)
    recipe = _recipe(shipped=True)
    change(recipe)
    with pytest.raises(ConfigError) as err:
        shipped.install(recipe, tmp_path / "final", assets)
    assert message in str(err.value)


def test_an_altered_file_is_refused_and_nothing_is_installed(tmp_path):
    assets = tmp_path / "assets"
    shipped.write_assets(_experiment(tmp_path / "exp", _recipe()), assets)
    (assets / "config.json").write_text('{"model_type": "other"}')
    with pytest.raises(ConfigError, match="config.json is missing or altered"):
        shipped.install(_recipe(shipped=True), tmp_path / "final", assets)
    assert not (tmp_path / "final").exists() and not (tmp_path / "final.installing").exists()


def test_no_shipped_policy_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no shipped warm-up policy"):
        shipped.install(_recipe(shipped=True), tmp_path / "final", tmp_path / "none")
