"""Shared plumbing of the curation steps: step results, batched LLM calls with progress, step outputs.

Every LLM call goes through :class:`perception_r1.llm.client.LLMClient`, whose SQLite cache (``cache_path`` of
the :class:`~perception_r1.llm.config.LLMConfig`; the ``data`` commands default it to the step's output folder,
``data build`` to ``OUT/cache/``) keeps every finished call as soon as its reply arrives: an accepted reply, or a
rejected one as a spent re-asking round. A killed or interrupted run therefore loses at most the calls in flight;
rerunning it serves every finished call from the cache, resumes the re-asking where it stopped and, because
requests are built deterministically from the rows, produces identical output
(``tests/data/test_curate.py::test_a_killed_step_repeats_only_the_calls_in_flight``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.io_utils import atomic_write_json, atomic_write_jsonl
from perception_r1.llm.client import ChatRequest, ChatResult, sync_client
from perception_r1.llm.config import LLMConfig
from perception_r1.redact import redact_obj


@dataclass
class StepResult:
    """Output of one curation step.

    Attributes:
        rows: The rows passed on (schema rows plus step columns).
        rejects: ``{"id", "stage", "reason"}`` per rejected item (or dropped annotation, ``stage="annotate-item"``).
        summary: Counts and statistics of the step (JSON-serialisable).
    """

    rows: list[dict[str, Any]]
    rejects: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def reject(row: dict[str, Any], stage: str, reason: str) -> dict[str, Any]:
    """A rejects-file record."""
    return {"id": row.get("id"), "stage": stage, "reason": reason}


def reason_counts(rejects: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Rejects per reason, with numbers and quoted details cut so that similar reasons group together."""
    return dict(Counter(r["reason"].split(":")[0] for r in rejects).most_common())


def run_requests(
    cfg: LLMConfig,
    requests: Sequence[ChatRequest],
    *,
    accept: Callable[[ChatRequest, str], str | None] | None = None,
    invalid_retries: int = 0,
    retry_temperature: float | None = None,
    batch_size: int = 128,
    desc: str = "llm",
) -> tuple[list[ChatResult], dict[str, Any]]:
    """Send ``requests`` through a cached client in batches, with a progress bar (rate and ETA).

    Args:
        cfg: The LLM configuration; set ``cache_path`` for resumable runs.
        requests: The requests, in a deterministic order.
        accept: Reply validator (None accepts; a string rejects with that reason and re-asks).
        invalid_retries: Re-asks of a rejected reply.
        retry_temperature: Temperature of the re-asks.
        batch_size: Requests per batch (progress granularity): each accepted reply is cached as it arrives.
        desc: Progress bar label.

    Returns:
        One result per request, and the client's counters (requests, cache hits, sent, rejected, failed) plus
        ``reply_chars`` (total characters of accepted replies; the client layer does not report tokens).
    """
    from tqdm.auto import tqdm

    results: list[ChatResult] = []
    # generate_sync runs on the LLM layer's shared loop: works from scripts, notebooks and threads alike
    with sync_client(cfg) as client, tqdm(total=len(requests), desc=desc, unit="req", dynamic_ncols=True) as bar:
        for start in range(0, len(requests), batch_size):
            chunk = list(requests[start : start + batch_size])
            results += client.generate_sync(
                chunk, accept=accept, invalid_retries=invalid_retries, retry_temperature=retry_temperature
            )
            bar.update(len(chunk))
        stats = dataclasses.asdict(client.stats)
    stats["reply_chars"] = sum(len(r.text or "") for r in results if r.ok)
    return results, stats


def write_step(out_dir: str | Path, result: StepResult, *, fmt: str = "parquet") -> dict[str, str]:
    """Write a step's rows (``data.parquet`` or a ``data/`` datasets folder), ``rejects.jsonl``, ``summary.json``.

    Returns:
        The paths written, by kind.
    """
    from perception_r1.data.io import write_examples

    out = Path(out_dir)
    data_path = out / ("data.parquet" if fmt == "parquet" else "data")
    write_examples(result.rows, data_path)
    # Reject reasons and failure counts quote LLM error texts: redacted again here as a defence (perception_r1.redact).
    atomic_write_jsonl(out / "rejects.jsonl", redact_obj(result.rejects))
    atomic_write_json(out / "summary.json", redact_obj(result.summary))
    return {"data": str(data_path), "rejects": str(out / "rejects.jsonl"), "summary": str(out / "summary.json")}
