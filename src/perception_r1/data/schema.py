"""The one dataset schema of perception-r1, its validation, and the reference (``visual_key_info``) layout.

Every loader returns, and every pipeline step consumes, rows (plain ``dict``) with these columns:

============================  =========  =========================================================================
column                        required   content
============================  =========  =========================================================================
``id``                        yes        unique string id (ints are converted)
``images``                    yes        list of images; each a ``PIL.Image.Image``, encoded ``bytes``, or a path
                                         (``str``/``Path``; relative paths resolve against the data file's folder)
``problem``                   yes        question text; each ``<image>`` placeholder stands for one image, in order
``answer``                    yes        ground-truth final answer as a string (numbers are converted)
``choices``                   no         list of option strings for multiple-choice problems
``cot``                       no         a chain-of-thought solution (``<think>…</think><answer>…</answer>``)
``visual_annotations``        no         list of short atomic statements of what the figure shows
``source``                    no         where the row comes from (dataset name, ``synth``, …)
============================  =========  =========================================================================

Other columns are kept unchanged (e.g. Geometry3K's ``ground_truth``, the testbed's ``meta``).

The *reference layout* of the paper's released data has ``problem``, ``answer``, ``images`` and
``visual_key_info``: all annotations in one string, ``<info1>first</info1>\\n<info2>second</info2>``.
:func:`to_reference_row` / :func:`from_reference_row` convert between the two (the ``<infoN>`` reader and writer
are in :mod:`perception_r1.key_info`).

Example:
    >>> parse_visual_key_info("<info1>AB = 5</info1>\\n<info2> AB ∥ CD </info2>")
    ['AB = 5', 'AB ∥ CD']
    >>> format_visual_key_info(["AB = 5", "AB ∥ CD"])
    '<info1>AB = 5</info1>\\n<info2>AB ∥ CD</info2>'
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perception_r1.images import open_image as _open_checked
from perception_r1.key_info import format_visual_key_info, parse_visual_key_info

REQUIRED_COLUMNS: tuple[str, ...] = ("id", "images", "problem", "answer")
OPTIONAL_COLUMNS: tuple[str, ...] = ("choices", "cot", "visual_annotations", "source")
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
REFERENCE_COLUMNS: tuple[str, ...] = ("problem", "answer", "images", "visual_key_info")
IMAGE_PLACEHOLDER = "<image>"


class SchemaError(ValueError):
    """A row or file does not fit the schema; the message names the file, the 0-based row and the column."""

    def __init__(self, message: str, *, where: str = "", row: int | None = None, column: str | None = None) -> None:
        parts = [p for p in (where, f"row {row}" if row is not None else "", f"column {column!r}" if column else "")]
        prefix = ": ".join(p for p in parts if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.where, self.row, self.column, self.reason = where, row, column, message


def _image_item(item: Any, base_dir: Path | None) -> Any:
    """Normalise one image to a PIL image, bytes or an absolute path string; raise TypeError otherwise."""
    from PIL import Image

    if isinstance(item, Image.Image) or isinstance(item, bytes):
        return item
    if isinstance(item, bytearray | memoryview):
        return bytes(item)
    if isinstance(item, Mapping) and ("bytes" in item or "path" in item):  # datasets' Image storage struct
        if item.get("bytes") is not None:
            return bytes(item["bytes"])
        item = item.get("path")
    if isinstance(item, str | Path) and str(item):
        path = Path(item)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return str(path)
    raise TypeError(f"an image must be a PIL image, bytes or a path, got {type(item).__name__}")


def open_image(item: Any, max_pixels: int | None = None) -> Any:
    """Open one schema image (PIL image, bytes or path) as a fully loaded ``PIL.Image.Image``.

    Args:
        item: The image.
        max_pixels: Pixel limit (None: :func:`perception_r1.images.max_pixels_limit`'s environment or default).

    Raises:
        perception_r1.images.ImageError: (an ``OSError``) a missing file, data PIL cannot decode, or an image over
            the pixel limit, decompression bombs included (the message says which).
    """
    return _open_checked(item, max_pixels=max_pixels)


def image_to_bytes(item: Any) -> bytes:
    """Encoded bytes of one schema image: bytes unchanged, files read as they are, PIL images as PNG."""
    from PIL import Image

    if isinstance(item, bytes):
        return item
    if isinstance(item, Image.Image):
        buffer = io.BytesIO()
        item.save(buffer, format="PNG")
        return buffer.getvalue()
    return Path(item).read_bytes()


def _check_str(value: Any, column: str, *, allow_empty: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SchemaError(f"expected a string, got {type(value).__name__}", column=column)
    text = str(value)
    if not allow_empty and not text.strip():
        raise SchemaError("must not be empty", column=column)
    return text


def _check_str_list(value: Any, column: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        hint = " (a '<info1>…</info1>' string belongs in 'visual_key_info'; see from_reference_row)" * (
            column == "visual_annotations" and isinstance(value, str)
        )
        raise SchemaError(f"expected a list of strings, got {type(value).__name__}{hint}", column=column)
    out = []
    for k, item in enumerate(value):
        if not isinstance(item, str):
            raise SchemaError(f"item {k} is {type(item).__name__}, expected a string", column=column)
        out.append(item)
    return out


def _validate_columns(row: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """Column checks without location (the caller adds file and row)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in row or row[c] is None]
    if missing:
        raise SchemaError(f"required column(s) missing: {', '.join(missing)}", column=missing[0])
    out = dict(row)
    out["id"] = _check_str(row["id"], "id")
    out["problem"] = _check_str(row["problem"], "problem")
    out["answer"] = _check_str(row["answer"], "answer")
    images = row["images"]
    if not isinstance(images, list | tuple):
        images = [images]  # a single image column (e.g. MathVista's ``image``) is a list of one
    try:
        out["images"] = [_image_item(item, base_dir) for item in images]
    except TypeError as exc:
        raise SchemaError(str(exc), column="images") from None
    n_placeholders = out["problem"].count(IMAGE_PLACEHOLDER)
    if n_placeholders and n_placeholders != len(out["images"]):
        raise SchemaError(
            f"problem has {n_placeholders} {IMAGE_PLACEHOLDER} placeholder(s) but {len(out['images'])} image(s)",
            column="images",
        )
    for column in ("choices", "visual_annotations"):
        if row.get(column) is not None:
            out[column] = _check_str_list(row[column], column)
    for column in ("cot", "source"):
        if row.get(column) is not None:
            out[column] = _check_str(row[column], column, allow_empty=True)
    return out


