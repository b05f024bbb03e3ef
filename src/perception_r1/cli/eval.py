"""``perception-r1 eval``: evaluate a model on the paper's benchmarks; ``eval rescore DIR`` re-scores stored
generations without loading a model; ``eval table DIR...`` compares evaluated models; ``eval check-data`` checks
local copies of the benchmarks."""

from __future__ import annotations

from pathlib import Path

import typer

from perception_r1.cli.errors import fail

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


_SCORING_HELP = (
    "official: each benchmark's official rule scorer, quirks included (comparable with published tables); "
    "corrected: the project's fixes (docs/eval-scoring.md)."
)


def _check_scoring(mode: str) -> str:
    from perception_r1.eval.scoring import SCORING_MODES

    if mode not in SCORING_MODES:
        fail(f"--scoring must be one of {', '.join(SCORING_MODES)}, got {mode!r}")
    return mode


def _parse_kv(pairs: list[str]) -> dict[str, object]:
    import yaml

    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--backend-opt expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)  # numbers and booleans become typed values
    return out


def _llm_config(extract: bool, grade: bool, base_url: str | None, model: str | None):  # noqa: ANN202
    from perception_r1.eval.llm_grading import LLMGradingConfig
    from perception_r1.llm.config import LLMConfig

    client = LLMConfig()
    if base_url:
        client.base_url = base_url
    if model:
        client.model = model
    return LLMGradingConfig(extract=extract, grade=grade, client=client)


