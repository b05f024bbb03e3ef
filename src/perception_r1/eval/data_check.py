"""``perception-r1 eval check-data``: check local copies of the benchmarks before an evaluation reads them.

For each benchmark it finds the copy under ``--data-dir`` (layout: :mod:`perception_r1.eval.data` and
``docs/evaluation.md``), reads every row as the evaluation would (:func:`perception_r1.eval.data.row_to_item`) and
reports the items found per subset against the benchmark's size (a copy with fewer items gives a partial run),
malformed rows, duplicate ids, and items whose images are missing or unreadable. Unlike the evaluation it does not
stop at the first bad row: it counts them all and shows the first few of each kind.

Example:
    >>> from perception_r1.eval.benchmarks import get_benchmark
    >>> report = check_benchmark(get_benchmark("mathvista"), "/nonexistent")
    >>> report.ok, report.missing.startswith("no local copy of mathvista")
    (False, True)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.eval.benchmarks import Benchmark
from perception_r1.eval.data import local_rows, local_source_paths, row_to_item

SHOWN = 5  # examples listed per kind of problem


@dataclass
class BenchmarkCheck:
    """What a local copy of one benchmark holds.

    Attributes:
        benchmark: Benchmark name.
        size: Items of the whole benchmark (``None``: unknown).
        sources: The files or folders read.
        subsets: Items found per subset.
        bad_rows: Rows the evaluation would refuse: ``(where, reason)`` (first :data:`SHOWN`), and their count.
        duplicates: Ids found more than once.
        image_problems: Items with a missing or unreadable image: ``(id, reason)`` (first :data:`SHOWN`), and
            their count.
        missing: Why no copy could be read (empty when one was).
    """

    benchmark: str
    size: int | None
    sources: list[str] = field(default_factory=list)
    subsets: dict[str, int] = field(default_factory=dict)
    bad_rows: list[tuple[str, str]] = field(default_factory=list)
    n_bad_rows: int = 0
    duplicates: list[str] = field(default_factory=list)
    image_problems: list[tuple[str, str]] = field(default_factory=list)
    n_image_problems: int = 0
    missing: str = ""

    @property
    def items(self) -> int:
        """Items found (all subsets)."""
        return sum(self.subsets.values())

    @property
    def complete(self) -> bool:
        """Every item of the benchmark is there (unknown size: assumed)."""
        return self.size is None or self.items >= self.size

    @property
    def ok(self) -> bool:
        """Readable, complete, no bad row, no duplicate id, every image loads."""
        return not (self.missing or self.n_bad_rows or self.duplicates or self.n_image_problems) and self.complete

    def status(self) -> str:
        """``ok``, ``missing``, or what is wrong: ``incomplete``, ``bad rows``, ``duplicate ids``, ``images``."""
        if self.ok:
            return "ok"
        if self.missing:
            return "missing"
        flags = (
            (not self.complete, "incomplete"), (self.n_bad_rows, "bad rows"), (self.duplicates, "duplicate ids"),
            (self.n_image_problems, "images"),
        )  # fmt: skip
        return ", ".join(name for wrong, name in flags if wrong)

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON object (``--json``)."""
        return {
            "benchmark": self.benchmark, "ok": self.ok, "status": self.status(), "items": self.items,
            "size": self.size, "complete": self.complete, "subsets": self.subsets, "sources": self.sources,
            "missing": self.missing,
            "bad_rows": self.n_bad_rows, "bad_row_examples": self.bad_rows, "duplicate_ids": self.duplicates,
            "image_problems": self.n_image_problems, "image_problem_examples": self.image_problems,
        }  # fmt: skip


