"""Optional LLM stages of evaluation, as the paper's reference evaluation used them
(docs/reference.md#reference-evaluation):

* extraction fallback: when the rules find no final answer, an LLM is asked to extract it;
* grading: an LLM decides whether the extracted answer matches the gold answer (the paper used
  Qwen2.5-72B-Instruct). A failed or unreadable verdict keeps the rule-based verdict and is counted
  (``graded_by = "rule_fallback"``), never turned into a silent "wrong".

Both go through the LLM client layer (:mod:`perception_r1.llm`): any OpenAI-compatible server, with retries and
a SQLite cache of the replies (by default ``llm_cache.sqlite`` in the evaluation folder).

Protocols. ``rule`` (the default): rule extraction and rule scoring, no LLM. ``paper``: the paper's evaluation
protocol, one switch (``llm: {protocol: paper, client: {base_url: ..., model: ...}}`` in an evaluation config):
the ``<answer>`` block when present, else LLM extraction, then an LLM true/false match against the gold answer;
any OpenAI-compatible grader works (the paper used Qwen2.5-72B-Instruct). Which protocol produced a column is
read back from the stored items (``graded_by``, ``extraction``) by :func:`protocol_of_records`, and ``eval table``
prints it next to the paper's Table 1 rows.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import option
from perception_r1.eval.extract import llm_extract
from perception_r1.llm.config import LLMConfig

GRADE_PROMPT = (
    "Decide whether a model's final answer to a question matches the ground-truth answer. Equivalent forms count "
    "as a match (2/4 and 0.5; an option letter and that option's text). Reply with exactly one word: yes or no."
    "\n\nQuestion:\n{question}\n\nGround truth: {gold}\nModel answer: {answer}"
)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


PROTOCOLS: dict[str, str] = {
    "rule": "rule extraction and rule scoring",
    "paper": "answer block, else LLM extraction; LLM true/false grading (the paper's protocol)",
}
PAPER_ROWS_PROTOCOL = "paper: answer block, else LLM extraction; true/false grading by Qwen2.5-72B-Instruct"


@dataclass
class LLMGradingConfig:
    """Which LLM stages run, and the LLM that runs them."""

    extract: bool = option(False, "ask the LLM for the final answer when the rules find none")
    grade: bool = option(False, "let the LLM decide correctness (the paper's evaluation); rules are the fallback")
    client: LLMConfig = option(factory=LLMConfig, help="LLM endpoint (perception_r1.llm.config.LLMConfig)")
    protocol: str | None = option(
        None, "one switch: 'paper' turns on extraction and grading (the paper's protocol), 'rule' turns both off"
    )

    def __post_init__(self) -> None:
        if self.protocol is None:
            return
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"llm.protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        self.extract = self.grade = self.protocol == "paper"


def protocol_of_records(records: list[dict[str, Any]]) -> str | None:
    """Which protocol scored ``records`` (stored items of one benchmark), as a short label.

    Returns:
        ``"rule"``, ``"paper"`` (LLM-graded; with the number of rule fallbacks when some verdicts were not the
        LLM's), or None when no record was scored.
    """
    graded = [r.get("graded_by") for r in records if r.get("graded_by")]
    if not graded:
        return None
    llm = sum(1 for g in graded if g == "llm")
    fallback = sum(1 for g in graded if g == "rule_fallback")
    if not llm and not fallback:
        return "rule"
    return "paper" if not fallback else f"paper ({fallback} of {len(graded)} rule fallbacks)"


def run_protocols(run_dir: str | Path) -> dict[str, str]:
    """Benchmark -> protocol label of an evaluation folder, read from ``items/<bench>.jsonl`` (missing: skipped)."""
    from perception_r1.io_utils import iter_jsonl

    out: dict[str, str] = {}
    for path in sorted((Path(run_dir) / "items").glob("*.jsonl")):
        # Bounded reading; a malformed or oversized line has no protocol to tell (rescore names it).
        records = [row for _, row in iter_jsonl(path) if isinstance(row, dict)]
        label = protocol_of_records(records)
        if label is not None:
            out[path.stem] = label
    return out


def protocols_note(summaries: list[dict[str, Any]], with_paper: bool) -> str:
    """The Markdown line naming the protocol of every model's columns (``summary["protocols"]``) and the paper's."""
    parts = []
    for s in summaries:
        labels = s.get("protocols") or {}
        distinct = sorted(set(labels.values()))
        if len(distinct) == 1:
            parts.append(f"{s['model_name']}: {distinct[0]} (all columns)")
        elif distinct:
            parts.append(f"{s['model_name']}: " + ", ".join(f"{b} {p}" for b, p in labels.items()))
        else:
            parts.append(f"{s['model_name']}: unknown")
    if with_paper:
        parts.append(f"paper rows: {PAPER_ROWS_PROTOCOL}")
    return "Protocol (rule = " + PROTOCOLS["rule"] + "): " + "; ".join(parts) + "."


def parse_yes_no(text: str | None) -> bool | None:
    """``True`` for a reply starting with yes, ``False`` for no, ``None`` otherwise."""
    m = _YES_NO.match(text or "")
    return None if m is None else m.group(1).lower() == "yes"


class LLMStages:
    """Runs the enabled stages on lists of records (dicts, modified in place)."""

    def __init__(self, cfg: LLMGradingConfig) -> None:
        self.cfg = cfg

    def _client(self) -> Any:
        """A client for one stage, used synchronously and closed at the end of the ``with`` block."""
        from perception_r1.llm.client import sync_client

        return sync_client(self.cfg.client)

    def extract_missing(self, records: list[dict[str, Any]]) -> None:
        """Fill ``extracted`` (``extraction = "llm"``) where the rules found nothing."""
        if not self.cfg.extract:
            return
        todo = [r for r in records if r.get("extracted") is None and r.get("response")]
        if not todo:
            return
        with self._client() as client:
            answers = llm_extract(client, [(r.get("prompt") or "", r["response"]) for r in todo])
        for rec, ans in zip(todo, answers, strict=True):
            if ans is not None:
                rec["extracted"], rec["extraction"] = ans, "llm"

    def grade(self, records: list[dict[str, Any]]) -> None:
        """Replace rule verdicts with LLM verdicts; keep the rule verdict where the LLM gave none."""
        if not self.cfg.grade:
            return
        from perception_r1.llm.client import ChatRequest

        todo = [r for r in records if r.get("extracted") is not None]
        requests = [
            ChatRequest.user(GRADE_PROMPT.format(question=r.get("prompt") or "", gold=_gold(r), answer=r["extracted"]))
            for r in todo
        ]
        results: list[Any] = []
        if requests:
            with self._client() as client:
                results = client.generate_sync(requests)
        for rec, res in zip(todo, results, strict=True):
            verdict = parse_yes_no(res.text) if res.ok else None
            rec["correct"], rec["graded_by"] = (
                (verdict, "llm") if verdict is not None else (rec["correct"], "rule_fallback")
            )


def _gold(rec: dict[str, Any]) -> str:
    """The gold answer with its option text, so the grader can accept either form."""
    gold = str(rec.get("gold"))
    text = (rec.get("choices") or {}).get(gold)
    return f"{gold} ({text})" if text and text != gold else gold


def build_stages(cfg: LLMGradingConfig | None, default_cache: str | Path | None = None) -> LLMStages | None:
    """The enabled stages, or ``None`` when no stage is enabled (no client is built then).

    Args:
        cfg: Which stages run, and their LLM.
        default_cache: Reply cache used when ``cfg.client.cache_path`` is unset (the evaluation folder's
            ``llm_cache.sqlite``): every verdict is kept as it arrives, so a killed evaluation run again asks only
            the calls that were in flight.
    """
    if cfg is None or not (cfg.extract or cfg.grade):
        return None
    if default_cache is not None:
        cfg = dataclasses.replace(cfg, client=cfg.client.with_default_cache(default_cache))
    return LLMStages(cfg)
