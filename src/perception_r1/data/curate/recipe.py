"""``data build RECIPE.yaml``: the whole curation (load -> distill -> filter -> annotate -> write) from a recipe.

Output folder layout::

    OUT/load/rejects.jsonl                       rows the loader rejected (missing answer, corrupt image, ...)
    OUT/distill/{data.parquet,rejects.jsonl,summary.json}
    OUT/filter/{...}  OUT/annotate/{...}
    OUT/train/ (datasets folder) or OUT/train.parquet    the final data in the schema
    OUT/reference.parquet                        the same in the reference layout (when write.reference)
    OUT/summary.json                             counts per stage, retention, histogram, LLM counters

Wrong column names or an unreadable source fail before any LLM call. The run is resumable: the teacher's and the
annotator's replies are cached as they arrive (``cache_path`` of each, by default ``OUT/cache/teacher.sqlite`` and
``OUT/cache/annotator.sqlite``; see :mod:`perception_r1.data.curate.common`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import load_config, option, to_dict
from perception_r1.data.curate.annotate import AnnotateOptions, annotate
from perception_r1.data.curate.common import StepResult, reason_counts, write_step
from perception_r1.data.curate.distill import DistillOptions, distill
from perception_r1.data.curate.filtering import filter_trajectories
from perception_r1.io_utils import atomic_write_json, atomic_write_jsonl
from perception_r1.llm.config import LLMConfig
from perception_r1.redact import redact_obj


@dataclass
class SourceConfig:
    """Where the problems come from (see :func:`perception_r1.data.io.load_examples`)."""

    path: str = option("hf:hiyouga/geometry3k", "dataset: hf:<id>, a parquet/JSONL/JSON file or a datasets folder")
    split: str | None = option("train", "split (hub datasets and DatasetDict folders)")
    config: str | None = option(None, "dataset configuration name (hub datasets)")
    columns: dict[str, str] = option(factory=dict, help="schema column -> source column renames")
    limit: int | None = option(None, "use only the first N rows")

    def __post_init__(self) -> None:
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise ValueError(f"limit must be >= 1 (or null for all rows), got {self.limit!r}")


@dataclass
class FilterConfig:
    """Accuracy filtering."""

    select: str = option("first", "which correct trajectory to keep: first or shortest")


@dataclass
class WriteConfig:
    """Final outputs."""

    format: str = option("disk", "disk (datasets folder OUT/train) or parquet (OUT/train.parquet)")
    reference: bool = option(True, "also write OUT/reference.parquet in the reference (visual_key_info) layout")


@dataclass
class DataRecipe:
    """A data-curation recipe (see recipes/data/geometry3k.yaml)."""

    output_dir: str = option("outputs/data/geometry3k", "output folder")
    source: SourceConfig = option(factory=SourceConfig, help="input dataset")
    teacher: LLMConfig = option(factory=LLMConfig, help="teacher MLLM (distillation)")
    distill: DistillOptions = option(factory=DistillOptions, help="distillation options")
    filter: FilterConfig = option(factory=FilterConfig, help="accuracy filtering options")
    annotator: LLMConfig = option(factory=LLMConfig, help="text LLM extracting visual annotations")
    annotate: AnnotateOptions = option(factory=AnnotateOptions, help="annotation options")
    write: WriteConfig = option(factory=WriteConfig, help="final outputs")
    notes: dict[str, Any] = option(
        factory=dict, help="free-form notes (e.g. the paper's figures), kept in the summary"
    )


def final_output_path(recipe: DataRecipe) -> Path:
    """Where :func:`build` writes the final data in the schema: ``OUT/train`` (datasets folder) or
    ``OUT/train.parquet``; this is the ``data.source`` of a training recipe that uses the rebuilt set."""
    return Path(recipe.output_dir) / ("train.parquet" if recipe.write.format == "parquet" else "train")


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> DataRecipe:
    """Read and check a recipe YAML (unknown keys fail with "did you mean")."""
    return load_config(DataRecipe, path, overrides)


def build(recipe: DataRecipe, *, accuracy: Any) -> dict[str, Any]:
    """Run the recipe end to end and write every output (see the module docstring).

    Args:
        recipe: The recipe.
        accuracy: The accuracy reward of the filter step (``perception_r1.rewards.get_reward("accuracy")``; passed
            in because the data layer does not import the rewards).

    Returns:
        The overall summary (also written to ``OUT/summary.json``).
    """
    from perception_r1.data.io import load_examples, write_examples, write_reference

    if recipe.write.format not in ("disk", "parquet"):
        raise ValueError(f"write.format must be 'disk' or 'parquet', got {recipe.write.format!r}")
    out = Path(recipe.output_dir)
    load_rejects: list[dict[str, Any]] = []
    src = recipe.source
    rows = load_examples(
        src.path, split=src.split, config=src.config, columns=src.columns, check_images=True,
        rejects=load_rejects, limit=src.limit,
    )  # fmt: skip
    atomic_write_jsonl(out / "load" / "rejects.jsonl", [{**r, "stage": "load"} for r in load_rejects])
    teacher = recipe.teacher.with_default_cache(out / "cache" / "teacher.sqlite")
    annotator = recipe.annotator.with_default_cache(out / "cache" / "annotator.sqlite")
    stages: dict[str, StepResult] = {}
    stages["distill"] = distill(rows, teacher, recipe.distill)
    write_step(out / "distill", stages["distill"])
    stages["filter"] = filter_trajectories(stages["distill"].rows, select=recipe.filter.select, accuracy=accuracy)
    write_step(out / "filter", stages["filter"])
    stages["annotate"] = annotate(stages["filter"].rows, annotator, recipe.annotate)
    write_step(out / "annotate", stages["annotate"])
    final = stages["annotate"].rows
    final_path = final_output_path(recipe)
    write_examples(final, final_path)
    if recipe.write.reference:
        write_reference(final, out / "reference.parquet")
    n_in = len(rows) + len(load_rejects)
    summary = {
        "recipe": to_dict(recipe),
        "counts": {
            "source": n_in,
            "loaded": len(rows),
            "distilled": len(stages["distill"].rows),
            "filtered": len(stages["filter"].rows),
            "annotated": len(final),
        },
        "retention": round(len(final) / n_in, 4) if n_in else None,
        "rejects": {
            "load": reason_counts(load_rejects),
            **{name: reason_counts([r for r in st.rejects if r["stage"] == name]) for name, st in stages.items()},
        },
        "annotations_per_item": stages["annotate"].summary["annotations_per_item"],
        "dropped_statements": stages["annotate"].summary["dropped_statements"],
        "llm": {"teacher": stages["distill"].summary["llm"], "annotator": stages["annotate"].summary["llm"]},
        "outputs": {
            "train": str(final_path),
            "reference": str(out / "reference.parquet") if recipe.write.reference else None,
        },
        "train_with": f"perception-r1 train RECIPE.yaml --data.source {final_path}",
    }
    summary = redact_obj(summary)  # reject reasons quote LLM error texts (perception_r1.redact)
    atomic_write_json(out / "summary.json", summary)
    return summary
