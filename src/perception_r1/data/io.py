"""Loading and writing datasets in the schema of :mod:`perception_r1.data.schema`.

Sources (the ``DATA_SOURCES`` registry; ``kind`` is detected from the path when not given):

* ``hf``: a Hugging Face dataset id (``kind="hf"`` or a ``hf:`` prefix, e.g. ``hf:hiyouga/geometry3k``), read
  with ``datasets.load_dataset(id, config, split=split)``. A local path is never sent to the hub.
* ``parquet`` (``.parquet``), ``jsonl`` (``.jsonl``), ``json`` (``.json``: a list of objects): image paths in
  these files are resolved relative to the file's folder.
* ``disk``: a folder written by ``datasets``' ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``; pick the
  split with ``split``).

Any source may hold the reference layout (``visual_key_info`` instead of ``visual_annotations``); it is
converted when ``layout="auto"`` (the default) finds that column, or always with ``layout="reference"``.

``columns`` maps schema columns to source columns, e.g. ``{"problem": "question", "images": "image"}``. A mapped
column that does not exist, or a required column that is missing, is a :class:`SchemaError` raised before any
row is read; a source without an ``id`` column gets ids ``<name>-<row>``.

Writers: :func:`write_parquet`, :func:`write_disk` and :func:`write_reference`, all atomic; images are stored
as encoded bytes so the output is self-contained.

Example:
    >>> import json, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = Path(tmp.name)
    >>> row = {"id": "p0", "problem": "Find x.", "answer": "3", "images": [], "visual_key_info": "<info1>AB=5</info1>"}
    >>> _ = (folder / "train.jsonl").write_text(json.dumps(row) + "\\n")
    >>> rows = load_examples(str(folder / "train.jsonl"))  # the reference layout, converted
    >>> rows[0]["visual_annotations"]
    ['AB=5']
    >>> write_parquet(rows, folder / "train.parquet")  # rows written
    1
    >>> tmp.cleanup()
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.data.schema import (
    REQUIRED_COLUMNS,
    SchemaError,
    from_reference_row,
    image_to_bytes,
    to_reference_row,
    validate_row,
)
from perception_r1.images import undecoded
from perception_r1.io_utils import atomic_folder, atomic_open, iter_jsonl
from perception_r1.registry import Registry


@dataclass
class RawTable:
    """Rows as read from a source, before column mapping and validation.

    Attributes:
        rows: One dict per row.
        columns: Column names of the source (also when it has no rows).
        where: Name used in error messages (file path or dataset id and split).
        base_dir: Folder for relative image paths, or ``None``.
    """

    rows: list[dict[str, Any]]
    columns: list[str]
    where: str
    base_dir: Path | None


DATA_SOURCES: Registry[Callable[..., RawTable]] = Registry("data source")
DATA_SOURCES.register("hf", "perception_r1.data.io:read_hf")
DATA_SOURCES.register("parquet", "perception_r1.data.io:read_parquet")
DATA_SOURCES.register("jsonl", "perception_r1.data.io:read_jsonl")
DATA_SOURCES.register("json", "perception_r1.data.io:read_json")
DATA_SOURCES.register("disk", "perception_r1.data.io:read_disk")


def _pick_split(obj: Any, split: str | None, where: str) -> Any:
    import datasets

    if not isinstance(obj, datasets.DatasetDict):
        return obj
    if split is None and len(obj) == 1:
        return next(iter(obj.values()))
    if split not in obj:
        raise SchemaError(f"split {split!r} not found; available splits: {', '.join(obj)}", where=where)
    return obj[split]


def _from_dataset(ds: Any, where: str) -> RawTable:
    ds = undecoded(ds)  # raw bytes/paths: a corrupt image fails its own row, not the whole read
    return RawTable(rows=ds.to_list(), columns=list(ds.column_names), where=where, base_dir=None)


def read_hf(source: str, *, split: str | None = "train", config: str | None = None) -> RawTable:
    """Read a Hugging Face hub dataset (network access; never used by tests with a hub id)."""
    import datasets

    name = source.removeprefix("hf:")
    ds = datasets.load_dataset(name, config, split=split or "train")
    return _from_dataset(_pick_split(ds, split, name), f"{name}[{split}]")


def read_disk(source: str, *, split: str | None = None, config: str | None = None) -> RawTable:
    """Read a ``save_to_disk`` folder (``Dataset`` or ``DatasetDict``), or a folder of ``<split>.parquet`` files
    (``data synth --format parquet``)."""
    import datasets

    folder = Path(source)
    parquet_splits = sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []
    if parquet_splits and not is_dataset_folder(folder):
        chosen = split or ("train" if "train" in parquet_splits else parquet_splits[0])
        if chosen not in parquet_splits:
            raise SchemaError(
                f"split {chosen!r} not found; available splits: {', '.join(parquet_splits)}", where=source
            )
        return read_parquet(str(folder / f"{chosen}.parquet"))

    try:
        obj = datasets.load_from_disk(source)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise SchemaError(f"not a readable datasets folder: {exc}", where=source) from None
    return _from_dataset(_pick_split(obj, split, source), source)


def read_parquet(source: str, *, split: str | None = None, config: str | None = None) -> RawTable:
    """Read a parquet file with pyarrow (image structs ``{bytes, path}`` stay undecoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(f"not a readable parquet file: {exc}", where=source) from None
    return RawTable(table.to_pylist(), list(table.column_names), source, Path(source).resolve().parent)


def read_jsonl(source: str, *, split: str | None = None, config: str | None = None) -> RawTable:
    """Read a JSON-lines file; a malformed line is an error naming the line."""
    rows: list[dict[str, Any]] = []
    for _, row in iter_jsonl(source):
        if isinstance(row, Exception):
            raise SchemaError(str(row)) from None
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return RawTable(rows, columns, source, Path(source).resolve().parent)


def read_json(source: str, *, split: str | None = None, config: str | None = None) -> RawTable:
    """Read a JSON file holding a list of objects."""
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(f"not valid JSON: {exc}", where=source) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SchemaError("expected a JSON list of objects", where=source)
    columns = list(dict.fromkeys(k for row in data for k in row))
    return RawTable(data, columns, source, Path(source).resolve().parent)


def detect_kind(source: str | Path) -> str:
    """Source kind from a path or ``hf:`` id.

    Raises:
        FileNotFoundError: for a local path that does not exist (hub ids need ``kind="hf"`` or ``hf:``).
        SchemaError: for a file type no reader handles.
    """
    text = str(source)
    if text.startswith("hf:"):
        return "hf"
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"{text}: no such file or folder (for a Hugging Face dataset use 'hf:{text}')")
    if path.is_dir():
        return "disk"
    suffix = path.suffix.lower()
    kinds = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "json"}
    if suffix not in kinds:
        raise SchemaError(f"unknown file type {suffix!r}; expected .parquet, .jsonl, .json or a folder", where=text)
    return kinds[suffix]


