"""``perception-r1 analyze``: McNemar's test, the perception analysis of two models, pooling experiment runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from perception_r1.cli.errors import fail
from perception_r1.cli.judge_options import JudgeOptions, judge_options
from perception_r1.redact import redact_obj

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _group() -> None:
    """Statistics: McNemar test, the perception analysis of two models, pooling experiment runs."""


@app.command("mcnemar")
def mcnemar_cmd(
    files: list[Path] = typer.Argument(None, help="Two JSONL files (model A, model B) paired by id."),
    key: str = typer.Option(None, "--key", help="Binary field to compare (dotted paths descend into objects)."),
    id_field: str = typer.Option("id", "--id-field", help="Field that identifies an item in both files."),
    counts: tuple[int, int] | None = typer.Option(
        None, "--counts", help="Discordant counts B C (A-only positives, B-only positives) instead of files."
    ),
    method: str = typer.Option("exact", "--method", help="exact (binomial, two-sided) or chi2 (continuity-corr.)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object instead of text."),
) -> None:
    """McNemar's test on paired binary outcomes (exact two-sided binomial by default)."""
    from perception_r1.analysis.mcnemar import mcnemar, mcnemar_files

    files = files or []
    try:
        if counts is not None:
            if files:
                fail("give either two files or --counts B C, not both")
            result = mcnemar(counts[0], counts[1], method=method)
        else:
            if len(files) != 2:
                fail(f"expected two JSONL files (A B) or --counts B C; got {len(files)} file(s)")
            if not key:
                fail("--key FIELD is required with files (the binary field to compare)")
            for f in files:
                if not f.is_file():
                    fail(f"{f}: no such file")
            result = mcnemar_files(files[0], files[1], key, id_field=id_field, method=method)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    typer.echo(f"McNemar ({result.method}): b={result.b} c={result.c} n_pairs={result.n_pairs}")
    if result.statistic is not None:
        typer.echo(f"chi-square statistic: {result.statistic:.4f}")
    typer.echo(f"p-value: {result.p_value:.4g}")
    for name, value in result.extra.items():
        typer.echo(f"{name}: {value}")
    if result.extra.get("unpaired_a") or result.extra.get("unpaired_b"):
        typer.echo("note: unpaired items were left out of the test", err=True)
    if result.extra.get("null_a") or result.extra.get("null_b"):
        typer.echo(f"note: items with a null {key!r} were left out of the test (counted above)", err=True)


def _load_responses(path: Path, id_field: str) -> dict[str, dict]:
    from perception_r1.io_utils import JsonlError, iter_jsonl

    out: dict[str, dict] = {}
    for line_no, row in iter_jsonl(path):
        if isinstance(row, JsonlError):
            fail(str(row))
        if id_field not in row:
            fail(f"{path}:{line_no}: no id field {id_field!r}")
        key = str(row[id_field])
        if key in out:  # which of two responses to label would be a silent choice
            fail(f"{path}:{line_no}: duplicate id {key!r}")
        out[key] = row
    return out


