"""Evaluation runner: generate (resumably), extract, score, summarise; and rescoring from stored generations.

Output folder layout (``-o DIR``)::

    run.json                    model, backend and generation settings (a resumed run must match them)
    generations/<bench>.jsonl   one line per item: id, prompt, response, error (the resumable cache)
    items/<bench>.jsonl         scored records: id, benchmark, prompt, response, extracted, extraction, gold,
                                choices, correct, graded_by, error, metadata
    summary.json                per-benchmark summaries (:mod:`perception_r1.eval.metrics`); ``scoring`` names
                                the scoring mode (``official`` or ``corrected``, :mod:`perception_r1.eval.scoring`)
    breakdowns.md               the official breakdowns as tables (WeMath IK/IG/CM/RM too)
    table.md, chart.png         written by :mod:`perception_r1.eval.report`
    llm_cache.sqlite            replies of the optional LLM extraction/grading (unless ``llm.client.cache_path``)

A generation is reused when its stored prompt equals the current one and it has a response; anything else (new
items, changed prompts, earlier errors) is generated again. The cache is rewritten atomically after each chunk
(``chunk_size`` prompts per backend call), so an interrupted run loses at most one chunk. ``shard: I/N`` evaluates
every N-th item (data parallelism: :mod:`perception_r1.eval.shards`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.config import option
from perception_r1.eval import llm_grading
from perception_r1.eval.benchmarks import Benchmark, get_benchmark, parse_benchmark_list
from perception_r1.eval.data import EvalItem, iter_items, load_images
from perception_r1.eval.extract import extract_answer
from perception_r1.eval.generation import GENERATORS, Generation, GenRequest
from perception_r1.eval.metrics import summarize
from perception_r1.eval.official import OfficialState, score_official
from perception_r1.eval.prompts import build_prompt
from perception_r1.eval.scoring import check_mode, score_item
from perception_r1.eval.shards import GENERATION_KEYS, merge_items, parse_shard, shard_of
from perception_r1.folder_lock import claims_output_folder
from perception_r1.io_utils import JsonlError, atomic_write_json, atomic_write_jsonl, atomic_write_text, iter_jsonl
from perception_r1.redact import redact
from perception_r1.rewards.answer import choice_map
from perception_r1.templates import load_format_template

logger = logging.getLogger(__name__)

LLM_CACHE_NAME = "llm_cache.sqlite"  # the LLM stages' reply cache in the output folder (llm_grading.build_stages)


@dataclass
class EvalConfig:
    """Settings of ``perception-r1 eval``."""

    model: str = option(help="model folder (transformers/vllm) or model name (openai)")
    benchmarks: str = option("all", "comma-separated benchmark names, or 'all'")
    output_dir: str = option("eval_out", "output folder (resumable)")
    backend: str = option("transformers", "generation backend: transformers, vllm or openai")
    model_name: str | None = option(None, "label of the model in tables (default: the model folder's name)")
    limit: int | None = option(None, "evaluate only the first N items of each subset")
    data_dir: str | None = option(None, "folder with local copies of the benchmarks (None: the hub)")
    batch_size: int = option(8, "prompts per forward batch (transformers backend)")
    chunk_size: int | None = option(
        None,
        "prompts handed to the backend per call, each call's generations saved before the next (None: the "
        "backend's default: 4 x batch_size for transformers, 256 for openai, 1024 for vllm; 0: the whole benchmark)",
    )
    shard: str | None = option(
        None, "I/N: evaluate every N-th item of each benchmark from item I (one process per GPU; eval merge joins)"
    )
    max_new_tokens: int = option(4096, "generation budget per response (the paper used 4096)")
    backend_options: dict[str, Any] = option(factory=dict, help="extra keyword arguments of the backend")
    llm: llm_grading.LLMGradingConfig = option(factory=llm_grading.LLMGradingConfig, help="optional LLM stages")
    prompt_template: str | None = option(
        None, "format template file ({question} + instruction; see perception_r1.templates); None: built-in format-v1"
    )
    scoring: str = option(
        "official",
        "scoring mode: 'official' reproduces each benchmark's official rule scorer (comparable with published "
        "tables); 'corrected' applies the project's fixes (docs/eval-scoring.md)",
    )
    max_image_pixels: int | None = option(
        None,
        "an item with an image of more pixels is an error item (decompression bombs); None: "
        "$PERCEPTION_R1_MAX_IMAGE_PIXELS or 64,000,000 (perception_r1.images)",
    )


def _generation_key(cfg: EvalConfig) -> dict[str, Any]:
    return {key: getattr(cfg, key) for key in GENERATION_KEYS}


def _check_run_file(out: Path, cfg: EvalConfig) -> None:
    """Refuse to mix generations of different models or settings in one folder."""
    run_file = out / "run.json"
    key = _generation_key(cfg)
    if run_file.is_file():
        import json

        stored = json.loads(run_file.read_text(encoding="utf-8"))
        diff = {k: (stored.get(k), v) for k, v in key.items() if stored.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: stored {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"{out} holds generations made with other settings ({detail}); use another -o folder")
    atomic_write_json(run_file, {**key, "model_name": model_label(cfg)})


def model_label(cfg: EvalConfig) -> str:
    """The model's label in tables: ``model_name`` or the last part of ``model``."""
    return cfg.model_name or Path(cfg.model.rstrip("/")).name or cfg.model


