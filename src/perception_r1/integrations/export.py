"""Schema rows -> the training data layouts of verl and EasyR1 (``perception-r1 data export``).

Both frameworks take parquet files and pass no images to reward functions, so each row carries what the
rewards need in the column its framework hands over:

* ``verl``: ``data_source``, ``prompt`` (one user message: the problem with an ``<image>`` per image, then the
  format instruction), ``images`` (``{"bytes", "min_pixels", "max_pixels"}``, read by verl's
  ``qwen_vl_utils``), ``ability``, ``reward_model: {"style": "rule", "ground_truth": answer}`` and
  ``extra_info: {"index", "id", "split", "visual_annotations", "choices"}`` (what
  :mod:`perception_r1.integrations.verl` reads; ``index`` groups a prompt's responses).
* ``easyr1``: ``problem`` (the same prompt text), ``images`` and ``answer`` = the JSON ground truth of
  :func:`perception_r1.integrations.easyr1.encode_ground_truth` (EasyR1 hands its reward function only the
  ground truth, so the annotations travel inside it). Set ``data.format_prompt: null``: the instruction is in the
  problem already.

The prompt text is the one TRL training uses (:data:`perception_r1.templates.FORMAT_INSTRUCTION`), so the three
frameworks train on the same prompts.

Example:
    >>> row = {"id": "p1", "images": [b"PNG"], "problem": "Find x.", "answer": "3", "visual_annotations": ["AB = 5"]}
    >>> easyr1_row(row)["answer"]
    '{"perception_r1": 1, "answer": "3", "id": "p1", "visual_annotations": ["AB = 5"]}'
    >>> verl_row(row, 0)["extra_info"]["visual_annotations"], verl_row(row, 0)["prompt"][0]["content"][:15]
    (['AB = 5'], '<image>Find x.\\n')
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from perception_r1.data.schema import IMAGE_PLACEHOLDER, image_to_bytes
from perception_r1.integrations.easyr1 import encode_ground_truth
from perception_r1.io_utils import atomic_open
from perception_r1.templates import FORMAT_INSTRUCTION

TARGETS = ("verl", "easyr1")
#: The paper's image pixel bounds (docs/reference.md#training-recipe).
MIN_PIXELS, MAX_PIXELS = 3136, 1806336


def prompt_text(problem: str, n_images: int, instruction: str = FORMAT_INSTRUCTION) -> str:
    """The problem with one ``<image>`` per image (placed first when it has none), then the instruction.

    Raises:
        ValueError: a problem whose placeholders do not match its images.
    """
    placeholders = problem.count(IMAGE_PLACEHOLDER)
    if placeholders and placeholders != n_images:
        raise ValueError(f"problem has {placeholders} {IMAGE_PLACEHOLDER} placeholders for {n_images} images")
    text = problem if placeholders else IMAGE_PLACEHOLDER * n_images + problem.strip()
    return f"{text}\n{instruction}"


def _images(row: dict[str, Any], bounds: bool) -> list[dict[str, Any]]:
    out = []
    for image in row.get("images") or []:
        item: dict[str, Any] = {"bytes": image_to_bytes(image)}
        if bounds:
            item.update(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
        out.append(item)
    return out


def verl_row(row: dict[str, Any], index: int, data_source: str = "perception_r1", split: str = "train") -> dict:
    """One verl training row from a schema row (see the module docstring)."""
    images = _images(row, bounds=True)
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": prompt_text(row["problem"], len(images))}],
        "images": images,
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(row["answer"])},
        "extra_info": {
            "index": index,
            "id": str(row["id"]),
            "split": split,
            "visual_annotations": list(row.get("visual_annotations") or []),
            "choices": list(row["choices"]) if row.get("choices") else None,
        },
    }


def easyr1_row(row: dict[str, Any]) -> dict[str, Any]:
    """One EasyR1 training row from a schema row (see the module docstring)."""
    images = _images(row, bounds=False)
    return {
        "problem": prompt_text(row["problem"], len(images)),
        "images": images,
        "answer": encode_ground_truth(
            row["answer"], row.get("visual_annotations"), id=row["id"], choices=row.get("choices") or None
        ),
    }


def write_export(
    rows: Iterable[dict[str, Any]],
    path: str | Path,
    target: str,
    data_source: str = "perception_r1",
    split: str = "train",
) -> int:
    """Atomically write schema rows as one parquet file in ``target``'s layout; returns the row count.

    Raises:
        ValueError: an unknown target, or a row whose placeholders do not match its images (naming the row).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(verl_row(row, i, data_source, split) if target == "verl" else easyr1_row(row))
        except ValueError as exc:
            raise ValueError(f"row {i} (id {row.get('id')!r}): {exc}") from None
    table = pa.Table.from_pylist(out)
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)
    return len(out)


__all__ = ["MAX_PIXELS", "MIN_PIXELS", "TARGETS", "easyr1_row", "prompt_text", "verl_row", "write_export"]
