"""An experiment's summary rebuilt from its raw records alone, and the check that a published one recomputes.

The raw records are what ``perception-r1 publish`` copies (:mod:`perception_r1.experiment.publish`): the recipe,
the split records (``data/splits.jsonl.gz``: which problems were train, validation and test), every policy's graded
test items (``eval/<policy>/items.jsonl[.gz]``), every GRPO run's per-step ``metrics.jsonl[.gz]``, the stage
summaries and ``timings.json``. :func:`rebuild_summary` computes ``summary.json`` from them with the report's own
code; :func:`check_folder` compares every figure of the folder's ``summary.json``, of each ``eval/<policy>/
summary.json`` and the text of ``report.md`` with what the records give, and checks the folder's manifest.

Example:
    >>> check_folder(Path("docs/results/synthetic-experiment/quick"))  # doctest: +SKIP
    []
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError, from_dict
from perception_r1.experiment.config import ARMS, ExperimentConfig
from perception_r1.io_utils import file_sha256, iter_jsonl, jsonl_file

SPLITS_FILE = "data/splits.jsonl.gz"
MANIFEST = "published.json"  # every file of a results folder with its size and SHA-256
NOTE = "NOTE.md"  # the curator's note: the one file a results folder may hold unlisted
# What a results folder never holds: model weights, optimizer states, checkpoints, images, the split's parquet.
FORBIDDEN_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".parquet", ".jpg", ".jpeg", ".gif", ".webp")
# Summary keys that record where and how the figures were made, not figures of the records: kept from the
# published summary when it is rebuilt.
PROVENANCE = ("command", "machine")
MAX_LISTED = 20  # differences listed by the check; the rest are counted


def read_json(path: Path) -> Any:
    """A JSON file's value; a missing or unreadable file is a ``ValueError`` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable ({exc})") from None


def split_records(folder: Path) -> list[dict[str, Any]]:
    """The rows of ``data/splits.jsonl.gz``: ``split``, ``id``, ``family``, ``key`` (and ``instance`` for val/test).

    Raises:
        ValueError: the file is missing or has a bad line (named with its line number).
    """
    path = folder / SPLITS_FILE
    if not path.is_file():
        raise ValueError(f"{path}: missing (a folder written by `perception-r1 publish` has it)")
    rows = []
    for _, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise ValueError(str(row))
        rows.append(row)
    return rows


def evaluated(records: Sequence[Mapping[str, Any]], split: str) -> list[Mapping[str, Any]]:
    """A split's records as evaluated: the first row of every distinct rendered problem, in order (as
    :func:`perception_r1.experiment.data.unique_instances`); train keeps every row."""
    rows = [r for r in records if r["split"] == split]
    if split == "train":
        return rows
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["instance"] not in seen:
            seen.add(r["instance"])
            out.append(r)
    return out


def recorded_items(folder: Path, name: str, test_ids: Sequence[str]) -> list[dict[str, Any]]:
    """A policy's graded test items in ``test_ids`` order; none when it has no ``items.jsonl[.gz]`` (not evaluated)."""
    from perception_r1.experiment.report import policy_items

    if not jsonl_file(folder / "eval" / name / "items.jsonl").is_file():
        return []
    return policy_items(folder, name, test_ids)


def complete_seeds(folder: Path, seeds: Sequence[int], test_ids: Sequence[str]) -> list[int]:
    """The seeds whose every arm has a graded test item for every test problem."""
    return [
        s for s in seeds if all(len(recorded_items(folder, f"{a}-seed{s}", test_ids)) == len(test_ids) for a in ARMS)
    ]


