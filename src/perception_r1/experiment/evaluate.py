"""Greedy evaluation of a policy on the experiment's test split, graded exactly (no LLM).

Per item: answer correctness (the project's accuracy reward: the ``<answer>`` block's ``\\boxed{}`` checked by
math-verify; on a multiple-choice row, with its ``choices``, the letter or the option's text), format, and the
exact perception grade of :mod:`perception_r1.experiment.perception_metrics`.
Items are appended to ``items.jsonl`` as they are graded, so an interrupted evaluation generates only what is
missing when it runs again. Every item and summary carries the grader's version
(:data:`~perception_r1.experiment.perception_metrics.GRADER_VERSION`): items graded by another version are graded
again from their stored responses, without generating anything.

Example:
    >>> summary = evaluate_policy("runs/experiment/warmup/final", rows, Path("out"))  # doctest: +SKIP
    >>> summary["answer_accuracy"], summary["perception_accuracy"]  # doctest: +SKIP
    (0.41, 0.37)
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from perception_r1.experiment.perception_metrics import GRADER_VERSION, grade_response
from perception_r1.io_utils import JsonlError, atomic_write_json, atomic_write_jsonl, iter_jsonl

log = logging.getLogger(__name__)

ITEMS_FILE = "items.jsonl"
SUMMARY_FILE = "summary.json"


def _load_policy(model_dir: str | Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(str(model_dir))
    processor.tokenizer.padding_side = "left"  # generation continues every prompt from its last token
    model = AutoModelForImageTextToText.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    if torch.cuda.is_available():  # the trainers use the GPU where there is one; evaluation follows them
        model = model.to("cuda")
    return model, processor


def generate(model: Any, processor: Any, rows: Sequence[dict[str, Any]], max_new_tokens: int) -> list[str]:
    """Greedy responses to ``rows`` (schema rows), one batch.

    Returns:
        One decoded response per row (special tokens removed).
    """
    import torch

    from perception_r1.train.prompts import training_rows

    examples = training_rows(rows)
    texts = [
        processor.apply_chat_template(ex["prompt"], add_generation_prompt=True, tokenize=False) for ex in examples
    ]
    images = [im for ex in examples for im in ex["images"]]
    batch = processor(text=texts, images=images or None, padding=True, return_tensors="pt").to(model.device)
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    new_tokens = out[:, batch["input_ids"].shape[1] :]
    return processor.batch_decode(new_tokens, skip_special_tokens=True)


def grade_items(
    rows: Sequence[dict[str, Any]], responses: Sequence[str], accuracy: Callable[..., list], fmt: Callable[..., list]
) -> list[dict[str, Any]]:
    """One graded record per (row, response): answer, format, perception figures and per-fact verdicts.

    Args:
        accuracy, fmt: The project's ``accuracy`` and ``format`` rewards (made once per evaluation: the accuracy
            reward keeps a math-verify worker process between calls).
    """
    # A multiple-choice row's options let a letter stand for its option's text (and the option's text count too).
    acc = accuracy(list(responses), answer=[r["answer"] for r in rows], choices=[r.get("choices") for r in rows])
    form = fmt(list(responses))
    out = []
    for row, response, a, f in zip(rows, responses, acc, form, strict=True):
        meta = json.loads(row.get("meta") or "{}")
        grade = grade_response(
            response,
            row["visual_annotations"],
            meta.get("distractors", []),
            reference=f"{row['problem']}\n{row.get('cot') or ''}",
            derived=meta.get("derived", []),
        )
        out.append(
            {
                "id": row["id"],
                "family": meta.get("family"),
                "response": response,
                "answer": row["answer"],
                "answer_correct": a,
                "format": f,
                "facts": list(row["visual_annotations"]),
                "verdicts": grade.verdicts,
                "perception_recall": grade.recall,
                "perception_correct": grade.correct,
                "wrong_facts": grade.wrong,
                "hallucinated_facts": grade.hallucinated,
                "grader": GRADER_VERSION,
            }
        )
    return out


def summarize(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, perception and fact-error figures over graded items, overall and per family.

    ``answer_accuracy`` counts an ungradable answer (None) as wrong and reports how many there were.
    """

    def figures(group: Sequence[dict[str, Any]]) -> dict[str, Any]:
        n = len(group)
        return {
            "n": n,
            "answer_accuracy": sum(1 for i in group if i["answer_correct"] == 1.0) / n,
            "perception_accuracy": sum(1 for i in group if i["perception_correct"]) / n,
            "perception_recall": statistics.fmean(i["perception_recall"] for i in group),
            "format": statistics.fmean(i["format"] for i in group),
            "wrong_facts": sum(i["wrong_facts"] for i in group),
            "hallucinated_facts": sum(i["hallucinated_facts"] for i in group),
            "answer_ungradable": sum(1 for i in group if i["answer_correct"] is None),
        }

    if not items:
        raise ValueError("no evaluated items to summarize")
    families = sorted({i["family"] for i in items if i["family"]})
    return {**figures(items), "per_family": {f: figures([i for i in items if i["family"] == f]) for f in families}}


