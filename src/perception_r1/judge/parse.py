"""Strict parsing of judge replies into exactly M binary verdicts.

A reply is valid only when it carries one verdict per annotation, in order, each exactly 0 or 1. Missing,
extra (index > M), duplicated, out-of-order or non-binary verdicts make it invalid: the caller re-asks and, if
it stays invalid, the judgment fails (reward None). Never "score what we got": dividing by the number of verdicts
received is the reference implementation's reward-inflation bug
(docs/reference.md#defect-3-score-divided-by-verdicts-received).

Example:
    >>> parse_verdicts("<info1>1</info1>\\n<info2>0</info2>", 2)
    [1, 0]
    >>> parse_verdicts("<info1>1</info1>", 2)
    Traceback (most recent call last):
    ...
    perception_r1.judge.parse.VerdictError: expected 2 verdicts <info1>..<info2>, got indices [1]
"""

from __future__ import annotations

import json
import re

_TAG = re.compile(r"<info(\d+)>\s*(.*?)\s*</info\1>", re.DOTALL | re.IGNORECASE)
_OPEN_TAG = re.compile(r"<info(\d+)>", re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class VerdictError(ValueError):
    """A judge reply that does not hold exactly M binary verdicts; the message says why."""


def parse_tag_verdicts(text: str, m: int) -> list[int]:
    """Parse ``<info1>1</info1>...<infoM>0</infoM>`` (text around the tags is tolerated).

    Raises:
        VerdictError: missing, extra, duplicated, out-of-order, unclosed or non-binary verdicts.
    """
    matches = _TAG.findall(text)
    indices = [int(i) for i, _ in matches]
    if indices != list(range(1, m + 1)):
        raise VerdictError(f"expected {m} verdicts <info1>..<info{m}>, got indices {indices}")
    if len(_OPEN_TAG.findall(text)) != m:  # e.g. a stray unclosed "<info2>1" next to a closed one
        raise VerdictError(f"expected {m} <infoN> tags, found {len(_OPEN_TAG.findall(text))}")
    values = [v for _, v in matches]
    bad = [v for v in values if v not in ("0", "1")]
    if bad:
        raise VerdictError(f"non-binary verdict {bad[0]!r}")
    return [int(v) for v in values]


def parse_json_verdicts(text: str, m: int) -> list[int]:
    """Parse ``{"verdicts": [0|1, ...]}`` with exactly ``m`` integer items (a ```json fence is tolerated).

    Raises:
        VerdictError: not JSON, wrong shape, wrong length, or an item that is not the integer 0 or 1
            (``true``, ``"1"`` and ``1.0`` are rejected).
    """
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise VerdictError(f"not JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or set(obj) != {"verdicts"}:
        raise VerdictError('expected an object with the single key "verdicts"')
    verdicts = obj["verdicts"]
    if not isinstance(verdicts, list):
        raise VerdictError('"verdicts" is not a list')
    if len(verdicts) != m:
        raise VerdictError(f"expected {m} verdicts, got {len(verdicts)}")
    for v in verdicts:
        if type(v) is not int or v not in (0, 1):  # bool is an int subclass: reject it explicitly
            raise VerdictError(f"non-binary verdict {v!r}")
    return list(verdicts)


def parse_verdicts(text: str, m: int, structured: bool = False) -> list[int]:
    """Parse a judge reply in the configured format (JSON when ``structured``, else tags).

    Args:
        text: The judge's reply.
        m: Number of annotations (must be >= 1).
        structured: The reply was requested in the JSON format.

    Returns:
        Exactly ``m`` verdicts, each 0 or 1.

    Raises:
        VerdictError: the reply is invalid (see the format-specific parsers).
    """
    if m < 1:
        raise ValueError("there must be at least one annotation to judge")
    return parse_json_verdicts(text, m) if structured else parse_tag_verdicts(text, m)
