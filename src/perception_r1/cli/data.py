"""``perception-r1 data ...``: dataset commands (the synthetic geometry testbed; curation steps follow)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from perception_r1.redact import redact, redact_obj

app = typer.Typer(no_args_is_help=True, add_completion=False)

DEFAULT_CACHE_NAME = "llm_cache.sqlite"  # a step's reply cache in its output folder, unless --cache-path names one


@app.command("synth")
def synth(
    n: int = typer.Option(..., "--n", min=1, help="Number of problems (train + test)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same options give identical output."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (train/, test/, README.md, summary.json)."),
    difficulty: int = typer.Option(1, "--difficulty", min=1, max=3, help="1 (easy) to 3 (hard)."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", min=0.0, max=0.99, help="Share of problems in test."),
    fmt: str = typer.Option("disk", "--format", help="'disk' (datasets folders) or 'parquet' (one file per split)."),
    size: int = typer.Option(224, "--size", min=112, max=448, help="Image side in pixels."),
    families: str = typer.Option("", "--families", help="Comma-separated families (default: all)."),
    letters: str = typer.Option(
        "auto", "--letters", help="Point letters: 'auto' (difficulty decides), 'fixed' (A, B, C...) or 'random'."
    ),
    multiple_choice: bool = typer.Option(
        False,
        "--multiple-choice",
        help="Four options (A-D) in each question, the gold answer the correct letter (a guess is right 1 in 4).",
    ),
) -> None:
    """Render a synthetic geometry testbed with exact visual annotations."""
    from perception_r1.data.synth import write_testbed
    from perception_r1.registry import UnknownNameError

    chosen = [f.strip() for f in families.split(",") if f.strip()] or None
    try:
        summary = write_testbed(
            output,
            n=n,
            seed=seed,
            difficulty=difficulty,
            test_fraction=test_fraction,
            fmt=fmt,
            size=size,
            families=chosen,
            letters=letters,
            multiple_choice=multiple_choice,
        )
    except (ValueError, UnknownNameError, OSError) as exc:  # OSError: a refused or unwritable output folder
        raise typer.BadParameter(str(exc)) from None
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))


def _llm_config(
    config_file: Path | None, base_url: str | None, model: str | None, cache_path: str | None, output: Path
):
    """An LLMConfig from an optional YAML file plus command-line overrides.

    Without a cache path (neither ``--cache-path`` nor the file's ``cache_path``) the replies are cached in
    ``OUTPUT/llm_cache.sqlite``: every finished call is kept as it arrives, so a killed step run again with the same
    ``-o`` repeats only the calls that were in flight.
    """
    from perception_r1.config import load_config
    from perception_r1.llm.config import LLMConfig

    overrides = {k: v for k, v in (("base_url", base_url), ("model", model), ("cache_path", cache_path)) if v}
    return load_config(LLMConfig, config_file, overrides).with_default_cache(output / DEFAULT_CACHE_NAME)


def _load_rows(
    input_path: str, split: str | None, columns: str, limit: int | None, where: list[str] | None = None
) -> list[dict]:
    """Schema rows of the input; with ``where`` (``FIELD=VALUE``, dotted fields, all must hold) only the matching
    rows, then the first ``limit`` of them."""
    from perception_r1.analysis.mcnemar import matches_where, parse_where
    from perception_r1.data.io import load_examples
    from perception_r1.data.schema import SchemaError

    try:
        filters = parse_where(where or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        mapping = json.loads(columns) if columns else {}
        rows = load_examples(
            input_path, split=split, columns=mapping, check_images=False, limit=None if filters else limit
        )
    except (SchemaError, FileNotFoundError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if filters:
        rows = [r for r in rows if matches_where(r, filters)]
        rows = rows[:limit] if limit is not None else rows
    return rows


def _run_step(step, *args):  # noqa: ANN001, ANN202 - a curation step and its arguments
    """Run a curation step; bad options, a corrupt cache or an unreachable output become a clear error."""
    from perception_r1.config import ConfigError

    try:
        return step(*args)
    except (ConfigError, ValueError, OSError) as exc:  # CacheError is a ValueError
        raise typer.BadParameter(str(exc)) from None


def _finish(result, output: Path) -> None:
    from perception_r1.data.curate.common import write_step

    try:
        paths = write_step(output, result)
    except (ValueError, OSError) as exc:  # e.g. -o names a file, or a folder holding other files
        raise typer.BadParameter(str(exc)) from None
    shown = redact_obj({"summary": result.summary, "outputs": paths})  # reasons quote LLM error texts
    typer.echo(json.dumps(shown, indent=2, ensure_ascii=False, default=str))


_LLM_FILE = typer.Option(None, "--llm-config", help="YAML file with LLM client settings (perception_r1.llm.config).")
_BASE_URL = typer.Option(None, "--base-url", help="OpenAI-compatible base URL (overrides the file).")
_MODEL = typer.Option(None, "--model", help="Model name (overrides the file).")
_CACHE = typer.Option(
    None,
    "--cache-path",
    help="SQLite reply cache that makes the step resumable (default: OUTPUT/llm_cache.sqlite; a killed step run "
    "again repeats only the calls that were in flight).",
)


@app.command("distill")
def distill_cmd(
    input_path: str = typer.Argument(..., help="Dataset: hf:<id>, parquet/JSONL/JSON file or datasets folder."),
    output: Path = typer.Option(..., "-o", "--output", help="Step folder (data.parquet, rejects.jsonl, summary)."),
    split: str = typer.Option(None, "--split", help="Split of a hub dataset or DatasetDict folder."),
    columns: str = typer.Option("", "--columns", help='Column renames as JSON, e.g. \'{"problem": "question"}\'.'),
    limit: int = typer.Option(None, "--limit", min=1, help="Use only the first N rows (after --where)."),
    where: list[str] = typer.Option(
        [],
        "--where",
        help="FIELD=VALUE: only rows whose (dotted) field has this value, e.g. metadata.task=... "
        "(repeatable; all must hold).",
    ),  # fmt: skip
    k: int = typer.Option(4, "--k", min=1, help="Solutions per problem."),
    temperature: float = typer.Option(1.0, "--temperature", help="Teacher sampling temperature."),
    llm_config: Path = _LLM_FILE,
    base_url: str = _BASE_URL,
    model: str = _MODEL,
    cache_path: str = _CACHE,
) -> None:
    """Ask a teacher MLLM for k solutions per problem (images attached)."""
    from perception_r1.data.curate.distill import DistillOptions, distill

    rows = _load_rows(input_path, split, columns, limit, where)
    if not rows:
        raise typer.BadParameter(f"no row of {input_path} to distil" + (" matches --where" if where else ""))
    teacher = _run_step(_llm_config, llm_config, base_url, model, cache_path, output)
    _finish(_run_step(distill, rows, teacher, _run_step(DistillOptions, k, temperature)), output)


@app.command("filter")
def filter_cmd(
    input_path: str = typer.Argument(..., help="Output of 'data distill' (its data.parquet)."),
    output: Path = typer.Option(..., "-o", "--output", help="Step folder."),
    select: str = typer.Option("first", "--select", help="Correct trajectory to keep: first or shortest."),
) -> None:
    """Keep trajectories whose final answer verifies against the ground truth; one per problem."""
    from perception_r1.data.curate.filtering import filter_trajectories
    from perception_r1.rewards import get_reward

    rows = _load_rows(input_path, None, "", None)
    try:
        result = filter_trajectories(rows, select=select, accuracy=get_reward("accuracy"))
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc).strip("'\"")) from None
    _finish(result, output)


@app.command("annotate")
def annotate_cmd(
    input_path: str = typer.Argument(..., help="Output of 'data filter' (its data.parquet)."),
    output: Path = typer.Option(..., "-o", "--output", help="Step folder."),
    llm_config: Path = _LLM_FILE,
    base_url: str = _BASE_URL,
    model: str = _MODEL,
    cache_path: str = _CACHE,
) -> None:
    """Extract atomic visual statements from each kept CoT with a text LLM."""
    from perception_r1.data.curate.annotate import annotate

    rows = _load_rows(input_path, None, "", None)
    annotator = _run_step(_llm_config, llm_config, base_url, model, cache_path, output)
    _finish(_run_step(annotate, rows, annotator), output)


@app.command("build", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def build_cmd(
    ctx: typer.Context,
    recipe_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Data recipe YAML."),
) -> None:
    """Run a whole curation recipe (load, distill, filter, annotate, write).

    Override any recipe key as ``--section.key VALUE`` or ``section.key=VALUE`` (as ``train`` takes them), e.g.
    ``--teacher.base_url URL teacher.model=M``.
    """
    from perception_r1.config import ConfigError, parse_overrides
    from perception_r1.data.curate.recipe import build, load_recipe
    from perception_r1.data.schema import SchemaError
    from perception_r1.rewards import get_reward

    try:
        recipe = load_recipe(recipe_path, parse_overrides(list(ctx.args)))
        summary = build(recipe, accuracy=get_reward("accuracy"))
    except (ConfigError, SchemaError, ValueError, OSError) as exc:  # OSError: FileNotFoundError, FileExistsError
        raise typer.BadParameter(str(exc)) from None
    shown = redact_obj({k: summary[k] for k in ("counts", "retention", "rejects", "outputs")})
    typer.echo(json.dumps(shown, indent=2))


@app.command("export")
def export_cmd(
    input_path: str = typer.Argument(..., help="Dataset in the schema or reference layout (file, folder or hf:id)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output parquet file."),
    to: str = typer.Option(..., "--to", help="Target framework: 'verl' or 'easyr1'."),
    split: str | None = typer.Option(None, "--split", help="Split to read (hub datasets, DatasetDict folders)."),
    columns: str = typer.Option("", "--columns", help="Schema column -> source column renames, as JSON."),
    data_source: str = typer.Option("perception_r1", "--data-source", help="verl: the rows' data_source."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Export only the first N rows."),
) -> None:
    """Write a dataset for verl or EasyR1 training with the annotations where their reward functions read them.

    verl: ``extra_info.visual_annotations`` (recipes/verl/README.md); EasyR1: inside the ``answer`` column, as the
    JSON ground truth of ``perception_r1.integrations.easyr1`` (recipes/easyr1/README.md).
    """
    from perception_r1.integrations.export import write_export

    rows = _load_rows(input_path, split, columns, limit)
    try:
        count = write_export(rows, output, to, data_source=data_source, split=split or "train")
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(redact(str(exc))) from None
    typer.echo(json.dumps({"rows": count, "output": str(output), "to": to}))
