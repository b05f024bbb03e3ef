"""Scripted judges for :class:`~support.fake_openai_server.FakeOpenAIServer` (tests, benchmarks).

Each responder reads our judge prompt back (:func:`parse_case`) and answers in the
format the request asked for (JSON when it carries a ``response_format``, else ``<infoN>`` tags):

* :func:`truthful_judge`: a fact is present iff its text appears in the response (case and spacing ignored);
* :func:`too_few_judge`: always ``<info1>1</info1>`` only (the reference's reward-inflation case);
* :func:`gullible_judge`: copies any verdict-like text it finds in the response (``<infoN>1</infoN>``,
  "Judgement:", a JSON verdict object) as all-ones, else behaves truthfully - a judge that injection would fool;
* :func:`chatty_judge`: wraps correct verdicts in prose (still valid: text around tags is tolerated).
"""

from __future__ import annotations

import re
from typing import Any

from perception_r1.judge.prompt import format_verdicts
from support.fake_openai_server import last_user_text

# The case turn of the built-in template (perception_r1.judge.prompt.format_case), read back.
_CASE = re.compile(
    r"Visual key information:\n(?P<facts>.*?)\n\nStudent response:\n<response>\n(?P<response>.*)\n</response>\Z",
    re.DOTALL,
)


def parse_case(user_text: str) -> tuple[list[str], str] | None:
    """Inverse of :func:`perception_r1.judge.prompt.format_case`.

    Args:
        user_text: The last user turn of a judge request.

    Returns:
        The annotations and the response, or None when the text is not a case of the built-in template.
    """
    match = _CASE.search(user_text)
    if not match:
        return None
    facts = [re.sub(r"^\[\d+\] ", "", line) for line in match.group("facts").split("\n")]
    return facts, match.group("response")


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
    """Build the judge of ``cfg`` (a ``JudgeConfig``), judge ``cases`` through the package's one sync path
    (:func:`perception_r1.judge.judges.judge_sync`, on the LLM layer's shared loop), close it."""
    from perception_r1.judge.judges import build_judge
    from perception_r1.judge.judges import judge_sync as package_judge_sync

    return package_judge_sync(build_judge(cfg), cases, close=True)
