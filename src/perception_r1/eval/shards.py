"""Data-parallel evaluation: one process per GPU over shards of each benchmark, then one merged folder.

``perception-r1 eval --shard I/N -o OUT_I`` evaluates every N-th item of each benchmark starting at item I (round
robin, so every shard gets a share of every subset); ``perception-r1 eval merge OUT_0 ... OUT_{N-1} -o OUT``
combines the shard folders into one evaluation folder and scores it as a whole (:func:`merge_runs`), so that its
summary, tables and charts cover the whole benchmark. A shard folder alone is a partial run and is marked as such.

Example:
    >>> parse_shard("1/4"), shard_of(list("abcdefgh"), (1, 4))
    ((1, 4), ['b', 'f'])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from perception_r1.io_utils import JsonlError, atomic_write_json, atomic_write_jsonl, iter_jsonl

T = TypeVar("T")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``.

    Raises:
        ValueError: naming the expected form.
    """
    index, sep, count = spec.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"shard must be I/N with 0 <= I < N (e.g. 0/4 for the first of four), got {spec!r}")
    return i, n


# The settings that make generations comparable: one output folder (eval.runner, run.json) and the shards of one
# run (merge_runs) must agree on every one of them. Named like EvalConfig's fields.
GENERATION_KEYS = ("model", "backend", "max_new_tokens")


def shard_of(items: Sequence[T], shard: tuple[int, int] | None) -> list[T]:
    """The items of shard ``(I, N)``: every N-th item from item I (all items when ``shard`` is None)."""
    if shard is None:
        return list(items)
    index, count = shard
    return list(items[index::count])


def _read(path: Path) -> list[dict[str, Any]]:
    rows = []
    for _, row in iter_jsonl(path):
        if isinstance(row, JsonlError):
            raise ValueError(str(row))
        rows.append(row)
    return rows


def _run_settings(folder: Path) -> dict[str, Any]:
    path = folder / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no run.json (not an evaluation folder written by `perception-r1 eval`)")
    return json.loads(path.read_text(encoding="utf-8"))


def _summary_scoring(folder: Path) -> str | None:
    path = folder / "summary.json"
    if not path.is_file():
        return None
    mode = json.loads(path.read_text(encoding="utf-8")).get("scoring")
    return mode if isinstance(mode, str) else None


def merge_items(shard_dirs: Sequence[str | Path], out_dir: str | Path, scoring: str | None = None) -> str:
    """Combine shard folders into ``out_dir`` (the records; :func:`perception_r1.eval.runner.merge_runs` scores them).

    Every shard must come from the same model, backend and generation budget (``run.json``), and no item may
    appear in two shards. ``items/`` and ``generations/`` of each benchmark are concatenated and ``run.json`` is
    copied.

    Returns:
        The scoring mode to score the merged folder in: ``scoring``, else the shards' own mode (which must agree).

    Raises:
        ValueError: shards of different runs, an item in two shards, fewer than two shards, or ``out_dir`` being
            one of them.
        FileNotFoundError: a folder that is not an evaluation folder.
    """
    folders = [Path(d) for d in shard_dirs]
    out = Path(out_dir)
    if len(folders) < 2:
        raise ValueError(f"merge needs two or more shard folders, got {len(folders)}")
    if any(out.resolve() == f.resolve() for f in folders):
        raise ValueError(f"{out}: the merged folder must not be one of the shard folders")
    first, *others = [_run_settings(f) for f in folders]
    for folder, s in zip(folders[1:], others, strict=True):
        diff = [f"{k}: {first.get(k)!r} vs {s.get(k)!r}" for k in GENERATION_KEYS if s.get(k) != first.get(k)]
        if diff:
            raise ValueError(f"{folders[0]} and {folder} are shards of different runs ({', '.join(diff)})")
    modes = {m for m in (_summary_scoring(f) for f in folders) if m is not None}
    if scoring is None and len(modes) > 1:
        raise ValueError(f"the shards were scored in different modes ({', '.join(sorted(modes))}); pass one")
    mode = scoring or (modes.pop() if modes else "official")
    benches = sorted({p.name for f in folders for p in (f / "items").glob("*.jsonl")})
    if not benches:
        raise FileNotFoundError(f"no items/*.jsonl in {', '.join(map(str, folders))} (run the shards first)")
    for name in benches:
        for kind in ("items", "generations"):
            rows: list[dict[str, Any]] = []
            owner: dict[str, Path] = {}
            for folder in folders:
                path = folder / kind / name
                for row in _read(path) if path.is_file() else []:
                    key = str(row.get("id"))
                    if key in owner:
                        raise ValueError(
                            f"{name.removesuffix('.jsonl')}: item {key!r} is in {owner[key]} and {folder}"
                        )
                    owner[key] = folder
                    rows.append(row)
            atomic_write_jsonl(out / kind / name, rows)
    atomic_write_json(out / "run.json", first)
    return mode
