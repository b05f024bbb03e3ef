"""Label-reading pretraining of the policy's vision tower, the stage between building the policy and the warm-up.

Why: the paper's policy starts from Qwen2.5-VL, whose vision encoder was pretrained to read text; the experiment's
policy is built here from scratch, and the warm-up alone teaches it to read labels too slowly for RL to have
anything to sharpen (its 1,875-step warm-up states angles to within a few degrees, but the exact value of a label
on 8-15% of facts: ``recipes/experiment/README.md``). This stage gives the vision tower that missing pretraining,
with a dense target no library provides: every image token the language model sees covers one 28 x 28-pixel cell
of the figure, and a linear head on that token must spell the label drawn over the cell, one character class per
slot (blank beyond the text and on cells without a label). The head is dropped afterwards; the policy keeps the
vision tower (and its patch merger), so what the warm-up starts from is a vision side whose tokens carry the
labels' characters.

Measured on the full recipe's validation split (``recipes/experiment/README.md``): after 2,000 steps the tower
spells 64% of the labelled cells of unseen figures, and the same 678-step warm-up from it states every needed
value on 7.1% of the problems against 1.3% from scratch (paired exact McNemar p=0.022); before the full 1,880-step
warm-up, 15.6% against 5.2% (p=0.0037). The full mode runs it (``reading.steps: 2000``); the quick mode does not:
before a 300-step warm-up (its recipe then) it did not help.

Only the train split's figures and their generator-recorded labels are read, never a validation or test figure's;
the validation split measures how well the tower reads labels it has not seen.

Example:
    >>> cell_targets([{"text": "7", "role": "value", "xy": [10.0, 10.0]}], image_size=56, font_px=10)[0]
    [7, 38, 38, 38]
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from perception_r1.experiment.config import ReadingSection

# The characters labels are drawn with (digits, the degree sign, the query mark, point letters); one class each,
# plus a blank class (index len(CHARSET)) for slots past the end of a label and for cells without one.
CHARSET = "0123456789°?ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK = len(CHARSET)
MAX_CHARS = 4  # "118°"
# One language-model image token per 2 x 2 patches of 14 pixels (Qwen2.5-VL's spatial merge).
CELL_PX = 28
# The blank class is most of every target; down-weighted so the rare characters dominate the gradient.
BLANK_WEIGHT = 0.2


def cell_targets(labels: Sequence[dict[str, Any]], image_size: int, font_px: int) -> list[list[int]]:
    """Per-cell character classes for one figure.

    Args:
        labels: The generator's label records (``text``, ``role``, ``xy`` = the text's centre in pixels).
        image_size: Side of the square figure in pixels (a multiple of :data:`CELL_PX`).
        font_px: The label font size the figure was drawn with (``perception_r1.data.synth.canvas``).

    Returns:
        ``(image_size // CELL_PX) ** 2`` rows (cells in row-major order, as the merged image tokens) of
        :data:`MAX_CHARS` class indices. A cell any label's text box overlaps spells that label; where two
        overlap one cell, the value label (or the larger overlap) wins.

    Raises:
        ValueError: a label has a character outside :data:`CHARSET` or more than :data:`MAX_CHARS` characters.
    """
    from PIL import ImageFont

    font = ImageFont.load_default(size=font_px)
    grid = image_size // CELL_PX
    out = [[BLANK] * MAX_CHARS for _ in range(grid * grid)]
    best: dict[int, tuple[bool, float]] = {}
    for label in labels:
        text = label["text"]
        if len(text) > MAX_CHARS or any(ch not in CHARSET for ch in text):
            raise ValueError(f"label {text!r}: expected at most {MAX_CHARS} characters of {CHARSET!r}")
        x, y = label["xy"]
        left, top, right, bottom = font.getbbox(text, anchor="mm")
        box = (x + left, y + top, x + right, y + bottom)
        for cy in range(max(0, int(box[1] // CELL_PX)), min(grid - 1, int(box[3] // CELL_PX)) + 1):
            for cx in range(max(0, int(box[0] // CELL_PX)), min(grid - 1, int(box[2] // CELL_PX)) + 1):
                area = _overlap(box, (cx * CELL_PX, cy * CELL_PX, (cx + 1) * CELL_PX, (cy + 1) * CELL_PX))
                rank = (label.get("role") == "value", area)
                cell = cy * grid + cx
                if area > 0 and rank > best.get(cell, (False, 0.0)):
                    best[cell] = rank
                    out[cell] = [CHARSET.index(ch) for ch in text] + [BLANK] * (MAX_CHARS - len(text))
    return out


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


class ReadingModel(torch.nn.Module):
    """The policy's vision tower with a linear character head on each merged image token.

    ``forward(pixel_values, image_grid_thw, labels=None)``: pixel values of a batch of same-size figures as the
    Qwen2.5-VL image processor makes them (``(batch * patches, channels * 2 * 14 * 14)``) and their grid
    (``(batch, 3)``); ``labels`` ``(batch, cells, MAX_CHARS)``. Returns ``{"logits": (batch, cells, MAX_CHARS,
    len(CHARSET) + 1), "loss": ...}`` (the loss only with labels).
    """

    class_weights: torch.Tensor  # a buffer: follows the module's device, never saved

    def __init__(self, visual: torch.nn.Module, width: int) -> None:
        super().__init__()
        self.visual = visual
        self.head = torch.nn.Linear(width, MAX_CHARS * (BLANK + 1))
        weights = torch.ones(BLANK + 1)
        weights[BLANK] = BLANK_WEIGHT
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(
        self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor, labels: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        tokens = self.visual(pixel_values, grid_thw=image_grid_thw).pooler_output
        logits = self.head(tokens).view(image_grid_thw.shape[0], -1, MAX_CHARS, BLANK + 1)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = torch.nn.functional.cross_entropy(
                logits.reshape(-1, BLANK + 1), labels.reshape(-1), weight=self.class_weights
            )
        return out


class FigureSet(torch.utils.data.Dataset):
    """Figures preprocessed once (the image processor's patches) with their per-cell targets."""

    def __init__(self, rows: Sequence[dict[str, Any]], image_processor: Any, image_size: int) -> None:
        from perception_r1.data.schema import open_image
        from perception_r1.data.synth.canvas import default_font_px

        images, targets = [], []
        for row in rows:
            meta = json.loads(row["meta"]) if isinstance(row["meta"], str) else row["meta"]
            if "labels" not in (meta or {}):
                raise ValueError(f"row {row.get('id')!r}: no generator 'labels' in its meta to read")
            images.append(open_image(row["images"][0]).convert("RGB"))
            targets.append(cell_targets(meta["labels"], image_size, default_font_px(image_size)))
        batch = image_processor(images=images, return_tensors="pt")
        self.pixels = batch["pixel_values"].view(len(images), -1, batch["pixel_values"].shape[-1])
        self.grid = batch["image_grid_thw"]
        self.targets = torch.tensor(targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.pixels[i], "image_grid_thw": self.grid[i], "labels": self.targets[i]}


def collate(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack figures into the flat patch layout the vision tower takes."""
    return {
        "pixel_values": torch.cat([it["pixel_values"] for it in items]),
        "image_grid_thw": torch.stack([it["image_grid_thw"] for it in items]),
        "labels": torch.stack([it["labels"] for it in items]),
    }


@torch.no_grad()
def read_accuracy(model: ReadingModel, figures: FigureSet, batch_size: int = 64) -> dict[str, float]:
    """How well the tower reads: labelled cells spelled exactly (every slot right), blank cells kept blank.

    Returns:
        ``{"cells": ..., "blank": ...}`` fractions in [0, 1] (``nan`` when a kind is absent).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device  # after training on a GPU the model is there, the figures are not
    right, labelled = [], []
    for start in range(0, len(figures), batch_size):
        batch = collate([figures[i] for i in range(start, min(start + batch_size, len(figures)))])
        logits = model(batch["pixel_values"].to(device), batch["image_grid_thw"].to(device))["logits"]
        right.append((logits.argmax(-1).cpu() == batch["labels"]).all(-1))
        labelled.append(batch["labels"][..., 0] != BLANK)
    model.train(was_training)
    ok, has = torch.cat(right), torch.cat(labelled)
    frac = lambda m: float(ok[m].float().mean()) if m.any() else float("nan")  # noqa: E731
    return {"cells": round(frac(has), 4), "blank": round(frac(~has), 4)}


def run_reading(
    policy_dir: str | Path,
    train_rows: Sequence[dict[str, Any]],
    val_rows: Sequence[dict[str, Any]],
    section: ReadingSection,
    image_size: int,
    out_dir: Path,
) -> dict[str, Any]:
    """Pretrain the vision tower of the policy in ``policy_dir`` to read labels; resumes from ``out_dir``'s checkpoint.

    Args:
        policy_dir: The built (untrained) policy.
        train_rows: Train-split rows whose figures are read (the first ``section.n_examples``).
        val_rows: Validation rows: reading accuracy on figures the tower never trained on, before and after.
        section: The stage's settings.
        image_size: The figures' side in pixels.
        out_dir: Checkpoints (the reading model: tower + head), ``final/`` (the whole policy with the trained
            tower, loadable like ``policy_dir``) and ``summary.json`` (written last: it marks a finished stage).

    Returns:
        Steps, figures, validation reading accuracy before and after, the loss curve, wall seconds, final model.
    """
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText, AutoProcessor, Trainer, TrainingArguments

    from perception_r1.experiment.warmup import finish_stage
    from perception_r1.train.atomic_save import atomic_checkpoints
    from perception_r1.train.checkpoints import resume_point, train_from

    started = time.perf_counter()
    processor = AutoProcessor.from_pretrained(str(policy_dir))
    policy = AutoModelForImageTextToText.from_pretrained(str(policy_dir), dtype=torch.float32)
    rows = train_rows[: section.n_examples] if section.n_examples else train_rows
    figures = FigureSet(rows, processor.image_processor, image_size)
    held_out = FigureSet(val_rows, processor.image_processor, image_size)
    model = ReadingModel(policy.model.visual, policy.config.text_config.hidden_size)
    torch.manual_seed(section.seed)
    model.head.reset_parameters()  # the head's initialisation follows the stage's seed, not the policy's
    before = read_accuracy(model, held_out)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = TrainingArguments(
        output_dir=str(out_dir),
        max_steps=section.steps,
        per_device_train_batch_size=section.batch_size,
        learning_rate=section.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.01,
        logging_steps=25,
        save_strategy="steps",
        save_steps=250,
        save_total_limit=1,
        seed=section.seed,
        data_seed=section.seed,
        remove_unused_columns=False,  # the collator needs pixel_values and image_grid_thw as they are
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        report_to=["none"],
    )
    # A cut save leaves no checkpoint-N behind; the newest complete checkpoint is resumed.
    trainer = atomic_checkpoints(Trainer)(model=model, args=args, train_dataset=figures, data_collator=collate)
    checkpoint = resume_point(out_dir)
    if checkpoint is not None:  # a run that already ended there trains nothing, so load its weights here
        model.load_state_dict(load_file(str(Path(checkpoint) / "model.safetensors")))
    train_from(trainer, checkpoint)
    after = read_accuracy(model, held_out)
    final = out_dir / "final"
    policy.save_pretrained(str(final))  # the policy's tower is the one just trained (shared module)
    processor.save_pretrained(str(final))
    stage = {"figures": len(figures), "val_figures": len(held_out), "val_read_before": before, "val_read_after": after}
    return finish_stage(trainer, out_dir, final, started, stage)
