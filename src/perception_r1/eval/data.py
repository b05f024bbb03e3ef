"""Loading benchmark items from the hub or a local copy with the same columns, and decoding their images.

Local copies live under ``--data-dir DIR``; for benchmark ``b`` with subsets ``s1, s2, ...`` the loader tries, in
order:

1. one combined file ``DIR/b.jsonl`` / ``DIR/b.parquet`` or a ``datasets`` folder ``DIR/b/`` (``save_to_disk``);
   with several subsets each row needs a ``subset`` column naming one of them;
2. one file or folder per subset: ``DIR/b/s1.jsonl`` (``.parquet``, or a ``datasets`` folder ``DIR/b/s1/``).
   Every subset must be present: a partial copy would make the score incomparable, so it is an error.

The layout with each benchmark's subsets and columns is documented in ``docs/evaluation.md``, and
``perception-r1 eval check-data --data-dir DIR`` (:mod:`perception_r1.eval.data_check`) checks a copy: items found
per benchmark against the benchmark's size, malformed rows and missing or unreadable images.

Images may be PIL images (``datasets`` Image columns), ``{"bytes": ..., "path": ...}`` dicts (Image columns read
from parquet), raw bytes, or paths relative to the data file. They are decoded only when the item is generated
for (:func:`load_images`), so a broken image becomes an error on that item instead of stopping the run.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.eval.benchmarks import Benchmark, Subset
from perception_r1.images import ImageError, open_image, undecoded
from perception_r1.io_utils import JsonlError, iter_jsonl
from perception_r1.rewards.answer import choice_map

_DATASET_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
_CHOICES_HEADER = re.compile(r"(?:choices|options)\s*:", re.IGNORECASE)
# An option marker: "A:", "(B)", "C." preceded by start/space/comma/semicolon.
_MARKER = re.compile(r"(?:(?<=^)|(?<=[\s,;]))\(?([A-J])(?:[.:]|\))")


@dataclass
class EvalItem:
    """One benchmark question.

    Attributes:
        id: Unique within the benchmark (prefixed with the subset when the benchmark has several).
        benchmark: Benchmark name.
        question: Question text (may be empty when the question is in the image).
        choices: ``{"A": text, ...}``; empty for free-form questions.
        gold: Gold answer as stored by the benchmark (choice text for MathVista, a letter elsewhere).
        metadata: Columns named by ``Benchmark.meta_columns`` plus ``subset``, ``question_column`` (the column the
            question text came from) and a subset group.
        image_sources: Undecoded image values, decoded by :func:`load_images`.
        base_dir: Folder that relative image paths are resolved against.
    """

    id: str
    benchmark: str
    question: str
    choices: dict[str, str]
    gold: str
    metadata: dict[str, Any] = field(default_factory=dict)
    image_sources: list[Any] = field(default_factory=list, repr=False)
    base_dir: Path | None = field(default=None, repr=False)


def parse_choices(value: Any, fmt: str, question: str = "") -> dict[str, str]:
    """Read options written in ``fmt`` (see :class:`~perception_r1.eval.benchmarks.Benchmark`).

    Returns:
        ``{"A": text, ...}``; ``{}`` when there are none.

    Raises:
        ValueError: when a ``python_list`` string is not a list literal.
    """
    if fmt == "embedded":
        return embedded_choices(question)
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if fmt == "python_list" and isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"options {value[:80]!r} are not a Python list literal") from None
    if fmt == "semicolon" and isinstance(value, str):
        # WeMath: "A. 2;B. 4" (also full-width "；", "．", "、"); a ";" inside an option text is kept.
        parts = re.split(r"[;；]\s*(?=\(?[A-J]\s*[.．、:)])", value.strip())
        value = "\n".join(re.sub(r"^(\(?[A-J])\s*[．、]", r"\1.", p.strip()) for p in parts)
    if not isinstance(value, (str, Mapping)):
        value = [str(v) for v in value]  # numpy arrays and tuples from parquet/datasets
    return choice_map(value)


def embedded_choices(question: str) -> dict[str, str]:
    """Options listed inside a question after ``Choices:``/``Options:`` (MMStar, MathVerse).

    Markers must appear in order (A, then B, ...), which keeps ratios like "x:3" in option texts from being read
    as markers. Returns ``{}`` when there is no such list.
    """
    headers = list(_CHOICES_HEADER.finditer(question))
    if not headers:
        return {}
    tail = question[headers[-1].end() :]
    spans: list[tuple[str, int, int]] = []
    for m in _MARKER.finditer(tail):
        expected = string.ascii_uppercase[len(spans)]
        if m.group(1) == expected:
            spans.append((expected, m.start(), m.end()))
    out = {}
    for i, (letter, _, end) in enumerate(spans):
        stop = spans[i + 1][1] if i + 1 < len(spans) else len(tail)
        out[letter] = tail[end:stop].strip().rstrip(",;").strip()
    return out


def _get(row: Mapping[str, Any], dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _non_empty(value: Any) -> bool:
    if isinstance(value, Mapping) and ("bytes" in value or "path" in value):  # an undecoded Image value
        return bool(value.get("bytes") or value.get("path"))
    return value is not None and not (isinstance(value, str) and not value.strip())


def row_to_item(
    bench: Benchmark, subset: Subset, row: Mapping[str, Any], where: str, base_dir: Path | None
) -> EvalItem:
    """Build an :class:`EvalItem` from one raw row.

    Args:
        where: ``file:line`` or ``hub id[index]`` for error messages.

    Raises:
        ValueError: naming ``where`` and the column when the id or the gold answer is missing or the options
            cannot be read.
    """
    for col in (*bench.id_columns, bench.answer_column):
        if not _non_empty(row.get(col)):
            raise ValueError(f"{where}: missing column {col!r} ({bench.name} rows need it)")
    item_id = "/".join(str(row[c]) for c in bench.id_columns)
    if len(bench.subsets) > 1:
        item_id = f"{subset.name}/{item_id}"
    question_column = next((c for c in bench.question_columns if _non_empty(row.get(c))), None)
    question = str(row[question_column]) if question_column else ""
    gold = str(row[bench.answer_column]).strip()
    try:
        choices = parse_choices(
            row.get(bench.choices_column) if bench.choices_column else None, bench.choices_format, question
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if not choices and bench.fallback_letters and re.fullmatch(r"[A-Z]", gold):
        n = max(bench.fallback_letters, string.ascii_uppercase.index(gold) + 1)
        choices = {letter: letter for letter in string.ascii_uppercase[:n]}
    metadata: dict[str, Any] = {"subset": subset.name, "question_column": question_column}
    for col in bench.meta_columns:
        metadata[col] = _get(row, col)
    if bench.subset_groups:
        group_field, groups = bench.subset_groups
        metadata[group_field] = groups.get(subset.name)
    sources = [row[c] for c in bench.image_columns if _non_empty(row.get(c))]
    if bench.image_mode == "first":
        sources = sources[:1]
    return EvalItem(item_id, bench.name, question, choices, gold, metadata, sources, base_dir)


def load_image(source: Any, base_dir: Path | None = None, max_pixels: int | None = None) -> Any:
    """Decode one image value to an RGB PIL image (:func:`perception_r1.images.open_image`).

    Args:
        max_pixels: Pixel limit (None: the ``PERCEPTION_R1_MAX_IMAGE_PIXELS`` environment value or the default).

    Raises:
        ValueError: (an :class:`perception_r1.images.ImageError`) a value that is not an image, a missing file,
            undecodable bytes, or an image over the pixel limit, decompression bombs included (message says which).
    """
    try:
        return open_image(source, base_dir, max_pixels).convert("RGB")
    except ImageError as exc:  # the evaluation's wording ("image: cannot load image ...") in records
        raise ImageError(f"cannot load image{' ' + exc.what if exc.what else ''}: {exc.reason}") from None


def load_images(item: EvalItem, max_pixels: int | None = None) -> list[Any]:
    """Decode all images of ``item`` (see :func:`load_image`); raises ``ValueError`` on the first failure."""
    return [load_image(src, item.base_dir, max_pixels) for src in item.image_sources]


def _local_source(path: Path) -> Path | None:
    for candidate in (path.with_name(path.name + ".jsonl"), path.with_name(path.name + ".parquet")):
        if candidate.is_file():
            return candidate
    if path.is_dir() and any((path / m).is_file() for m in _DATASET_MARKERS):
        return path
    return None


def _read_local(path: Path, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix == ".jsonl":
        for line_no, row in iter_jsonl(path):
            if isinstance(row, JsonlError):
                raise ValueError(str(row))
            yield f"{path}:{line_no}", row
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, row in enumerate(pq.read_table(path).to_pylist()):
            yield f"{path}[{i}]", row
    else:
        import datasets

        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ValueError(f"{path}: no split {split!r}; it has {', '.join(ds)}")
            ds = ds[split]
        for i, row in enumerate(undecoded(ds)):  # images are decoded per item, where one can fail alone
            yield f"{path}[{i}]", row


def iter_items(bench: Benchmark, data_dir: str | Path | None = None, limit: int | None = None) -> Iterator[EvalItem]:
    """Yield the benchmark's items, subset by subset; ``limit`` keeps the first ``limit`` items of each subset.

    Args:
        data_dir: Folder with local copies (layout in the module docstring); ``None`` loads from the hub.

    Raises:
        FileNotFoundError: when no local copy is found, naming the paths tried.
        ValueError: for malformed rows (see :func:`row_to_item`), an unknown ``subset`` value, or a hub dataset
            that cannot be loaded.
    """
    if data_dir is None:
        yield from _hub_items(bench, limit)
        return
    for subset, where, row, base_dir in local_rows(bench, data_dir, limit):
        yield row_to_item(bench, subset, row, where, base_dir)


def local_rows(
    bench: Benchmark, data_dir: str | Path, limit: int | None = None
) -> Iterator[tuple[Subset, str, dict[str, Any], Path]]:
    """The raw rows of a local copy: ``(subset, where, row, folder of the data file)``, subset by subset.

    Raises:
        FileNotFoundError: when no local copy is found (or a subset file is missing), naming the paths tried.
        ValueError: for a row of a combined file without a valid ``subset`` column, or an unreadable file.
    """
    root = Path(data_dir)
    combined, sources = _find_local(bench, root)
    if combined is not None:
        yield from _combined_rows(bench, combined, limit)
        return
    paths = {name: p for name, p in sources.items() if p is not None}
    missing = [name for name in sources if name not in paths]
    if missing:
        raise FileNotFoundError(
            f"no local copy of {bench.name} in {root}: tried {root / bench.name}.jsonl/.parquet/datasets folder and "
            f"{root / bench.name}/<subset>.jsonl; missing subsets: {', '.join(missing)}"
        )
    for subset in bench.subsets:
        path = paths[subset.name]
        for n, (where, row) in enumerate(_read_local(path, subset.split)):
            if limit is not None and n >= limit:
                break
            yield subset, where, row, path.parent


def local_source_paths(bench: Benchmark, data_dir: str | Path) -> list[Path]:
    """The files or folders a local copy of ``bench`` is read from (empty when there is none)."""
    combined, sources = _find_local(bench, Path(data_dir))
    return [combined] if combined is not None else [p for p in sources.values() if p is not None]


def _find_local(bench: Benchmark, root: Path) -> tuple[Path | None, dict[str, Path | None]]:
    """``(combined file or None, {subset: its file or None})``: one file of all subsets wins over per-subset ones."""
    combined = _local_source(root / bench.name)
    if combined is not None:
        return combined, {}
    return None, {s.name: _local_source(root / bench.name / s.name) for s in bench.subsets}


def _combined_rows(
    bench: Benchmark, path: Path, limit: int | None
) -> Iterator[tuple[Subset, str, dict[str, Any], Path]]:
    by_name = {s.name: s for s in bench.subsets}
    seen: dict[str, int] = {}
    for where, row in _read_local(path, bench.subsets[0].split):
        if len(bench.subsets) == 1:
            subset = bench.subsets[0]
        elif row.get("subset") in by_name:
            subset = by_name[row["subset"]]
        else:
            raise ValueError(
                f"{where}: {bench.name} has several subsets, so each row needs a 'subset' column with one of "
                f"{', '.join(by_name)}; got {row.get('subset')!r}"
            )
        seen[subset.name] = seen.get(subset.name, 0) + 1
        if limit is None or seen[subset.name] <= limit:
            yield subset, where, row, path.parent


def _hub_items(bench: Benchmark, limit: int | None) -> Iterator[EvalItem]:
    import datasets

    for subset in bench.subsets:
        split = subset.split if limit is None else f"{subset.split}[:{limit}]"
        try:
            ds = datasets.load_dataset(bench.hub_id, subset.hub_config, split=split)
        except Exception as exc:  # offline, gated, renamed: say what was asked and how to work around it
            raise ValueError(
                f"cannot load {bench.hub_id} (config {subset.hub_config!r}, split {split!r}) from the hub: "
                f"{type(exc).__name__}: {exc}; use --data-dir with a local copy in the same columns"
            ) from exc
        for i, row in enumerate(undecoded(ds)):  # images are decoded per item, where one can fail alone
            yield row_to_item(bench, subset, row, f"{bench.hub_id}/{subset.name}[{i}]", None)