def evaluate_policy(
    model_dir: str | Path,
    rows: Sequence[dict[str, Any]],
    out_dir: Path,
    *,
    batch_size: int = 32,
    max_new_tokens: int = 160,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model_dir`` on ``rows``; resumable through ``out_dir/items.jsonl``.

    Args:
        model_dir: A saved policy (model + processor).
        rows: Test rows (schema rows with ``meta`` from the testbed).
        out_dir: Where ``items.jsonl`` and ``summary.json`` go.
        progress: Called with the number of items finished after each batch.

    Returns:
        The summary (also written to ``summary.json``, last: its presence marks a finished evaluation).

    Raises:
        FileNotFoundError: ``model_dir`` is not a saved model.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    items_path = out_dir / ITEMS_FILE
    lines = [r for _, r in iter_jsonl(items_path)] if items_path.is_file() else []
    done = {r["id"]: r for r in lines if isinstance(r, dict)}
    torn = [r for r in lines if isinstance(r, JsonlError)]
    if torn:  # items.jsonl is a cache of graded items: an unreadable line's item is evaluated again
        log.warning("%s; its item is evaluated again", "; ".join(f"{e} (a write cut short)" for e in torn))
    if len(done) < len(lines):  # drop a line cut by an interruption before appending after it
        atomic_write_jsonl(items_path, list(done.values()))
    stale = [r for r in rows if r["id"] in done and done[r["id"]].get("grader") != GRADER_VERSION]
    if stale:  # graded by an earlier grader: grade the stored responses again
        with graders() as (accuracy, fmt):
            for item in grade_items(stale, [done[r["id"]]["response"] for r in stale], accuracy, fmt):
                done[item["id"]] = item
        atomic_write_jsonl(items_path, list(done.values()))
    todo = [r for r in rows if r["id"] not in done]
    if todo:
        if not (Path(model_dir) / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir}: no saved model (config.json missing)")
        model, processor = _load_policy(model_dir)
        with graders() as (accuracy, fmt), items_path.open("a", encoding="utf-8") as handle:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                responses = generate(model, processor, batch, max_new_tokens)
                for item in grade_items(batch, responses, accuracy, fmt):
                    done[item["id"]] = item
                    handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                handle.flush()
                if progress:
                    progress(len(done))
    return write_summary(out_dir, str(model_dir), [done[r["id"]] for r in rows])


@contextmanager
def graders() -> Iterator[tuple[Any, Any]]:
    """The project's ``accuracy`` and ``format`` rewards for :func:`grade_items`, made once per evaluation.

    The accuracy reward keeps a math-verify worker process between calls; it is closed on leaving.
    """
    from perception_r1.rewards import get_reward

    accuracy, fmt = get_reward("accuracy"), get_reward("format")
    try:
        yield accuracy, fmt
    finally:
        getattr(accuracy, "close", lambda: None)()


def write_summary(out_dir: Path, model: str, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Write ``summary.json`` (``model`` plus :func:`summarize` of ``items``), the marker of a finished evaluation."""
    summary = {"model": model, "grader": GRADER_VERSION, **summarize(items)}
    atomic_write_json(out_dir / SUMMARY_FILE, summary)
    return summary