def check_image(source: Any, base_dir: Path | None) -> str | None:
    """Why one image value cannot be used (missing file, not an image, truncated header), or None.

    Cheaper than decoding: the file must exist, PIL must identify and verify it, and it must be within the pixel
    limit the evaluation applies (:func:`perception_r1.images.check_pixels`).
    """
    import io

    from PIL import Image, UnidentifiedImageError

    from perception_r1.images import ImageError, check_pixels

    if isinstance(source, Image.Image):
        try:
            check_pixels(source)
        except ImageError as exc:
            return f"unreadable image: {exc}"
        return None
    if isinstance(source, dict):
        source = source.get("bytes") or source.get("path")
    try:
        if isinstance(source, (bytes, bytearray)):
            handle: Any = io.BytesIO(source)
        elif isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.is_file():
                return f"missing image file {path}"
            handle = path
        else:
            return f"not an image value ({type(source).__name__})"
        with Image.open(handle) as image:  # the header only: the size is known before anything is decoded
            check_pixels(image)
            image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:  # PIL raises SyntaxError on bad PNGs
        return f"unreadable image: {exc}"
    return None


def check_benchmark(bench: Benchmark, data_dir: str | Path, images: bool = True) -> BenchmarkCheck:
    """Read a local copy of ``bench`` as the evaluation would and count what is wrong with it.

    Args:
        bench: The benchmark.
        data_dir: The ``--data-dir`` folder.
        images: Also check that every image exists and is a readable image.
    """
    report = BenchmarkCheck(bench.name, bench.size)
    report.sources = [str(p) for p in local_source_paths(bench, data_dir)]
    ids: Counter[str] = Counter()
    try:
        for subset, where, row, base_dir in local_rows(bench, data_dir):
            try:
                item = row_to_item(bench, subset, row, where, base_dir)
            except ValueError as exc:
                report.n_bad_rows += 1
                if len(report.bad_rows) < SHOWN:
                    report.bad_rows.append((where, str(exc).removeprefix(f"{where}: ")))
                continue
            report.subsets[subset.name] = report.subsets.get(subset.name, 0) + 1
            ids[item.id] += 1
            problem = _image_problem(item.image_sources, base_dir) if images else None
            if problem:
                report.n_image_problems += 1
                if len(report.image_problems) < SHOWN:
                    report.image_problems.append((item.id, problem))
    except (FileNotFoundError, ValueError, OSError) as exc:
        report.missing = str(exc)
    report.duplicates = sorted(i for i, n in ids.items() if n > 1)
    return report


def _image_problem(sources: Sequence[Any], base_dir: Path | None) -> str | None:
    """The first problem with an item's images, or None (an item without any image is one)."""
    if not sources:
        return "no image in any image column"
    return next((p for p in (check_image(s, base_dir) for s in sources) if p), None)


def check_data(benchmarks: Sequence[Benchmark], data_dir: str | Path, images: bool = True) -> list[BenchmarkCheck]:
    """:func:`check_benchmark` for each benchmark."""
    return [check_benchmark(b, data_dir, images) for b in benchmarks]


def format_checks(checks: Sequence[BenchmarkCheck]) -> str:
    """A Markdown table (one row per benchmark), then the problems found, each with its first examples."""
    lines = [
        "| benchmark | items | of | subsets | bad rows | image problems | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        subsets = ", ".join(f"{k} {v:,}" for k, v in c.subsets.items()) or "-"
        size = f"{c.size:,}" if c.size is not None else "?"
        status = c.status()
        lines.append(
            f"| {c.benchmark} | {c.items:,} | {size} | {subsets} | {c.n_bad_rows} | {c.n_image_problems} | {status} |"
        )
    for c in checks:
        notes = []
        if c.missing:
            notes.append(f"- {c.missing}")
        elif not c.complete:
            notes.append(
                f"- {c.items:,} of {c.size:,} items: an evaluation on this copy is partial (marked in tables)"
            )
        notes += [f"- bad row {where}: {reason}" for where, reason in c.bad_rows]
        if c.duplicates:
            notes.append(f"- duplicate ids ({len(c.duplicates)}): {', '.join(c.duplicates[:SHOWN])}")
        notes += [f"- item {item_id}: {reason}" for item_id, reason in c.image_problems]
        if notes:
            lines += ["", f"{c.benchmark} ({', '.join(c.sources) or 'no copy found'}):", *notes]
    return "\n".join(lines) + "\n"
