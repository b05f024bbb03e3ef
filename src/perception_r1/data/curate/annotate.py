"""``data annotate``: a text LLM turns each kept CoT into short, atomic statements of what the figure shows.

The annotator sees only the CoT text (as in the paper). It is asked for given lengths and angles, labels,
parallel / perpendicular / tangent / midpoint relations and shapes - not derived results or reasoning steps -
one per ``<infoN>`` tag. Parsing is lenient (prose around the tags is ignored; a plain bulleted or numbered
list is accepted too); a reply with no item is re-asked ``invalid_retries`` times, then the item is rejected.

Each statement is then cleaned: empty items, duplicates (case- and space-insensitive) and non-visual items
(reasoning cues such as "therefore", "so", "we get", "by the ... theorem", or longer than ``max_words``) are
dropped, each with a recorded reason. An item left without statements is rejected.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from perception_r1.config import option
from perception_r1.data.curate.common import StepResult, reject, run_requests
from perception_r1.key_info import INFO_TAG
from perception_r1.llm.client import ChatRequest
from perception_r1.llm.config import LLMConfig

PROMPT_VERSION = "annotate-v1"

INSTRUCTION = """You extract visual facts from a worked solution of a geometry problem.
List every fact about the FIGURE that the solution reads from it: given lengths and angle measures, point \
labels, parallel, perpendicular, tangent and midpoint relations, and shapes. Each fact must be short and atomic \
(one relation each) and copy the solution's notation. Do NOT list results the solution computes, reasoning \
steps, formulas or the final answer.
Answer only with the facts, one per tag: <info1>...</info1>, <info2>...</info2>, and so on.

Example solution:
<think>
From the figure, AB = 6 and angle ABC = 90°. D is the midpoint of AC and DE ∥ BC. By the Pythagorean theorem \
AC = 10, so AD = 5.
</think>
<answer>
\\boxed{5}
</answer>
Example facts:
<info1>AB = 6</info1>
<info2>angle ABC = 90°</info2>
<info3>D is the midpoint of AC</info3>
<info4>DE ∥ BC</info4>

Solution:
"""

_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$", re.MULTILINE)
_REASONING = re.compile(
    r"\b(?:therefore|thus|hence|so|because|since|implies|we (?:get|have|find|know|can)|by the|theorem|formula|"
    r"answer|solve|compute|calculate|substitut\w*)\b",
    re.IGNORECASE,
)


@dataclass
class AnnotateOptions:
    """Options of the annotation step."""

    max_tokens: int = option(512, "maximum tokens of the annotator's reply")
    invalid_retries: int = option(2, "re-asks of a reply without any parseable fact")
    max_words: int = option(25, "statements longer than this are dropped as non-atomic")
    batch_size: int = option(128, "requests per batch (progress granularity; each reply is cached as it arrives)")

    def __post_init__(self) -> None:
        for name, low in (("max_tokens", 1), ("invalid_retries", 0), ("max_words", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def parse_annotation_reply(text: str) -> list[str]:
    """Statements from an annotator reply: ``<infoN>`` tags in number order, else a bulleted/numbered list.

    Raises:
        ValueError: when the reply holds neither.
    """
    tagged = sorted(((int(m.group(1)), m.group(2)) for m in INFO_TAG.finditer(text)), key=lambda t: t[0])
    if tagged:
        return [" ".join(body.split()) for _, body in tagged]
    listed = [" ".join(m.group(1).split()) for m in _LIST_ITEM.finditer(text)]
    if listed:
        return listed
    raise ValueError("no <infoN> tags and no list items in the reply")


def clean_annotations(items: list[str], max_words: int = 25) -> tuple[list[str], list[tuple[str, str]]]:
    """Drop empty, duplicate and non-visual statements.

    Returns:
        ``(kept, dropped)`` where ``dropped`` holds ``(statement, reason)`` pairs.
    """
    kept, dropped, seen = [], [], set()
    for item in items:
        text = " ".join(item.split()).strip(" .;")
        key = text.casefold()
        if not text:
            dropped.append((item, "empty"))
        elif key in seen:
            dropped.append((text, "duplicate"))
        elif _REASONING.search(text) or len(text.split()) > max_words:
            dropped.append((text, "non-visual (reasoning or not atomic)"))
        else:
            seen.add(key)
            kept.append(text)
    return kept, dropped


def _accept(_request: ChatRequest, text: str) -> str | None:
    try:
        parse_annotation_reply(text)
    except ValueError as exc:
        return str(exc)
    return None


def annotate(rows: list[dict[str, Any]], annotator: LLMConfig, opts: AnnotateOptions | None = None) -> StepResult:
    """Extract ``visual_annotations`` from each row's ``cot``.

    Args:
        rows: Rows with a ``cot`` (from :func:`perception_r1.data.curate.filtering.filter_trajectories`).
        annotator: The annotator's LLM configuration (a text LLM; temperature 0 recommended).
        opts: Step options.

    Returns:
        Rows with ``visual_annotations`` set; rejects list rejected items and, with ``stage="annotate-item"``,
        every dropped statement; the summary holds the annotations-per-item histogram.
    """
    opts = opts or AnnotateOptions()
    rejects, ready, requests = [], [], []
    for row in rows:
        if not (row.get("cot") or "").strip():
            rejects.append(reject(row, "annotate", "missing cot: run 'data filter' first"))
            continue
        ready.append(row)
        requests.append(
            ChatRequest.user(INSTRUCTION + row["cot"], prompt_version=PROMPT_VERSION, max_tokens=opts.max_tokens)
        )
    results, stats = run_requests(
        annotator, requests, accept=_accept, invalid_retries=opts.invalid_retries, batch_size=opts.batch_size,
        desc="annotate",
    )  # fmt: skip
    out, drops = [], Counter[str]()
    for row, result in zip(ready, results, strict=True):
        if not result.ok:
            rejects.append(reject(row, "annotate", f"annotator failed: {result.error}"))
            continue
        kept, dropped = clean_annotations(parse_annotation_reply(result.text or ""), opts.max_words)
        for text, why in dropped:
            drops[why] += 1
            rejects.append({"id": row.get("id"), "stage": "annotate-item", "reason": why, "annotation": text})
        if not kept:
            rejects.append(reject(row, "annotate", "no visual statement left after cleaning"))
            continue
        out.append({**row, "visual_annotations": kept})
    histogram = Counter(len(r["visual_annotations"]) for r in out)
    summary = {
        "input": len(rows),
        "output": len(out),
        "rejected": sum(1 for r in rejects if r["stage"] == "annotate"),
        "dropped_statements": dict(drops),
        "annotations_per_item": {str(k): histogram[k] for k in sorted(histogram)},
        "llm": stats,
    }
    return StepResult(out, rejects, summary)
