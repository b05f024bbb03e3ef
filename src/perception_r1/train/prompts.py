"""Training prompts: one schema row -> a conversational prompt with image placeholders and the format instruction.

The user turn interleaves ``{"type": "image"}`` parts where the problem has ``<image>`` placeholders (images
first when it has none, as Qwen2.5-VL expects) and ends with the paper's format instruction (reference section
6), the same text the evaluation uses. TRL's GRPOTrainer fills the image parts from the row's ``images`` column
and applies the processor's chat template.

Example:
    >>> msgs = build_messages("Find x. <image>", n_images=1, instruction="[fmt]")
    >>> [p["type"] for p in msgs[0]["content"]]
    ['text', 'image', 'text']
    >>> msgs[0]["content"][-1]["text"]
    '\\n[fmt]'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perception_r1.eval.prompts import FORMAT_INSTRUCTION

IMAGE_PLACEHOLDER = "<image>"


def build_messages(
    problem: str, n_images: int, instruction: str = FORMAT_INSTRUCTION, system: str | None = None
) -> list[dict[str, Any]]:
    """Conversational prompt for one problem.

    Args:
        problem: Question text; each ``<image>`` stands for the next image, in order.
        n_images: Number of images of the row.
        instruction: Appended after the problem on a new line.
        system: Optional system message (None: the chat template's default system prompt).

    Returns:
        ``[{"role": "user", "content": [parts]}]`` (a system message first when given); every part has the
        keys ``type`` and ``text`` (``text`` is ``None`` for images) so that Arrow stores one struct type.

    Raises:
        ValueError: when the problem has placeholders but not exactly ``n_images`` of them.
    """
    pieces = problem.split(IMAGE_PLACEHOLDER)
    n_placeholders = len(pieces) - 1
    if n_placeholders and n_placeholders != n_images:
        raise ValueError(f"problem has {n_placeholders} {IMAGE_PLACEHOLDER} placeholders for {n_images} images")
    parts: list[dict[str, Any]] = []
    if not n_placeholders:
        parts.extend({"type": "image", "text": None} for _ in range(n_images))
        pieces = [problem]
    for i, piece in enumerate(pieces):
        if i:
            parts.append({"type": "image", "text": None})
        if piece.strip():
            parts.append({"type": "text", "text": piece.strip() if len(pieces) == 1 else piece})
    parts.append({"type": "text", "text": "\n" + instruction})
    messages = [{"role": "user", "content": parts}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": [{"type": "text", "text": system}]})
    return messages


def training_rows(
    rows: Iterable[Mapping[str, Any]], instruction: str = FORMAT_INSTRUCTION, system: str | None = None
) -> list[dict[str, Any]]:
    """Rows for ``datasets.Dataset``: each schema row plus its ``prompt``; images opened as PIL images.

    Args:
        rows: Validated schema rows (``id``, ``images``, ``problem``, ``answer``, optional annotations...).
        instruction, system: See :func:`build_messages`.

    Returns:
        New dicts; ``images`` holds RGB ``PIL.Image`` objects (the trainer passes them to the processor).

    Raises:
        ValueError: naming the row id when placeholders and images disagree or an image cannot be read.
    """
    from perception_r1.data.schema import open_image

    out = []
    for row in rows:
        try:
            images = [open_image(item).convert("RGB") for item in row["images"]]
            prompt = build_messages(row["problem"], len(images), instruction, system)
        except (OSError, ValueError) as exc:
            raise ValueError(f"example {row.get('id')!r}: {exc}") from exc
        out.append({**row, "images": images, "prompt": prompt})
    return out


def prompt_token_count(processor: Any, messages: list[dict[str, Any]], images: list[Any]) -> int:
    """Number of prompt tokens after the chat template and image-token expansion.

    Args:
        processor: A multimodal processor (e.g. ``Qwen2_5_VLProcessor``) with a chat template.
        messages: Output of :func:`build_messages`.
        images: The row's PIL images.

    Returns:
        Length of ``input_ids`` for this prompt (image pads included).
    """
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    encoded = processor(text=[text], images=images or None, return_tensors="pt")
    return int(encoded["input_ids"].shape[1])
