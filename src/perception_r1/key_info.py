"""The reference layout of visual annotations: one string ``<info1>first</info1>\\n<info2>second</info2>``.

The paper's released data stores each problem's annotations this way (column ``visual_key_info``); the dataset
schema (:mod:`perception_r1.data.schema`), the annotation step of curation and the perception reward all read
it, so the one tag pattern and its reader and writer live here, below all of them.

Example:
    >>> parse_visual_key_info("<info1>AB = 5</info1>\\n<info2> AB ∥ CD </info2>")
    ['AB = 5', 'AB ∥ CD']
    >>> format_visual_key_info(["AB = 5", "AB ∥ CD"])
    '<info1>AB = 5</info1>\\n<info2>AB ∥ CD</info2>'
"""

from __future__ import annotations

import re

# One ``<infoN>...</infoN>`` item; case and spacing inside the tags are tolerated (``<INFO 2>``), the closing
# number must repeat the opening one. Group 1: the number, group 2: the body.
INFO_TAG = re.compile(r"<\s*info\s*(\d+)\s*>(.*?)<\s*/\s*info\s*\1\s*>", re.IGNORECASE | re.DOTALL)
# Any opening or closing tag, numbered or not: an item holding one could not be read back.
_ANY_INFO_TAG = re.compile(r"<\s*/?\s*info\s*\d*\s*>", re.IGNORECASE)


def format_visual_key_info(annotations: list[str]) -> str:
    """Join annotations as ``<info1>…</info1>\\n<info2>…</info2>`` (the reference layout).

    Raises:
        ValueError: when an annotation is empty or itself contains an ``<info…>`` tag (it could not be read back).
    """
    parts = []
    for k, text in enumerate(annotations, start=1):
        text = " ".join(str(text).split())
        if not text or _ANY_INFO_TAG.search(text):
            raise ValueError(f"annotation {k} cannot be written in the <infoN> layout: {text!r}")
        parts.append(f"<info{k}>{text}</info{k}>")
    return "\n".join(parts)


def parse_visual_key_info(text: str | None) -> list[str]:
    """Parse a ``visual_key_info`` string into the list of annotations, ordered by their number.

    Tolerates any whitespace between and inside tags (items are whitespace-collapsed), CRLF line ends, upper-case
    or spaced tags (``<INFO 2>``), and gaps in the numbering. ``None`` or blank text gives ``[]``.

    Raises:
        ValueError: a number used twice, an unclosed or mismatched tag, text outside the tags, or an empty item.
    """
    if text is None or not str(text).strip():
        return []
    text = str(text)
    items: dict[int, str] = {}
    for match in INFO_TAG.finditer(text):
        number, body = int(match.group(1)), " ".join(match.group(2).split())
        if number in items:
            raise ValueError(f"visual_key_info: <info{number}> appears twice")
        if not body:
            raise ValueError(f"visual_key_info: <info{number}> is empty")
        if _ANY_INFO_TAG.search(body):
            raise ValueError(f"visual_key_info: <info{number}> contains a nested or unclosed tag: {body!r}")
        items[number] = body
    leftover = INFO_TAG.sub("", text).strip()
    if leftover:
        raise ValueError(f"visual_key_info: text outside <infoN>…</infoN> tags or an unclosed tag: {leftover[:80]!r}")
    return [items[k] for k in sorted(items)]