def _map_columns(table: RawTable, columns: Mapping[str, str], reference: bool) -> list[dict[str, Any]]:
    """Rename source columns to schema columns; check names before touching rows."""
    unknown = [f"{dst} <- {src!r}" for dst, src in columns.items() if src not in table.columns]
    if unknown:
        raise SchemaError(
            f"mapped column(s) not found: {', '.join(unknown)}; available: {', '.join(table.columns)}",
            where=table.where,
            column=next(src for src in columns.values() if src not in table.columns),
        )
    renamed = {src: dst for dst, src in columns.items()}
    present = {renamed.get(c, c) for c in table.columns}
    needed = [c for c in REQUIRED_COLUMNS if c != "id"] + (["visual_key_info"] if reference else [])
    missing = [c for c in needed if c not in present]
    if missing:
        raise SchemaError(
            f"required column(s) missing: {', '.join(missing)}; available: {', '.join(table.columns)} "
            "(map names with columns={'problem': 'question', ...})",
            where=table.where,
            column=missing[0],
        )
    prefix = Path(table.where).stem if table.base_dir else table.where.split("/")[-1]
    rows = []
    for index, raw in enumerate(table.rows):
        row = {renamed.get(k, k): v for k, v in raw.items()}
        if "id" not in present:
            row["id"] = f"{prefix}-{index}"
        rows.append(row)
    return rows


