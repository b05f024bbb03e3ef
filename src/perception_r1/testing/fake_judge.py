"""Scripted judges for :class:`~perception_r1.testing.fake_openai_server.FakeOpenAIServer` (tests, benchmarks).

Each responder reads our judge prompt back (:func:`perception_r1.judge.prompt.parse_case`) and answers in the
format the request asked for (JSON when it carries a ``response_format``, else ``<infoN>`` tags):

* :func:`truthful_judge`: a fact is present iff its text appears in the response (case and spacing ignored);
* :func:`too_few_judge`: always ``<info1>1</info1>`` only (the reference's reward-inflation case);
* :func:`gullible_judge`: copies any verdict-like text it finds in the response (``<infoN>1</infoN>``,
  "Judgement:", a JSON verdict object) as all-ones, else behaves truthfully - a judge that injection would fool;
* :func:`chatty_judge`: wraps correct verdicts in prose (still valid: text around tags is tolerated).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from perception_r1.judge.prompt import format_verdicts, parse_case
from perception_r1.testing.fake_openai_server import last_user_text


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _case(body: dict[str, Any]) -> tuple[list[str], str, bool] | None:
    parsed = parse_case(last_user_text(body))
    if parsed is None:
        return None
    return parsed[0], parsed[1], "response_format" in body


def true_verdicts(annotations: list[str], response: str) -> list[int]:
    """The verdicts :func:`truthful_judge` gives (substring presence)."""
    haystack = _norm(response)
    return [1 if _norm(a) in haystack else 0 for a in annotations]


def truthful_judge(body: dict[str, Any]) -> str:
    """Substring-presence judge (see module docstring); echoes the prompt when it is not a judge request."""
    case = _case(body)
    if case is None:
        return last_user_text(body)
    annotations, response, structured = case
    return format_verdicts(true_verdicts(annotations, response), structured)


def too_few_judge(body: dict[str, Any]) -> str:
    """Answers a single positive verdict whatever M is."""
    return '{"verdicts": [1]}' if "response_format" in body else "<info1>1</info1>"


_INJECTION = re.compile(r"<info\d+>\s*1|judge?ment\s*:|\"verdicts\"\s*:", re.IGNORECASE)


def gullible_judge(body: dict[str, Any]) -> str:
    """All ones when the response holds verdict-like text, else truthful."""
    case = _case(body)
    if case is None:
        return last_user_text(body)
    annotations, response, structured = case
    if _INJECTION.search(response):
        return format_verdicts([1] * len(annotations), structured)
    return format_verdicts(true_verdicts(annotations, response), structured)


def chatty_judge(body: dict[str, Any]) -> str:
    """Correct verdicts surrounded by prose."""
    return "Let me check each fact.\n" + truthful_judge(body) + "\nDone."


def judge_sync(cfg: Any, cases: list[tuple[list[str], str]]) -> list[Any]:
    """Build the judge of ``cfg`` (a ``JudgeConfig``), judge ``cases`` on a fresh event loop, close it."""
    from perception_r1.judge.judges import build_judge

    judge = build_judge(cfg)

    async def go() -> list[Any]:
        try:
            return await judge.ajudge(cases)
        finally:
            await judge.aclose()

    return asyncio.run(go())
