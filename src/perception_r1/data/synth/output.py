"""Streaming writer of the testbed's splits: rows go to disk in chunks, never all in memory.

Rows are written in chunks of :data:`CHUNK_ROWS` as small ``datasets`` folders inside the staging folder's work
area; only each problem's key, family and annotation count stay in memory (for the split and the summary). The
chunks are then concatenated (memory-mapped, no copy) and each split written once, as a ``DatasetDict`` folder
or as parquet files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_ROWS = 1000
SPLITS = ("train", "test")
_OWN_NAMES = {"train", "test", "train.parquet", "test.parquet", "README.md", "summary.json", "dataset_dict.json"}
_SHARD_BYTES = 500_000_000  # datasets' own default shard size
_BYTES_PER_ITEM_IN_MEMORY = 600  # key, family and count of one problem, plus the split's index lists
_SAMPLE = 8  # rows measured before the size check


@dataclass(frozen=True)
class _Info:
    key: tuple[Any, ...]
    family: str
    annotations: int


def is_testbed_folder(folder: Path) -> bool:
    """True when ``folder`` holds only what ``write_testbed`` writes, with its ``summary.json``."""
    names = {p.name for p in folder.iterdir()}
    if not names <= _OWN_NAMES or "summary.json" not in names:
        return False
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and "splits" in summary and "seed" in summary


def _human(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} PB"  # unreachable


def check_fits(n: int, sample_rows: Sequence[dict[str, Any]], folder: Path) -> None:
    """Refuse an ``n`` whose output cannot fit on the disk of ``folder`` or whose bookkeeping cannot fit in memory.

    Raises:
        ValueError: naming the size needed and the space available.
    """
    per_row = sum(len(b) for r in sample_rows for b in r["images"]) / len(sample_rows)
    per_row += sum(len(r["problem"]) + len(r["cot"]) + len(r["meta"]) + 200 for r in sample_rows) / len(sample_rows)
    disk_needed = n * per_row * 2.2  # chunks, then the splits, plus a margin
    free = shutil.disk_usage(folder).free
    if disk_needed > free:
        raise ValueError(
            f"n={n}: the testbed needs about {_human(disk_needed)} of disk in {folder} while writing "
            f"({_human(per_row)} per problem), but {_human(free)} is free; use a smaller n"
        )
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not available on this platform: skip the memory check
        return
    memory_needed = n * _BYTES_PER_ITEM_IN_MEMORY
    if memory_needed > available:
        raise ValueError(
            f"n={n}: splitting needs about {_human(memory_needed)} of memory, but {_human(available)} is "
            "available; use a smaller n"
        )


def _write_chunks(work: Path, pairs: Iterable[tuple[Any, dict[str, Any]]], n: int, folder: Path) -> tuple[Any, list]:
    """Write the rows as chunk datasets under ``work``; return them concatenated and each problem's info."""
    import datasets

    infos: list[_Info] = []
    chunk: list[dict[str, Any]] = []
    paths: list[str] = []
    for problem, row in pairs:
        infos.append(_Info(problem.key, problem.family, len(problem.annotations)))
        chunk.append(row)
        if len(infos) == min(n, _SAMPLE):
            check_fits(n, chunk, folder)
        if len(chunk) >= CHUNK_ROWS:
            paths.append(_flush(work, chunk, len(paths)))
            chunk = []
    if chunk:
        paths.append(_flush(work, chunk, len(paths)))
    parts = [datasets.load_from_disk(p) for p in paths]
    return (parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)), infos


def _flush(work: Path, chunk: list[dict[str, Any]], index: int) -> str:
    from perception_r1.data.io import to_dataset

    path = str(work / f"chunk-{index:06d}")
    to_dataset(chunk).save_to_disk(path, num_shards=1)
    return path


def write_splits(
    stage: Path,
    final: Path,
    pairs: Iterable[tuple[Any, dict[str, Any]]],
    n: int,
    fmt: str,
    split: Callable[[Sequence[Any]], tuple[list[int], list[int]]],
) -> dict[str, dict[str, Any]]:
    """Stream ``(problem, row)`` pairs to disk, split them with ``split`` and write the splits into ``stage``.

    Returns:
        Per split: final ``path``, ``rows``, ``distinct_problems``, ``families``, ``annotations_per_item``.
    """
    import datasets

    work = stage.parent / "chunks"
    work.mkdir()
    ds, infos = _write_chunks(work, pairs, n, final.parent)  # the same disk as the staging folder
    indices = dict(zip(SPLITS, split(infos), strict=True))
    per_row = max(1.0, ds.data.nbytes / max(1, len(ds)))
    parts = {name: ds.select(idx) for name, idx in indices.items()}
    if fmt == "parquet":
        for name, part in parts.items():
            part.to_parquet(str(stage / f"{name}.parquet"))
    else:
        # one shard at least (an empty split needs one to load), about 500 MB each
        shards = {k: max(1, min(len(v), math.ceil(len(v) * per_row / _SHARD_BYTES))) for k, v in parts.items()}
        datasets.DatasetDict(parts).save_to_disk(str(stage), num_shards=shards)
    del ds, parts
    shutil.rmtree(work, ignore_errors=True)
    out: dict[str, dict[str, Any]] = {}
    for name, idx in indices.items():
        chosen = [infos[i] for i in idx]
        out[name] = {
            "path": str(final / (f"{name}.parquet" if fmt == "parquet" else name)),
            "rows": len(idx),
            "distinct_problems": len({i.key for i in chosen}),
            "families": dict(sorted(Counter(i.family for i in chosen).items())),
            "annotations_per_item": dict(sorted(Counter(i.annotations for i in chosen).items())),
        }
    return out