def load_generations(path: Path) -> dict[str, dict[str, Any]]:
    """Stored generations by id; a torn or malformed line (interrupted write) is skipped with a warning."""
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    for _, row in iter_jsonl(path):
        if isinstance(row, JsonlError):
            logger.warning("skipping %s", row)
            continue
        out[str(row.get("id"))] = row
    return out


def _generate_chunk(
    items: Sequence[EvalItem],
    prompts: dict[str, str],
    get_generator: Callable[[], Any],
    max_image_pixels: int | None = None,
) -> list[dict[str, Any]]:
    """Generate for ``items``; an item whose images fail to load (undecodable, over ``max_image_pixels``, a
    decompression bomb) gets an error entry and is not sent (and when no item is left, no model is loaded); an
    item the backend fails on gets an error entry too (:func:`_generate_isolated`)."""
    entries: dict[str, dict[str, Any]] = {}
    ready: list[tuple[EvalItem, GenRequest]] = []
    for item in items:
        try:
            ready.append((item, GenRequest(prompts[item.id], load_images(item, max_image_pixels))))
        except ValueError as exc:
            entries[item.id] = {"id": item.id, "prompt": prompts[item.id], "response": None, "error": f"image: {exc}"}
    if ready:
        results = _generate_isolated(get_generator(), [r for _, r in ready])
        for (item, _), gen in zip(ready, results, strict=True):
            entries[item.id] = {"id": item.id, "prompt": prompts[item.id], "response": gen.text, "error": gen.error}
    return [entries[i.id] for i in items]


# What a generation backend raises for one bad input (a processor's checks, a tokenizer's limits). A RuntimeError
# (out of memory, a dead device, an interrupted engine) is the run's failure, not an item's: it still stops the run.
_GENERATION_ERRORS = (ValueError,)


def _generate_isolated(generator: Any, requests: list[GenRequest]) -> list[Generation]:
    """``generator.generate(requests)``; when the batch raises, its halves are generated apart, down to single
    requests, so that one bad request becomes its own error and the others are still answered.

    Returns:
        One :class:`Generation` per request; a request that fails alone carries ``"generation: <Type>: <why>"``.
    """
    try:
        return list(generator.generate(requests))
    except _GENERATION_ERRORS as exc:
        if len(requests) == 1:
            logger.warning("generation failed for one item: %s: %s", type(exc).__name__, exc)
            return [Generation(None, f"generation: {type(exc).__name__}: {str(exc)[:300]}")]
        middle = len(requests) // 2
        return _generate_isolated(generator, requests[:middle]) + _generate_isolated(generator, requests[middle:])