def validate_row(
    row: Mapping[str, Any],
    *,
    where: str = "",
    index: int | None = None,
    base_dir: str | Path | None = None,
    check_images: bool = False,
) -> dict[str, Any]:
    """Check one row against the schema and return a normalised copy.

    Args:
        row: Mapping with at least the required columns.
        where: File or dataset name, used in error messages.
        index: 0-based row number, used in error messages.
        base_dir: Folder against which relative image paths are resolved.
        check_images: Also decode every image (slower; catches corrupt or missing files).

    Returns:
        A new dict: ``id``/``problem``/``answer`` as strings, ``images`` a list of PIL images, bytes or absolute
        path strings, ``choices``/``visual_annotations`` lists of strings; other columns unchanged.

    Raises:
        SchemaError: naming ``where``, the row and the column.
    """
    try:
        out = _validate_columns(row, Path(base_dir) if base_dir is not None else None)
        if check_images:
            for k, item in enumerate(out["images"]):
                try:
                    open_image(item)
                except OSError as exc:
                    raise SchemaError(f"image {k}: {exc}", column="images") from None
    except SchemaError as exc:
        raise SchemaError(exc.reason, where=where, row=index, column=exc.column) from None
    return out


def to_reference_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Schema row -> reference layout (``id``, ``problem``, ``answer``, ``images``, ``visual_key_info``)."""
    return {
        "id": row["id"],
        "problem": row["problem"],
        "answer": row["answer"],
        "images": list(row["images"]),
        "visual_key_info": format_visual_key_info(list(row.get("visual_annotations") or [])),
    }


def from_reference_row(row: Mapping[str, Any], index: int, *, where: str = "") -> dict[str, Any]:
    """Reference-layout row -> schema row (not yet validated; ``id`` defaults to ``ref-<index>``).

    Raises:
        SchemaError: when ``visual_key_info`` is missing or cannot be parsed.
    """
    if "visual_key_info" not in row:
        raise SchemaError("missing (needed by the reference layout)", where=where, row=index, column="visual_key_info")
    try:
        annotations = parse_visual_key_info(row["visual_key_info"])
    except ValueError as exc:
        raise SchemaError(str(exc), where=where, row=index, column="visual_key_info") from None
    out = {k: v for k, v in row.items() if k != "visual_key_info"}
    out.setdefault("id", f"ref-{index}")
    if out["id"] is None:
        out["id"] = f"ref-{index}"
    out["visual_annotations"] = annotations
    return out