@app.callback(invoke_without_command=True)
def eval_cmd(
    ctx: typer.Context,
    model: str = typer.Option(None, "--model", help="Model folder (transformers/vllm) or served model name (openai)."),
    benchmarks: str = typer.Option("all", "--benchmarks", "-b", help="Comma-separated benchmarks, or 'all'."),
    output_dir: Path = typer.Option(Path("eval_out"), "--output-dir", "-o", help="Output folder (resumable)."),
    backend: str = typer.Option("transformers", "--backend", help="transformers, vllm or openai."),
    limit: int = typer.Option(None, "--limit", help="Only the first N items of each subset."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Local copies of the benchmarks (default: the hub)."),
    model_name: str = typer.Option(None, "--model-name", help="Label in tables (default: the folder name)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts per forward batch (transformers backend)."),
    chunk_size: int = typer.Option(
        None,
        "--chunk-size",
        help="Prompts handed to the backend per call, saved after each (default: 1024 for vllm, 256 for openai, "
        "4 x --batch-size for transformers; 0: the whole benchmark in one call).",
    ),
    shard: str = typer.Option(
        None, "--shard", help="I/N: every N-th item from item I (one process per GPU; join with `eval merge`)."
    ),
    max_new_tokens: int = typer.Option(4096, "--max-new-tokens", help="Generation budget per response."),
    backend_opt: list[str] = typer.Option([], "--backend-opt", help="Backend keyword KEY=VALUE (repeatable)."),
    llm_extract: bool = typer.Option(False, "--llm-extract", help="LLM extraction fallback (LLM client layer)."),
    llm_grade: bool = typer.Option(False, "--llm-grade", help="LLM grading as in the paper (rules as fallback)."),
    llm_base_url: str = typer.Option(
        None, "--llm-base-url", help="OpenAI-compatible URL of the extraction/grading LLM."
    ),
    llm_model: str = typer.Option(None, "--llm-model", help="Model name of the extraction/grading LLM."),
    scoring: str = typer.Option("official", "--scoring", help=_SCORING_HELP),
    max_image_pixels: int = typer.Option(
        None,
        "--max-image-pixels",
        min=1,
        help="An item with an image of more pixels becomes an error item (decompression bombs). "
        "Default: $PERCEPTION_R1_MAX_IMAGE_PIXELS or 64000000.",
    ),
) -> None:
    """Evaluate a model on the paper's benchmarks (see `eval rescore` and `eval table` too)."""
    if ctx.invoked_subcommand is not None:
        return
    if not model:
        typer.echo(ctx.get_help())
        fail("--model is required (or use a subcommand: rescore, table)")
    from perception_r1.eval.runner import EvalConfig, run_eval
    from perception_r1.registry import UnknownNameError

    cfg = EvalConfig(
        model=model,
        benchmarks=benchmarks,
        output_dir=str(output_dir),
        backend=backend,
        model_name=model_name,
        limit=limit,
        data_dir=str(data_dir) if data_dir else None,
        batch_size=batch_size,
        chunk_size=chunk_size,
        shard=shard,
        max_new_tokens=max_new_tokens,
        backend_options=_parse_kv(backend_opt),
        llm=_llm_config(llm_extract, llm_grade, llm_base_url, llm_model),
        scoring=_check_scoring(scoring),
        max_image_pixels=max_image_pixels,
    )
    try:
        result = run_eval(cfg)
    except (UnknownNameError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    _print_summary(result)


def _print_summary(result) -> None:  # noqa: ANN001
    for name, summary in result.summaries.items():
        overall = summary.get("overall")
        shown = "n/a" if overall is None else f"{overall:.1f}"
        typer.echo(
            f"{name}: {shown} ({summary.get('scored', 0)} scored, {summary.get('errors', 0)} errors; "
            f"{summary.get('scoring', '?')} scoring, headline over {summary.get('denominator', '?')} items)"
        )
    typer.echo(f"wrote {result.output_dir}/summary.json, table.md, chart.png")


@app.command("rescore")
def rescore_cmd(
    output_dir: Path = typer.Argument(..., help="An evaluation folder written by `perception-r1 eval`."),
    llm_extract: bool = typer.Option(False, "--llm-extract", help="LLM extraction fallback (LLM client layer)."),
    llm_grade: bool = typer.Option(False, "--llm-grade", help="LLM grading as in the paper (rules as fallback)."),
    llm_base_url: str = typer.Option(None, "--llm-base-url", help="OpenAI-compatible URL of the LLM."),
    llm_model: str = typer.Option(None, "--llm-model", help="Model name of the LLM."),
    scoring: str = typer.Option("official", "--scoring", help=_SCORING_HELP),
) -> None:
    """Recompute extraction, scores, summary and reports from stored generations (no model is loaded); switch
    between `--scoring official` and `--scoring corrected` this way."""
    from perception_r1.eval.runner import rescore
    from perception_r1.registry import UnknownNameError

    mode = _check_scoring(scoring)
    llm = _llm_config(llm_extract, llm_grade, llm_base_url, llm_model) if (llm_extract or llm_grade) else None
    try:
        result = rescore(output_dir, llm_config=llm, scoring=mode)
    except (UnknownNameError, ValueError, OSError) as exc:
        fail(str(exc))
    _print_summary(result)


@app.command("merge")
def merge_cmd(
    shard_dirs: list[Path] = typer.Argument(..., help="Folders of `perception-r1 eval --shard I/N` runs."),
    out: Path = typer.Option(..., "--output-dir", "-o", help="The merged evaluation folder."),
    scoring: str = typer.Option(None, "--scoring", help="Scoring mode (default: the shards' own). " + _SCORING_HELP),
) -> None:
    """Join the shard folders of a data-parallel evaluation into one folder and score it as one run."""
    from perception_r1.eval.runner import merge_runs

    try:
        result = merge_runs(shard_dirs, out, scoring=_check_scoring(scoring) if scoring else None)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    _print_summary(result)


@app.command("table")
def table_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="Evaluation folders, one per model (in row order)."),
    out: Path = typer.Option(Path("eval_report"), "--output-dir", "-o", help="Where table.md and chart.png go."),
    paper: bool = typer.Option(True, "--paper/--no-paper", help="Add the paper's Table 1 rows for reference."),
    allow_different_items: bool = typer.Option(
        False,
        "--allow-different-items",
        help="Compare runs evaluated on different item sets (another --limit or data copy); refused by default.",
    ),
) -> None:
    """Compare any number of evaluated models side by side (Markdown table and PNG chart).

    A run evaluated on part of a benchmark (--limit, an incomplete local copy) is marked "(n of N items)" in the
    table and faded in the chart.
    """
    from perception_r1.eval.report import write_reports

    try:
        table, chart = write_reports(run_dirs, out, with_paper=paper, allow_different_items=allow_different_items)
    except (FileNotFoundError, ValueError, OSError) as exc:
        fail(str(exc))
    typer.echo(table.read_text(encoding="utf-8"))
    typer.echo(f"wrote {table} and {chart}")


@app.command("check-data")
def check_data_cmd(
    data_dir: Path = typer.Option(..., "--data-dir", help="Folder with local copies (layout: docs/evaluation.md)."),
    benchmarks: str = typer.Option("all", "--benchmarks", "-b", help="Comma-separated benchmarks, or 'all'."),
    images: bool = typer.Option(True, "--images/--no-images", help="Check that every image exists and reads."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
) -> None:
    """Check local benchmark copies: items found per benchmark and subset (against the benchmark's size), malformed
    rows, duplicate ids, missing or unreadable images. Exits 1 when a copy is missing, incomplete or has problems."""
    import json

    from perception_r1.eval.benchmarks import parse_benchmark_list
    from perception_r1.eval.data_check import check_data, format_checks
    from perception_r1.registry import UnknownNameError

    if not data_dir.is_dir():
        fail(f"--data-dir {data_dir}: no such folder")
    try:
        benches = parse_benchmark_list(benchmarks)
    except (UnknownNameError, ValueError) as exc:
        fail(str(exc))
    checks = check_data(benches, data_dir, images=images)
    if as_json:
        typer.echo(json.dumps([c.to_json() for c in checks], indent=2))
    else:
        typer.echo(format_checks(checks), nl=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
