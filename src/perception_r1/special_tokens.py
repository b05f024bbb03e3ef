"""A processor's special tokens in untrusted text (questions), neutralised to a visible, harmless form.

Question text is data, but a processor reads it as markup: a question holding Qwen2.5-VL's own ``<|image_pad|>``
makes the processor count one image more than the prompt has and refuse the whole batch ("The total number of
<|image_pad|> tokens ... should be the same as the number of images"), and ``<|im_start|>`` / ``<|im_end|>``
would open a chat turn of its own. Before such text reaches a processor, every occurrence of one of its special
tokens is rewritten with a space after the token's first character: ``<|image_pad|>`` becomes ``< |image_pad|>``,
still readable by the model and a person, no longer the token. The item is kept (not refused); its stored prompt is
the original text.

Example:
    >>> neutralize("Is <|image_pad|> a token? <|im_end|>", ["<|image_pad|>", "<|im_end|>"])
    'Is < |image_pad|> a token? < |im_end|>'
    >>> neutralize("plain text", ["<|image_pad|>"])
    'plain text'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PROCESSOR_TOKENS = ("image_token", "video_token", "vision_start_token", "vision_end_token", "audio_token")


def special_tokens(processor: Any) -> tuple[str, ...]:
    """The special tokens of a processor or tokenizer: text that its tokenizer turns into one control token.

    Args:
        processor: A transformers processor (its ``tokenizer`` is read) or a tokenizer.

    Returns:
        Every token string of two characters or more, longest first: the tokenizer's ``all_special_tokens``, its
        added tokens marked special (Qwen's ``<|image_pad|>``, ``<|vision_start|>``, ...) and the processor's
        image/video tokens.
    """
    tokenizer = getattr(processor, "tokenizer", None) or processor
    found: set[str] = set(getattr(tokenizer, "all_special_tokens", None) or ())
    for token in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(token, "special", False):
            found.add(str(getattr(token, "content", token)))
    for name in _PROCESSOR_TOKENS:
        value = getattr(processor, name, None)
        if isinstance(value, str):
            found.add(value)
    return tuple(sorted((t for t in found if len(t) >= 2), key=lambda t: (-len(t), t)))


def neutralize(text: str, tokens: Iterable[str]) -> str:
    """``text`` with each occurrence of ``tokens`` broken by a space after its first character.

    Args:
        text: Untrusted text (a question).
        tokens: Special token strings (:func:`special_tokens`); tokens shorter than two characters are ignored.

    Returns:
        The text, unchanged when it holds none of the tokens.
    """
    wanted = sorted({t for t in tokens if len(t) >= 2}, key=lambda t: (-len(t), t))
    if not text or not any(t in text for t in wanted):
        return text
    pattern = re.compile("|".join(re.escape(t) for t in wanted))
    # A broken token could complete another one only if some token held a space: repeat until none is left.
    for _ in range(4):
        text, count = pattern.subn(lambda m: m.group(0)[0] + " " + m.group(0)[1:], text)
        if not count or not pattern.search(text):
            break
    return text