def load_examples(
    source: str | Path,
    *,
    kind: str | None = None,
    split: str | None = None,
    config: str | None = None,
    columns: Mapping[str, str] | None = None,
    layout: str = "auto",
    check_images: bool = False,
    rejects: list[dict[str, Any]] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Load a dataset as validated schema rows.

    Args:
        source: Path (file or ``datasets`` folder) or Hugging Face id (with ``kind="hf"`` or a ``hf:`` prefix).
        kind: A ``DATA_SOURCES`` name; detected from ``source`` when ``None``.
        split, config: Split and configuration (``hf`` and ``DatasetDict`` folders).
        columns: Schema column -> source column renames.
        layout: ``"auto"`` (reference layout when a ``visual_key_info`` column exists), ``"schema"`` or
            ``"reference"``.
        check_images: Decode every image during validation (catches corrupt and missing images).
        rejects: When a list is given, invalid rows are skipped and ``{"id", "row", "reason"}`` is appended to
            it; otherwise the first invalid row raises.
        limit: Keep only the first ``limit`` rows.

    Returns:
        Validated rows (see :func:`perception_r1.data.schema.validate_row`).

    Raises:
        FileNotFoundError, SchemaError: unreadable source, wrong column names (before any row is read), or -
        without ``rejects`` - an invalid row, naming the file, row and column.
    """
    if layout not in ("auto", "schema", "reference"):
        raise ValueError(f"layout must be 'auto', 'schema' or 'reference', got {layout!r}")
    kind = kind or detect_kind(source)
    table = DATA_SOURCES.get(kind)(str(source), split=split, config=config)
    if limit is not None:
        table.rows = table.rows[:limit]
    mapped = set(columns or {})
    reference = layout == "reference" or (
        layout == "auto" and "visual_key_info" in table.columns and "visual_annotations" not in mapped
    )
    rows = _map_columns(table, dict(columns or {}), reference)
    out = []
    for index, row in enumerate(rows):
        try:
            if reference:
                row = from_reference_row(row, index, where=table.where)
            out.append(
                validate_row(row, where=table.where, index=index, base_dir=table.base_dir, check_images=check_images)
            )
        except SchemaError as exc:
            if rejects is None:
                raise
            rejects.append({"id": row.get("id"), "row": index, "reason": str(exc)})
    return out


def _encoded(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "images": [image_to_bytes(im) for im in row.get("images") or []]} for row in rows]


def _features(rows: list[dict[str, Any]]) -> Any:
    """Explicit features for the schema columns (images as ``Image``) so empty lists and None infer correctly."""
    import datasets

    string_list = datasets.List(datasets.Value("string"))
    known = {
        "id": datasets.Value("string"),
        "images": datasets.List(datasets.Image()),
        "problem": datasets.Value("string"),
        "answer": datasets.Value("string"),
        "choices": string_list,
        "cot": datasets.Value("string"),
        "visual_annotations": string_list,
        "source": datasets.Value("string"),
        "visual_key_info": datasets.Value("string"),
    }
    names = list(dict.fromkeys(k for row in rows for k in row)) or ["id", "images", "problem", "answer"]
    extra = [{k: r.get(k) for k in names if k not in known} for r in rows]
    inferred = datasets.Dataset.from_list(extra).features if any(extra) else {}
    return datasets.Features({k: known[k] if k in known else inferred[k] for k in names})


def to_dataset(rows: Iterable[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of schema rows (images encoded as bytes, schema columns typed explicitly)."""
    import datasets

    encoded = _encoded(rows)
    features = _features(encoded)
    if not encoded:  # from_list cannot type an empty list; from_dict with empty columns can
        return datasets.Dataset.from_dict({k: [] for k in features}, features=features)
    return datasets.Dataset.from_list([{k: r.get(k) for k in features} for r in encoded], features=features)


def write_parquet(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Atomically write schema rows (extra columns kept) as one parquet file; returns the row count."""
    ds = to_dataset(rows)
    with atomic_open(path, "wb") as handle:
        ds.to_parquet(handle)
    return len(ds)


def is_dataset_folder(folder: Path) -> bool:
    """True for a ``datasets`` ``save_to_disk`` folder (a ``Dataset`` or a ``DatasetDict``)."""
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def write_disk(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Atomically write schema rows as a ``datasets`` ``save_to_disk`` folder, swapped in whole.

    Raises:
        FileExistsError: ``path`` is a file or a non-empty folder that is not a ``datasets`` folder (it is never
            deleted).
    """
    ds = to_dataset(rows)
    with atomic_folder(path, owned=is_dataset_folder) as stage:
        ds.save_to_disk(str(stage), num_shards=1)  # an empty dataset needs one shard to be loadable
    return len(ds)


def write_reference(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write the reference layout (``id``, ``problem``, ``answer``, ``images``, ``visual_key_info``).

    A ``.parquet`` path gives one parquet file; any other path a ``datasets`` folder.
    """
    converted = [to_reference_row(row) for row in rows]
    if str(path).endswith(".parquet"):
        return write_parquet(converted, path)
    return write_disk(converted, path)


def write_examples(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write schema rows: ``.parquet`` -> parquet file, anything else -> ``datasets`` folder."""
    if str(path).endswith(".parquet"):
        return write_parquet(rows, path)
    return write_disk(rows, path)
