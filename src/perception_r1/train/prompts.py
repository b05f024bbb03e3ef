"""Training prompts: one schema row -> a conversational prompt with image placeholders and the format instruction.

The user turn interleaves ``{"type": "image"}`` parts where the problem has ``<image>`` placeholders (images
first when it has none, as Qwen2.5-VL expects) and ends with the paper's format instruction
(docs/reference.md#training-recipe), the same text the evaluation uses. TRL's GRPOTrainer fills the image parts
from the row's ``images`` column and applies the processor's chat template.

Example:
    >>> msgs = build_policy_prompt("Find x. <image>", n_images=1, instruction="[fmt]")
    >>> [p["type"] for p in msgs[0]["content"]]
    ['text', 'image', 'text']
    >>> msgs[0]["content"][-1]["text"]
    '\\n[fmt]'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from perception_r1.data.schema import IMAGE_PLACEHOLDER, SchemaError, open_image
from perception_r1.special_tokens import neutralize
from perception_r1.templates import FORMAT_INSTRUCTION, FormatTemplate


def build_policy_prompt(
    problem: str,
    n_images: int,
    instruction: str = FORMAT_INSTRUCTION,
    system: str | None = None,
    template: FormatTemplate | None = None,
    special: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Conversational prompt for one problem.

    Args:
        problem: Question text; each ``<image>`` stands for the next image, in order.
        n_images: Number of images of the row.
        instruction: Appended after the problem on a new line (ignored when ``template`` is given).
        system: Optional system message (None: the chat template's default system prompt).
        template: A recipe's format template: its text before ``{question}`` opens the user turn and its text
            after it closes the turn (the built-in one is ``{question}`` + newline + ``instruction``).
        special: The processor's special tokens (:func:`perception_r1.special_tokens.special_tokens`): in the
            problem text they are neutralised (``<|image_pad|>`` -> ``< |image_pad|>``), so that a problem quoting
            one cannot change the image count the processor checks or open a chat turn.

    Returns:
        ``[{"role": "user", "content": [parts]}]`` (a system message first when given); every part has the
        keys ``type`` and ``text`` (``text`` is ``None`` for images) so that Arrow stores one struct type.

    Raises:
        ValueError: when the problem has placeholders but not exactly ``n_images`` of them.
    """
    # Split first: a processor whose special tokens include "<image>" must not lose the row's own placeholders.
    pieces = [neutralize(piece, special) for piece in problem.split(IMAGE_PLACEHOLDER)]
    n_placeholders = len(pieces) - 1
    if n_placeholders and n_placeholders != n_images:
        raise ValueError(f"problem has {n_placeholders} {IMAGE_PLACEHOLDER} placeholders for {n_images} images")
    prefix, suffix = template.split() if template is not None else ("", "\n" + instruction)
    parts: list[dict[str, Any]] = [{"type": "text", "text": prefix}] if prefix else []
    if not n_placeholders:
        parts.extend({"type": "image", "text": None} for _ in range(n_images))
    for i, piece in enumerate(pieces):
        if i:
            parts.append({"type": "image", "text": None})
        if piece.strip():
            parts.append({"type": "text", "text": piece.strip() if len(pieces) == 1 else piece})
    if suffix:
        parts.append({"type": "text", "text": suffix})
    messages = [{"role": "user", "content": parts}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": [{"type": "text", "text": system}]})
    return messages


def training_rows(
    rows: Iterable[Mapping[str, Any]],
    instruction: str = FORMAT_INSTRUCTION,
    system: str | None = None,
    template: FormatTemplate | None = None,
    *,
    special: Sequence[str] = (),
    max_image_pixels: int | None = None,
    where: str = "",
) -> list[dict[str, Any]]:
    """Rows for ``datasets.Dataset``: each schema row plus its ``prompt``; images opened as PIL images.

    A bad row stops the run before training starts, named (training data is refused, not thinned: see
    DEVELOPING.md, "Bad input"); a problem quoting the processor's special tokens is not bad, it is neutralised.

    Args:
        rows: Validated schema rows (``id``, ``images``, ``problem``, ``answer``, optional annotations...), in
            source order.
        instruction, system, template, special: See :func:`build_policy_prompt`.
        max_image_pixels: Pixel limit of an image (None: :func:`perception_r1.images.max_pixels_limit`).
        where: The data source, for error messages.

    Returns:
        New dicts; ``images`` holds RGB ``PIL.Image`` objects (the trainer passes them to the processor).

    Raises:
        SchemaError: naming the source, the row number and id, when placeholders and images disagree or an image
            cannot be read (missing, undecodable, over the pixel limit, a decompression bomb).
    """
    out = []
    for index, row in enumerate(rows):
        try:
            images = [open_image(item, max_image_pixels).convert("RGB") for item in row["images"]]
            prompt = build_policy_prompt(row["problem"], len(images), instruction, system, template, special)
        except (OSError, ValueError) as exc:
            raise SchemaError(f"example {row.get('id')!r}: {exc}", where=where, row=index, column="images") from exc
        out.append({**row, "images": images, "prompt": prompt})
    return out


def prompt_token_count(processor: Any, messages: list[dict[str, Any]], images: list[Any]) -> int:
    """Number of prompt tokens after the chat template and image-token expansion.

    Args:
        processor: A multimodal processor (e.g. ``Qwen2_5_VLProcessor``) with a chat template.
        messages: Output of :func:`build_policy_prompt`.
        images: The row's PIL images.

    Returns:
        Length of ``input_ids`` for this prompt (image pads included).
    """
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    encoded = processor(text=[text], images=images or None, return_tensors="pt")
    return int(encoded["input_ids"].shape[1])


def template_fingerprints(cfg: Any) -> dict[str, Any]:
    """Version and content digest of every prompt template a training recipe uses (for ``recipe.json``).

    Args:
        cfg: A :class:`perception_r1.train.config.TrainConfig`.

    Returns:
        ``{"format": {"version", "digest", "file"}, "judge": {...}}``; ``judge`` only when a perception reward
        uses an LLM judge (the rule judge reads no prompt).

    Raises:
        ConfigError: a template file that cannot be read or used (named in the message).
    """
    from perception_r1.judge.config import coerce_judge_config, judge_template
    from perception_r1.templates import load_format_template

    out: dict[str, Any] = {
        "format": {**load_format_template(cfg.data.prompt_template).fingerprint(), "file": cfg.data.prompt_template}
    }
    for spec in cfg.rewards:
        if spec.name != "perception":
            continue
        judge = coerce_judge_config(spec.params.get("judge"))
        if judge.backend != "rule":
            out["judge"] = {**judge_template(judge).fingerprint(), "file": judge.prompt_file}
    return out
