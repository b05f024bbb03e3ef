"""The warm-up policy shipped with the package: the full recipe's reading and warm-up stages, trained once.

A policy that reads the figure takes the full recipe's label-reading stage and long warm-up (about 40 minutes on 2
CPU cores), more than the quick mode's 15 minutes allow. So the full recipe's warm-up is built once, checked on the
validation split, and shipped in ``perception_r1/assets/warmup/`` with a manifest: the settings that shaped it
(the experiment's ``data``, ``policy``, ``reading`` and ``warmup`` sections), the SHA-256 of every file, and its
validation figures. ``warmup.shipped: true`` uses it instead of training one, but only when the experiment's
shaping settings equal the manifest's: the same data seed and sizes give the same splits, so its training problems
are never in the test split.

``python -m perception_r1.experiment.shipped EXPERIMENT_DIR`` writes the assets from a finished experiment folder
(its ``warmup/final`` and validation evaluations).

Example:
    >>> sorted(shaping({"data": {"seed": 0}, "policy": {}, "reading": {}, "warmup": {"shipped": True}, "seeds": [0]}))
    ['data', 'policy', 'reading', 'warmup']
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError
from perception_r1.io_utils import atomic_write_json, file_sha256

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "warmup"
MANIFEST = "manifest.json"


def shaping(recipe: dict[str, Any]) -> dict[str, Any]:
    """The settings that shape a warm-up policy (``warmup.shipped`` itself excluded)."""
    out = {section: dict(recipe.get(section) or {}) for section in ("data", "policy", "reading", "warmup")}
    out["warmup"].pop("shipped", None)
    return out


def manifest(assets: Path = ASSETS) -> dict[str, Any]:
    """The shipped policy's manifest.

    Raises:
        ConfigError: no shipped policy in this installation.
    """
    try:
        return json.loads((assets / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"warmup.shipped: no shipped warm-up policy in {assets}") from None


def check_matches(recipe: dict[str, Any], assets: Path = ASSETS) -> dict[str, Any]:
    """Refuse a recipe whose shaping settings differ from those the shipped policy was built with.

    Returns:
        The manifest.

    Raises:
        ConfigError: naming the first settings that differ (its training problems might reach the test split).
    """
    made = manifest(assets)
    want, have = shaping(made["recipe"]), shaping(recipe)
    diff = [
        f"{section}.{key}: {want[section].get(key)!r} (shipped) vs {have[section].get(key)!r}"
        for section in want
        for key in sorted(set(want[section]) | set(have[section]))
        if want[section].get(key) != have[section].get(key)
    ]
    if diff:
        raise ConfigError(
            "warmup.shipped: the shipped warm-up policy was built with other data, policy, reading or warm-up "
            f"settings ({'; '.join(diff[:4])}); use them, or train a warm-up (warmup.shipped false)"
        )
    return made


def install(recipe: dict[str, Any], final: Path, assets: Path = ASSETS) -> dict[str, Any]:
    """Copy the shipped policy into ``final`` after checking the recipe and every file's digest.

    Returns:
        The manifest.

    Raises:
        ConfigError: other settings, or a shipped file that is missing or altered (digest named).
    """
    made = check_matches(recipe, assets)
    tmp = final.with_name(final.name + ".installing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, digest in made["sha256"].items():
        source = assets / name
        if not source.is_file() or file_sha256(source) != digest:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ConfigError(f"warmup.shipped: {source} is missing or altered (expected sha256 {digest[:12]}...)")
        shutil.copy2(source, tmp / name)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return made


def write_assets(experiment_dir: Path, assets: Path = ASSETS) -> dict[str, Any]:
    """Write the shipped policy from a finished experiment folder: its warm-up and its validation figures."""
    from perception_r1.config import to_dict
    from perception_r1.experiment.recompute import recipe as folder_recipe

    root = Path(experiment_dir)
    # As a rerun reads it: a key added after the folder was made takes the value that reproduces what it ran.
    recipe = to_dict(folder_recipe(root))
    final = root / "warmup" / "final"
    if assets.exists():
        shutil.rmtree(assets)
    assets.mkdir(parents=True)
    # The weights, config, tokenizer and processor; not the trainer's pickled arguments (not needed to load).
    files = sorted(p.name for p in final.iterdir() if p.is_file() and p.suffix != ".bin")
    for name in files:
        shutil.copy2(final / name, assets / name)
    validation = {}
    for policy in ("blind", "warmup"):
        summary = root / "eval-val" / policy / "summary.json"
        if summary.is_file():
            figures = json.loads(summary.read_text(encoding="utf-8"))
            validation[policy] = {k: figures.get(k) for k in ("n", "answer_accuracy", "perception_accuracy")}
    made = {
        "recipe": shaping(recipe),
        "sha256": {name: file_sha256(assets / name) for name in files},
        "warmup_summary": json.loads((root / "warmup" / "summary.json").read_text(encoding="utf-8")),
        "validation": validation,
    }
    atomic_write_json(assets / MANIFEST, made)
    return made


if __name__ == "__main__":
    print(json.dumps(write_assets(Path(sys.argv[1])), indent=2))
