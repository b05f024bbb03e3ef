"""Judges: turn (annotations, response) cases into per-annotation verdicts, and the judge-backend registry.

Backends (:data:`JUDGE_BACKENDS`): ``openai`` and ``transformers`` (both :class:`LLMJudge`, through the LLM
client layer with its cache, retries and de-duplication) and ``rule`` (:class:`RuleJudge`, a deterministic
matcher for canonical geometry annotations, ``perception_r1.judge.rule.rule_verdicts``).

Every judge answers one :class:`Judgment` per case and never raises for a failed case: status ``failed`` with
the reason in ``error``. The score is ``(#1-verdicts) / M`` with M the number of annotations.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perception_r1.judge.config import JudgeConfig, judge_template
from perception_r1.judge.parse import VerdictError, parse_verdicts
from perception_r1.judge.prompt import build_messages, verdict_schema
from perception_r1.judge.sanitize import sanitize_and_flag
from perception_r1.llm.client import ChatRequest, build_client
from perception_r1.registry import Registry

Case = tuple[Sequence[str], str]  # (annotations, response text)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judgment:
    """Outcome of judging one response.

    Attributes:
        status: ``ok``, ``failed`` (no valid verdicts after retries) or ``not_applicable`` (no annotations).
        verdicts: One 0/1 per annotation when ok, else None.
        score: ``sum(verdicts) / M`` when ok, else None.
        error: Why it failed.
        raw: The judge's last reply text, if any (for debugging and sample dumps).
        latency_s: Time spent on this case (all attempts).
        attempts: Requests made for this case.
        cached: Served from the reply cache.
        injected: The response held verdict-like text that was neutralised.
    """

    status: str
    verdicts: list[int] | None = None
    score: float | None = None
    error: str | None = None
    raw: str | None = None
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False
    injected: bool = False

    @classmethod
    def from_verdicts(cls, verdicts: list[int], **kwargs: Any) -> Judgment:
        """An ``ok`` judgment with ``score = sum(verdicts) / len(verdicts)`` (``verdicts`` has exactly M items)."""
        return cls(status="ok", verdicts=verdicts, score=sum(verdicts) / len(verdicts), **kwargs)


NOT_APPLICABLE = Judgment(status="not_applicable")


def failure_reason(error: str | None) -> str:
    """The class of a failed judgment's error, for counting: ``connection``, ``timeout``, ``HTTP <status>``,
    ``invalid reply`` (malformed, empty or rejected verdicts) or ``other``.

    Example:
        >>> failure_reason("HTTP 401: invalid api key"), failure_reason("rejected: expected 3 verdicts")
        ('HTTP 401', 'invalid reply')
    """
    text = (error or "").strip()
    lowered = text.lower()
    if lowered.startswith("connection"):
        return "connection"
    if lowered.startswith("timeout") or "timed out" in lowered:
        return "timeout"
    if lowered.startswith("http "):
        return text.split(":", 1)[0]
    if lowered.startswith(("rejected", "malformed", "empty reply", "invalid")):
        return "invalid reply"
    return "other"


def count_failures(judgments: Sequence[Judgment]) -> dict[str, int]:
    """Failed judgments per :func:`failure_reason`, most frequent first."""
    from collections import Counter

    return dict(Counter(failure_reason(j.error) for j in judgments if j.status == "failed").most_common())


class LLMJudge:
    """A judging LLM behind the client layer (``openai`` or ``transformers`` backend).

    Args:
        cfg: The judge configuration.
    """

    def __init__(self, cfg: JudgeConfig) -> None:
        self.template = judge_template(cfg)
        self.cfg = cfg
        self.client = build_client(cfg)
        # version and content digest: replies cached for another prompt text are never served
        self._prompt_version = f"judge-{self.template.version}-{self.template.digest}"

    def _request(self, annotations: list[str], response: str) -> ChatRequest:
        structured = self.cfg.structured_output
        return ChatRequest(
            messages=build_messages(annotations, response, structured, self.template),
            json_schema=verdict_schema(len(annotations)) if structured else None,
            prompt_version=self._prompt_version,
        )

    async def ajudge(self, cases: Sequence[Case]) -> list[Judgment]:
        """Judge all cases concurrently; one :class:`Judgment` each, in order."""
        out: list[Judgment | None] = [None] * len(cases)
        todo: list[tuple[int, list[str], bool]] = []
        requests: list[ChatRequest] = []
        for i, (case_annotations, response) in enumerate(cases):
            facts = list(case_annotations)
            if not facts:
                out[i] = NOT_APPLICABLE
                continue
            sanitized, injected = sanitize_and_flag(response)
            text = sanitized if self.cfg.sanitize else response
            todo.append((i, facts, injected))
            requests.append(self._request(facts, text))
        # Identical case text means identical annotations, so the text identifies M even for re-asked copies.
        m_of = {r.messages[-1]["content"]: len(a) for r, (_, a, _) in zip(requests, todo, strict=True)}
        structured = self.cfg.structured_output

        def accept(request: ChatRequest, text: str) -> str | None:
            try:
                parse_verdicts(text, m_of[request.messages[-1]["content"]], structured)
            except VerdictError as exc:
                return str(exc)
            return None

        results = await self.client.agenerate(
            requests, accept, self.cfg.invalid_retries, retry_temperature=self.cfg.retry_temperature
        )
        for (i, facts, injected), result in zip(todo, results, strict=True):
            common: dict[str, Any] = dict(  # the fields every Judgment of this case shares
                raw=result.text,
                latency_s=result.latency_s,
                attempts=result.attempts,
                cached=result.cached,
                injected=injected,
            )
            if not result.ok:
                out[i] = Judgment(status="failed", error=result.error, **common)
                continue
            try:  # a cached reply was never re-checked by ``accept`` (e.g. a cache written by an older parser)
                verdicts = parse_verdicts(result.text or "", len(facts), structured)
            except VerdictError as exc:
                out[i] = Judgment(status="failed", error=f"rejected: {exc}", **common)
                continue
            out[i] = Judgment.from_verdicts(verdicts, **common)
        return [j if j is not None else NOT_APPLICABLE for j in out]

    async def aclose(self) -> None:
        """Close the LLM client (connections, cache)."""
        await self.client.aclose()


class RuleJudge:
    """Deterministic judge for canonical annotations (``AB = 5``, ``angle ABC = 40°``, ``AB ∥ CD``).

    Delegates to ``perception_r1.judge.rule.rule_verdicts(annotations, response) -> list[int]``. An annotation
    outside the canonical grammar (``GE is perpendicular to DF at E``) cannot be judged: that case fails, and the
    judge says so in a logged warning naming the annotation (the first :data:`WARN_DISTINCT` distinct ones, then
    a count at every power of ten), so that a dataset of free-form annotations is not silently left unjudged.

    Args:
        cfg: The judge configuration (only ``sanitize`` is used).

    Attributes:
        unjudgeable: Distinct annotations seen that are not in the canonical grammar.
    """

    WARN_DISTINCT = 10

    def __init__(self, cfg: JudgeConfig | None = None) -> None:
        self.cfg = cfg or JudgeConfig(backend="rule")
        self.unjudgeable: set[str] = set()
        self._lock = threading.Lock()

    def judge_one(self, annotations: Sequence[str], response: str) -> Judgment:
        """Judge one case synchronously."""
        annotations = list(annotations)
        if not annotations:
            return NOT_APPLICABLE
        from perception_r1.judge.rule import FactParseError, rule_verdicts  # lazy: optional at import time

        start = time.perf_counter()
        sanitized, injected = sanitize_and_flag(response)
        text = sanitized if self.cfg.sanitize else response
        try:
            verdicts = [int(v) for v in rule_verdicts(annotations, text)]
        except FactParseError as exc:
            self._warn_unjudgeable(annotations)
            error = f"rule judge cannot judge this annotation (not a canonical fact): {exc}"
            return Judgment(
                status="failed", error=error, latency_s=time.perf_counter() - start, attempts=1, injected=injected
            )
        except Exception as exc:  # a matcher bug must fail this case (counted), not the training step
            error = f"rule judge error: {type(exc).__name__}: {exc}"
            return Judgment(
                status="failed", error=error, latency_s=time.perf_counter() - start, attempts=1, injected=injected
            )
        common: dict[str, Any] = dict(latency_s=time.perf_counter() - start, attempts=1, injected=injected)
        if len(verdicts) != len(annotations) or any(v not in (0, 1) for v in verdicts):
            return Judgment(status="failed", error=f"rule judge gave {verdicts} for {len(annotations)}", **common)
        return Judgment.from_verdicts(verdicts, **common)

    def _warn_unjudgeable(self, annotations: Sequence[str]) -> None:
        from perception_r1.data.facts import FactParseError, canonical_forms_help, parse_fact

        new = []
        with self._lock:
            for annotation in annotations:
                if annotation in self.unjudgeable:
                    continue
                try:
                    parse_fact(annotation)
                except FactParseError:
                    self.unjudgeable.add(annotation)
                    new.append((annotation, len(self.unjudgeable)))
        for annotation, count in new:
            if count <= self.WARN_DISTINCT:
                logger.warning(
                    "rule judge: annotation %r is not a canonical fact, so its responses get no perception score "
                    "(failed judgment). Use an LLM judge (judge.backend: openai) for free-form annotations.%s",
                    annotation,
                    f" Canonical forms: {canonical_forms_help()}" if count == 1 else "",
                )
            elif str(count).rstrip("0") == "1":  # 100, 1000, ...
                logger.warning("rule judge: %d distinct annotations so far are not canonical facts", count)

    async def ajudge(self, cases: Sequence[Case]) -> list[Judgment]:
        """Judge all cases (cheap and CPU-bound: done inline)."""
        await asyncio.sleep(0)
        return [self.judge_one(a, r) for a, r in cases]

    async def aclose(self) -> None:
        """Nothing to release."""
        return None


JUDGE_BACKENDS: Registry[Any] = Registry("judge backend")
JUDGE_BACKENDS.register("openai", "perception_r1.judge.judges:LLMJudge")
JUDGE_BACKENDS.register("transformers", "perception_r1.judge.judges:LLMJudge")
JUDGE_BACKENDS.register("rule", "perception_r1.judge.judges:RuleJudge")


def judge_sync(judge: LLMJudge | RuleJudge, cases: Sequence[Case], *, close: bool = False) -> list[Judgment]:
    """Judge ``cases`` from synchronous code, on the LLM layer's shared loop (:func:`perception_r1.llm.loop.run_sync`).

    Args:
        judge: A judge from :func:`build_judge`; use it either through this function or by awaiting, not both.
        cases: ``(annotations, response)`` pairs.
        close: Close the judge (its connections and cache) afterwards, also when judging raised.

    Returns:
        One :class:`Judgment` per case, in order.
    """
    from perception_r1.llm.loop import run_sync

    async def go() -> list[Judgment]:
        try:
            return await judge.ajudge(cases)
        finally:
            if close:
                await judge.aclose()

    return run_sync(go())


def build_judge(cfg: JudgeConfig) -> LLMJudge | RuleJudge:
    """Build the judge for ``cfg.backend``.

    Raises:
        perception_r1.registry.UnknownNameError: for an unknown backend, listing the known ones.
    """
    return JUDGE_BACKENDS.get(cfg.backend)(cfg)