def generate_benchmark(
    bench: Benchmark,
    items: list[EvalItem],
    out: Path,
    get_generator: Callable[[], Any],
    chunk: int,
    template: Any = None,
    max_image_pixels: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Bring ``generations/<bench>.jsonl`` up to date for ``items``; returns the generations by id.

    ``template`` is the run's :class:`perception_r1.templates.FormatTemplate` (None: the built-in one); a stored
    generation whose prompt differs from the current one is generated again. ``max_image_pixels``: see
    :class:`EvalConfig`.
    """
    path = out / "generations" / f"{bench.name}.jsonl"
    cache = load_generations(path)
    prompts = {item.id: build_prompt(item, template=template) for item in items}
    todo = [
        i
        for i in items
        if not (
            i.id in cache and cache[i.id].get("prompt") == prompts[i.id] and cache[i.id].get("response") is not None
        )
    ]
    logger.info("%s: %d items, %d cached, %d to generate", bench.name, len(items), len(items) - len(todo), len(todo))
    for start in range(0, len(todo), chunk):
        for entry in _generate_chunk(todo[start : start + chunk], prompts, get_generator, max_image_pixels):
            cache[entry["id"]] = {**entry, "error": redact(entry["error"]) if entry.get("error") else None}
        atomic_write_jsonl(path, cache.values())
    return cache


def make_record(item: EvalItem, gen: dict[str, Any]) -> dict[str, Any]:
    """The per-item record (unscored) from an item and its generation entry."""
    return {
        "id": item.id,
        "benchmark": item.benchmark,
        "prompt": gen.get("prompt"),
        "response": gen.get("response"),
        "extracted": None,
        "extraction": None,
        "gold": item.gold,
        "choices": item.choices,
        "correct": None,
        "graded_by": None,
        "error": redact(gen["error"]) if gen.get("error") else None,  # a server may quote our key back
        "metadata": item.metadata,
    }


def score_records(
    bench: Benchmark, records: list[dict[str, Any]], checker: Any, llm: Any = None, scoring: str = "official"
) -> None:
    """Fill ``extracted``, ``extraction``, ``correct`` and ``graded_by`` in place (error records stay unscored).

    Args:
        llm: An :class:`perception_r1.eval.llm_grading.LLMStages` for the optional extraction fallback and
            LLM grading, or ``None`` for rule-based extraction and scoring only.
        scoring: ``official``: each benchmark's official rule scorer on the raw response (``extraction`` is
            ``"official"``; the LLM extraction fallback does not apply, LLM grading still may); ``corrected``: the
            project's extraction and scorers.

    Raises:
        ValueError: for an unknown scoring mode.
    """
    check_mode(scoring)
    live = [r for r in records if not r.get("error")]
    for rec in records:
        if rec.get("error"):
            rec.update(extracted=None, extraction=None, correct=None, graded_by=None)
    if scoring == "official":
        state = OfficialState()  # one per run: MMMU's random fallback draws in item order from seed 42
        for rec in live:
            pred, correct = score_official(
                bench.name,
                rec.get("response"),
                rec["gold"],
                choice_map(rec.get("choices")),  # stored choices may be a list
                rec.get("metadata") or {},
                state,
            )
            rec.update(extracted=pred, extraction="official", correct=correct, graded_by="rule")
        if llm is not None:
            if getattr(llm.cfg, "extract", False):
                logger.warning("%s: the LLM extraction fallback does not apply to official scoring", bench.name)
            llm.grade(live)
        return
    for rec in live:
        rec["extracted"], rec["extraction"] = extract_answer(rec.get("response"))
    if llm is not None:
        llm.extract_missing(live)
    for rec in live:
        rec["correct"] = score_item(
            bench.scorer, rec["extracted"], rec["gold"], rec.get("choices") or {}, rec.get("metadata") or {}, checker
        )
        rec["graded_by"] = "rule"
    if llm is not None:
        llm.grade(live)


@dataclass
class RunResult:
    """What a run produced: summaries by benchmark and the output folder."""

    output_dir: Path
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)


def _write_outputs(
    out: Path, label: str, model: str, summaries: dict[str, dict[str, Any]], scoring: str = "official"
) -> None:
    from perception_r1.eval.report import breakdown_markdown, write_reports

    summary = {"model_name": label, "model": model, "scoring": scoring, "benchmarks": summaries}
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "breakdowns.md", breakdown_markdown(summary))
    write_reports([out], out)


def _check_settings(cfg: EvalConfig, checker: Any = None, generator: Any = None) -> None:
    """Fail fast (before the output folder is touched) on an unknown scoring mode, benchmark, shard, chunk size
    or backend."""
    check_mode(cfg.scoring)
    parse_benchmark_list(cfg.benchmarks)
    if cfg.shard:
        parse_shard(cfg.shard)
    if cfg.chunk_size is not None and cfg.chunk_size < 0:
        raise ValueError(f"chunk_size must be >= 0 (0: the whole benchmark per call), got {cfg.chunk_size}")
    if generator is None:
        GENERATORS.get(cfg.backend)


@claims_output_folder("eval", lambda cfg, *args, **kwargs: cfg.output_dir, check=_check_settings)
def run_eval(cfg: EvalConfig, checker: Any = None, generator: Any = None) -> RunResult:
    """Evaluate ``cfg.model`` on ``cfg.benchmarks`` and write every output (see the module docstring).

    The output folder is checked for writability and held for the call (one writer per folder, see
    :mod:`perception_r1.folder_lock`), so the settings guard (``run.json``) is checked and written by one process.

    Args:
        checker: A :class:`~perception_r1.rewards.mathcheck.MathChecker` (default: a process-isolated one).
        generator: A ready generator (tests); by default one is built from ``cfg.backend`` on first need, so a
            fully cached rerun loads no model.

    Raises:
        perception_r1.registry.UnknownNameError: unknown benchmark or backend (lists the known ones).
        ValueError: bad data rows, duplicate ids, or an output folder made with other settings.
        FolderBusyError: another command writes into the output folder.
    """
    benches = parse_benchmark_list(cfg.benchmarks)  # checked (with the rest) before the folder was claimed
    shard = parse_shard(cfg.shard) if cfg.shard else None
    out = Path(cfg.output_dir)
    _check_run_file(out, cfg)
    holder: list[Any] = [generator] if generator is not None else []

    def get_generator() -> Any:
        if not holder:
            factory = GENERATORS.get(cfg.backend)
            options = dict(cfg.backend_options)
            if getattr(factory, "uses_llm_cache", False):  # replies durable as they arrive (openai backend)
                options.setdefault("cache_path", str(out / LLM_CACHE_NAME))
            holder.append(
                factory(model=cfg.model, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size, **options)
            )
        return holder[0]

    template = load_format_template(cfg.prompt_template, "prompt_template") if cfg.prompt_template else None
    checker = checker or _default_checker()
    llm = llm_grading.build_stages(cfg.llm, default_cache=out / LLM_CACHE_NAME)
    summaries: dict[str, dict[str, Any]] = {}
    for bench in benches:
        items = list(iter_items(bench, cfg.data_dir, cfg.limit))
        _check_unique(bench, items)
        items = shard_of(items, shard)
        gens = generate_benchmark(
            bench, items, out, get_generator, generation_chunk(cfg, len(items)), template, cfg.max_image_pixels
        )
        records = [make_record(item, gens[item.id]) for item in items]
        score_records(bench, records, checker, llm, cfg.scoring)
        atomic_write_jsonl(out / "items" / f"{bench.name}.jsonl", records)
        summaries[bench.name] = summarize(bench, records, cfg.scoring)
    previous = _previous_summaries(out, cfg.scoring)
    _write_outputs(out, model_label(cfg), cfg.model, {**previous, **summaries}, cfg.scoring)
    return RunResult(out, summaries)


def generation_chunk(cfg: EvalConfig, n_items: int) -> int:
    """Prompts per generator call: ``chunk_size`` (0: all ``n_items``), else the backend class's ``default_chunk``
    (vLLM schedules a large list itself, so Python-side batching must not starve it), else 4 x ``batch_size``."""
    if cfg.chunk_size == 0:
        return max(n_items, 1)
    if cfg.chunk_size:
        return cfg.chunk_size
    default = getattr(GENERATORS.get(cfg.backend), "default_chunk", None)
    return int(default) if default else max(cfg.batch_size, 1) * 4


def _check_unique(bench: Benchmark, items: list[EvalItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"{bench.name}: duplicate item id {item.id!r}")
        seen.add(item.id)


def _previous_summaries(out: Path, scoring: str = "official") -> dict[str, dict[str, Any]]:
    """Summaries of benchmarks evaluated earlier into the same folder (kept when a run adds benchmarks), when they
    were scored in the same mode (a summary made in another mode would mix modes in one table; rescore instead)."""
    import json

    path = out / "summary.json"
    if not path.is_file():
        return {}
    kept = json.loads(path.read_text(encoding="utf-8")).get("benchmarks", {})
    return {b: s for b, s in kept.items() if s.get("scoring", "corrected") == scoring}


def _default_checker() -> Any:
    from perception_r1.rewards.mathcheck import MathChecker

    return MathChecker()


def _check_record(row: dict[str, Any], path: Path, line_no: int) -> None:
    """A stored record must have the fields scoring reads, with their types; raise naming the file and line."""
    if "gold" not in row:
        raise ValueError(f"{path}:{line_no}: record has no 'gold' field")
    response = row.get("response")
    if response is not None and not isinstance(response, str):
        raise ValueError(f"{path}:{line_no}: 'response' must be a string or null, got {type(response).__name__}")
    for key in ("choices", "metadata"):
        if row.get(key) is not None and not isinstance(row[key], (dict, list)):
            raise ValueError(f"{path}:{line_no}: {key!r} must be an object or a list, got {type(row[key]).__name__}")


@claims_output_folder("eval rescore", lambda output_dir, *args, **kwargs: output_dir, create=False)
def rescore(
    output_dir: str | Path, checker: Any = None, llm_config: Any = None, scoring: str = "official"
) -> RunResult:
    """Recompute extraction, scores, summaries and reports from ``items/*.jsonl`` without loading any model.

    Args:
        scoring: Scoring mode (``official`` or ``corrected``); rescoring switches a folder between them.

    Raises:
        FileNotFoundError: when the folder has no ``items/*.jsonl``.
        ValueError: for a malformed record line (file and line named) or an unknown scoring mode.
    """
    import json

    check_mode(scoring)
    out = Path(output_dir)
    files = sorted((out / "items").glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"{out}: no items/*.jsonl to rescore (run `perception-r1 eval` first)")
    checker = checker or _default_checker()
    llm = llm_grading.build_stages(llm_config, default_cache=out / LLM_CACHE_NAME) if llm_config is not None else None
    summaries: dict[str, dict[str, Any]] = {}
    for path in files:
        bench = get_benchmark(path.stem)
        records = []
        for line_no, row in iter_jsonl(path):
            if isinstance(row, JsonlError):
                raise ValueError(str(row))
            _check_record(row, path, line_no)
            records.append(row)
        score_records(bench, records, checker, llm, scoring)
        atomic_write_jsonl(path, records)
        summaries[bench.name] = summarize(bench, records, scoring)
    run = json.loads((out / "run.json").read_text(encoding="utf-8")) if (out / "run.json").is_file() else {}
    _write_outputs(out, run.get("model_name") or out.name, run.get("model", ""), summaries, scoring)
    return RunResult(out, summaries)


def merge_runs(shard_dirs: Sequence[str | Path], out_dir: str | Path, scoring: str | None = None) -> RunResult:
    """Combine the shard folders of one evaluation (``eval --shard I/N``) into ``out_dir`` and score it as one run.

    The records are concatenated by :func:`perception_r1.eval.shards.merge_items` (which checks that the shards
    belong together), then :func:`rescore` recomputes scores, summaries, tables and charts in ``scoring`` mode
    (None: the shards' own mode, which must agree).

    Raises:
        ValueError, FileNotFoundError: see :func:`perception_r1.eval.shards.merge_items`.
    """
    return rescore(out_dir, scoring=merge_items(shard_dirs, out_dir, scoring))