def rebuild_summary(folder: Path, provenance: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """``summary.json`` computed from the folder's raw records with the report's code (nothing written).

    The seeds reported are those whose arms were evaluated on the whole test split; ``command`` and ``machine``
    (where the figures were made) come from ``provenance``, else from the folder's ``summary.json``, else they are
    the default command and this machine.

    Returns:
        The summary, or None when nothing can be reported yet (the warm-up or every seed's arms not evaluated).

    Raises:
        ValueError: a missing or unreadable record file, named.
    """
    from perception_r1.experiment.data import key_figures
    from perception_r1.experiment.evaluate import summarize
    from perception_r1.experiment.report import build_summary

    cfg = recipe(folder)
    records = split_records(folder)
    test_ids = [r["id"] for r in evaluated(records, "test")]
    split = key_figures({s: [r["key"] for r in evaluated(records, s)] for s in ("train", "val", "test")},
                        cfg.data.split_by)  # fmt: skip
    seeds = complete_seeds(folder, cfg.seeds, test_ids)
    warmup = recorded_items(folder, "warmup", test_ids)
    if not seeds or len(warmup) != len(test_ids):
        return None
    evals = {"warmup": summarize(warmup)}
    blind = recorded_items(folder, "blind", test_ids)
    if len(blind) == len(test_ids):
        evals["blind"] = summarize(blind)
    for s in seeds:
        for arm in ARMS:
            evals[f"{arm}-seed{s}"] = summarize(recorded_items(folder, f"{arm}-seed{s}", test_ids))
    timings = read_json(folder / "timings.json")
    old = provenance or (read_json(folder / "summary.json") if (folder / "summary.json").is_file() else {})
    return build_summary(
        folder, cfg, evals, timings, sum(timings.values()), old.get("command", "perception-r1 experiment"),
        test_ids, split, machine_info=old.get("machine"), seeds=seeds,
    )  # fmt: skip


def recipe(folder: Path) -> ExperimentConfig:
    """The folder's ``recipe.json`` as a config: a key added since takes the value that reproduces what the folder
    ran (:data:`~perception_r1.experiment.config.BEFORE_THE_KEY`, e.g. an instance split), else its default."""
    from perception_r1.config import apply_overrides, flatten_keys
    from perception_r1.experiment.config import BEFORE_THE_KEY

    path = folder / "recipe.json"
    raw = read_json(path)
    try:
        cfg = from_dict(ExperimentConfig, raw, where=str(path))
        older = {k: v for k, v in BEFORE_THE_KEY.items() if k not in flatten_keys(raw)}
        return apply_overrides(cfg, older, where=str(path)) if older else cfg
    except (ConfigError, TypeError, AttributeError) as exc:  # also a recipe.json that is no mapping
        raise ValueError(f"{path}: {exc}") from None


def differences(published: Any, recomputed: Any, where: str = "") -> list[str]:
    """Every leaf where two JSON values differ (floats within a relative 1e-9), as ``key: published -> recomputed``.

    Example:
        >>> differences({"a": [1, 0.5], "b": 2}, {"a": [1, 0.25], "b": 2})
        ['a[1]: 0.5 -> 0.25']
    """
    if isinstance(published, dict) and isinstance(recomputed, dict):
        out = []
        for key in sorted(published.keys() | recomputed.keys(), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in recomputed:
                out.append(f"{path}: only in the published file")
            elif key not in published:
                out.append(f"{path}: missing from the published file")
            else:
                out += differences(published[key], recomputed[key], path)
        return out
    if isinstance(published, list) and isinstance(recomputed, list) and len(published) == len(recomputed):
        return [d for i, (a, b) in enumerate(zip(published, recomputed, strict=True))
                for d in differences(a, b, f"{where}[{i}]")]  # fmt: skip
    if _number(published) and _number(recomputed):
        if math.isclose(published, recomputed, rel_tol=1e-9, abs_tol=1e-12):
            return []
    elif type(published) is type(recomputed) and published == recomputed:  # True is no 1
        return []
    return [f"{where}: {_short(published)} -> {_short(recomputed)}"]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def check_folder(folder: Path) -> list[str]:
    """Every way ``folder`` fails to recompute from its raw records (empty: it does).

    Checked: the manifest (``published.json``: every file there with its size and digest, no weights,
    checkpoints or images), each ``eval/<policy>/summary.json`` against its items, ``summary.json`` against
    :func:`rebuild_summary` figure by figure (``command`` and ``machine`` excepted) and ``report.md`` against the
    text the report code writes from it.
    """
    from perception_r1.experiment.evaluate import summarize

    problems = manifest_problems(folder)
    try:
        summary = rebuild_summary(folder)
        test_ids = [r["id"] for r in evaluated(split_records(folder), "test")]
    except ValueError as exc:
        return [*problems, f"cannot recompute: {exc}"]
    for stage in sorted((folder / "eval").glob("*/summary.json")):  # each finished evaluation: its figures
        items = recorded_items(folder, stage.parent.name, test_ids)
        if len(items) != len(test_ids):
            problems.append(f"{stage.relative_to(folder)}: {len(items)} of {len(test_ids)} test items recorded")
            continue
        recomputed = {**summarize(items), "model": None, "grader": None}  # provenance, not figures
        published = {**read_json(stage), "model": None, "grader": None}
        problems += [f"{stage.relative_to(folder)}: {d}" for d in differences(published, recomputed)]
    published_summary = folder / "summary.json"
    if summary is None:
        if published_summary.is_file():
            problems.append("summary.json: the records hold no evaluated seed to recompute it from")
        return problems
    if not published_summary.is_file():
        return [*problems, "summary.json: missing, though the records hold evaluated seeds"]
    published = read_json(published_summary)
    found = differences({k: v for k, v in published.items() if k not in PROVENANCE},
                        {k: v for k, v in summary.items() if k not in PROVENANCE})  # fmt: skip
    problems += [f"summary.json: {d}" for d in found]
    problems += _report_problems(folder, published)
    if len(problems) > MAX_LISTED:
        problems = [*problems[:MAX_LISTED], f"... and {len(problems) - MAX_LISTED} more"]
    return problems


def _report_problems(folder: Path, summary: Mapping[str, Any]) -> list[str]:
    """``report.md`` as the report code writes it from ``summary`` and the items (empty when it matches)."""
    from perception_r1.experiment.report_md import render_markdown, sample_rollouts

    cfg = recipe(folder)
    plots = _plot_names({p.stem: p for p in (folder / "plots").glob("*.png")})
    samples = sample_rollouts(folder, summary["seeds"][0], cfg.eval.samples, summary["test_ids"])
    expected = render_markdown(cfg, summary, plots, samples)
    path = folder / "report.md"
    if not path.is_file():
        return ["report.md: missing"]
    if path.read_text(encoding="utf-8") != expected:
        return ["report.md: differs from the text the report code writes from summary.json and the items"]
    return []


def _plot_names(found: Mapping[str, Path]) -> dict[str, Path]:
    """The plots as :func:`perception_r1.experiment.plots.write_plots` names them, in its order."""
    from perception_r1.experiment.plots import PLOT_FILES

    return {name: found[file] for name, file in PLOT_FILES.items() if file in found}


def manifest_problems(folder: Path) -> list[str]:
    """What is wrong with ``folder``'s manifest: a listed file missing or changed, a file not listed (but
    ``NOTE.md``, the curator's), a weight, checkpoint or image file anywhere. Empty when all is well."""
    path = folder / MANIFEST
    if not path.is_file():
        return [f"{MANIFEST}: missing (not a folder written by `perception-r1 publish`)"]
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc})"]
    problems = []
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {MANIFEST, NOTE}
    for name, entry in files.items():
        file = folder / name
        if name not in present:
            problems.append(f"{name}: listed in {MANIFEST} but missing")
        elif file.stat().st_size != entry.get("bytes") or file_sha256(file) != entry.get("sha256"):
            problems.append(f"{name}: changed since it was published (size or sha256 differs)")
    problems += [f"{name}: not listed in {MANIFEST}" for name in sorted(present - files.keys())]
    for name in sorted(present):
        if name.endswith(FORBIDDEN_SUFFIXES) or "/checkpoint-" in f"/{name}" or "/final/" in f"/{name}":
            problems.append(f"{name}: a results folder holds no model weights, checkpoints or images")
    return problems