@app.command("perception")
@judge_options
def perception_cmd(
    responses_a: Path = typer.Argument(..., help="Model A responses (JSONL with id, response), e.g. items/x.jsonl."),
    responses_b: Path = typer.Argument(..., help="Model B responses (same ids)."),
    annotations: Path = typer.Option(..., "--annotations", help="JSONL: id + annotations list or visual_key_info."),
    output_dir: Path = typer.Option(Path("perception_analysis"), "--output-dir", "-o", help="Report folder."),
    n: int = typer.Option(50, "--n", help="Items in the seeded subset (the paper used 50); 0 = all."),
    seed: int = typer.Option(0, "--seed", help="Seed of the subset."),
    where: list[str] = typer.Option([], "--where", help="FIELD=VALUE filter on model A's records (repeatable)."),
    threshold: float = typer.Option(1.0, "--threshold", help="Judge score needed for 'perception correct'."),
    method: str = typer.Option("exact", "--method", help="McNemar method: exact or chi2."),
    name_a: str = typer.Option("A", "--name-a", help="Label of model A."),
    name_b: str = typer.Option("B", "--name-b", help="Label of model B."),
    id_field: str = typer.Option("id", "--id-field", help="Id field in all three files."),
    *,
    judge: JudgeOptions,
) -> None:
    """Label two models' perception with a judge on a seeded subset, then McNemar + discordant items report.

    Without ``--judge-config`` or ``--judge-backend`` the deterministic rule judge labels the items. An LLM judge's
    replies are cached in ``OUTPUT_DIR/judge_cache.sqlite`` unless ``--judge-cache-path`` names another file.
    """
    from perception_r1.analysis.mcnemar import parse_where
    from perception_r1.analysis.perception import (
        analyze_perception,
        load_annotations,
        markdown_report,
        select_items,
        selection_note,
        selection_summary,
    )
    from perception_r1.io_utils import atomic_write_json, atomic_write_text
    from perception_r1.judge.config import JudgeConfig
    from perception_r1.judge.judges import JUDGE_BACKENDS, build_judge
    from perception_r1.registry import UnknownNameError

    if name_a == name_b:
        fail("--name-a and --name-b must differ")
    if n < 0:
        fail(f"--n must be >= 0 (0 = every item), got {n}")
    if not 0.0 <= threshold <= 1.0:
        fail(f"--threshold must be within [0, 1], got {threshold}")
    for f in (responses_a, responses_b, annotations):
        if not f.is_file():
            fail(f"{f}: no such file")
    try:
        filters = parse_where(where)  # a malformed --where fails before anything is read
        cfg = judge.build(default_backend="rule") or JudgeConfig(backend="rule")  # (never None with a default)
        if cfg.backend != "rule":  # every verdict kept as it arrives: a rerun resumes
            cfg = cfg.with_default_cache(output_dir / "judge_cache.sqlite")
        JUDGE_BACKENDS.get(cfg.backend)  # fail fast on an unknown backend, before reading anything
        anns = load_annotations(annotations, id_field)
        resp_a, resp_b = _load_responses(responses_a, id_field), _load_responses(responses_b, id_field)
        ids = select_items(anns, resp_a, resp_b, n or None, seed, filters)
        selection = selection_summary(anns, resp_a, resp_b, n or None, ids, filters)
        excluded = {k: selection[k] for k in ("no_annotations", "no_response_a", "no_response_b")}
        excluded_text = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in excluded.items() if v)
        if not ids:
            fail(
                "no item has annotations and a response from both models (check ids and --where)"
                + (f"; left out: {excluded_text}" if excluded_text else "")
            )
        report = analyze_perception(
            anns, {name_a: resp_a, name_b: resp_b}, ids, lambda: build_judge(cfg), threshold, method
        )
        report.selection = selection
    except (UnknownNameError, ValueError) as exc:
        fail(str(exc))
    reasons = {name: counts for name, counts in report.failure_reasons().items() if counts}
    reason_text = "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in c.items()) for name, c in reasons.items())
    if report.test["n_pairs"] == 0:  # a p-value from zero judged pairs would be meaningless
        fail(f"no item could be judged for both models (judge failures: {reason_text or 'none'})")
    if reasons:
        typer.echo(f"judge failures (items left out of the test): {reason_text}", err=True)
    if excluded_text:
        typer.echo(f"left out of the selection: {excluded_text}", err=True)
    try:
        # Judgments carry the judge's error texts, which may quote our key back (perception_r1.redact).
        analysis = redact_obj({**report.to_json(), "excluded": excluded})
        atomic_write_json(output_dir / "perception_analysis.json", analysis)
        atomic_write_text(output_dir / "report.md", markdown_report(report, anns))
    except OSError as exc:  # -o names a file, or an unwritable place
        fail(f"cannot write the report into {output_dir}: {exc}")
    t = report.test
    typer.echo(selection_note(selection))
    typer.echo(f"{len(ids)} items; {name_a} only: {t['b']}, {name_b} only: {t['c']}; p = {t['p_value']:.4g}")
    typer.echo(f"wrote {output_dir}/report.md and perception_analysis.json")


@app.command("experiments")
def experiments_cmd(
    folders: list[Path] = typer.Argument(..., help="Two or more `perception-r1 experiment` output folders."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Also write the pooled result as JSON here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of Markdown tables."),
) -> None:
    """Pool independent experiment runs: arm differences at run level (mean over each run's seeds, t-interval over
    runs); the McNemar counts summed over every (run, seed) come labelled as pseudo-replicated."""
    from perception_r1.experiment.pool import load_summaries, pool_summaries, pooled_markdown
    from perception_r1.io_utils import atomic_write_json

    try:
        pooled = pool_summaries(load_summaries(folders))
    except ValueError as exc:
        fail(str(exc))
    if output is not None:
        try:
            atomic_write_json(output, pooled)
        except OSError as exc:
            fail(f"cannot write {output}: {exc}")
    typer.echo(json.dumps(pooled, indent=2) if as_json else pooled_markdown(pooled), nl=not as_json)
