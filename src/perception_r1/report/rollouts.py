"""Rollout and evaluation-item records for the page: one compact JSON object each, read by ``assets/report.js``.

Rows of ``samples.jsonl`` are written by :mod:`perception_r1.train.callbacks` (``step``, ``prompt``,
``completion``, ``rewards``, ``advantage`` and the columns rewards logged through ``log_extra``, e.g.
``perception_verdicts``: one 0/1 per annotation, or the judge's failure reason). Experiment runs may add ``arm``,
``seed``, ``problem_id``, annotation texts and per-fact verdicts in richer shapes; every key is optional and an
unrecognised value is shown as such instead of failing the page.

Compact record keys (short: a page holds tens of thousands of rollouts):

* rollouts: ``r`` run index, ``s`` step, ``g`` problem key, ``p`` prompt index, ``c`` completion, ``w`` reward
  components ``{name: value}``, ``t`` total reward, ``a`` advantage, ``j`` judge status (``ok``, ``failed``,
  ``na`` not applicable, ``none`` no perception column, ``bad`` unreadable), ``je`` judge error, ``f`` facts
  ``[[text, state, reason], ...]`` with state 1 accepted, 0 rejected, -1 judge failed, ``im`` image indices,
  ``x`` extra tags ``{key: value}``;
* items: ``r``, ``b`` benchmark, ``g`` item id, ``p``, ``c`` response, ``xa`` extracted answer, ``gold``,
  ``ok`` correct (true/false/null), ``e`` error, ``gb`` graded by.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import mimetypes
from pathlib import Path
from typing import Any

# Keys that may hold the per-annotation verdicts, in order of preference.
VERDICT_KEYS = ("perception_verdicts", "fact_verdicts", "per_fact_verdicts", "verdicts", "perception")
ANNOTATION_KEYS = ("visual_annotations", "annotations", "facts")
IMAGE_KEYS = ("image", "images", "image_path", "image_paths")
PROBLEM_KEYS = ("problem_id", "id", "item_id")
KNOWN_KEYS = {"step", "prompt", "completion", "rewards", "advantage", "reward", *VERDICT_KEYS, *ANNOTATION_KEYS}
KNOWN_KEYS |= {*IMAGE_KEYS, *PROBLEM_KEYS, "judge_error", "perception_error"}
MAX_TAGS = 8  # extra scalar keys shown as tags on a rollout
MAX_IMAGE_BYTES = 2_000_000  # larger images are named, not embedded
MAX_TOTAL_IMAGE_BYTES = 60_000_000  # embedded images per page
TEXT_KEYS = ("fact", "annotation", "text", "claim")
VERDICT_VALUE_KEYS = ("verdict", "accepted", "value", "correct", "ok", "label")
REASON_KEYS = ("error", "reason", "detail")


def finite(value: Any) -> float | None:
    """A finite number as float, else None (NaN/inf/bool/strings are not plotted or summed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def problem_key(row: dict[str, Any], prompt: str) -> str:
    """The problem a rollout answers: its explicit id, else a short hash of the prompt and its image references
    (equal across runs; two figures asked the same question stay apart when the rows name their images)."""
    for key in PROBLEM_KEYS:
        value = row.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    images = [ref for ref in _image_refs(row) if isinstance(ref, str) and not ref.startswith("data:")]
    text = "\n".join([prompt, *images])
    return "prompt-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def _verdict_state(value: Any) -> int | None:
    """1 accepted, 0 rejected, -1 failed (None), or None when ``value`` is not a verdict."""
    if value is None:
        return -1
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in {"1", "0", "yes", "no", "true", "false", "accepted"}:
        return int(value.strip().lower() in {"1", "yes", "true", "accepted"})
    if isinstance(value, str) and value.strip().lower() in {"rejected"}:
        return 0
    if isinstance(value, str) and value.strip().lower() in {"failed", "error", "judge_failed"}:
        return -1
    return None


def _fact_from_dict(entry: dict[str, Any]) -> list[Any] | None:
    text = next((str(entry[k]) for k in TEXT_KEYS if entry.get(k) is not None), None)
    reason = next((str(entry[k]) for k in REASON_KEYS if entry.get(k)), None)
    status = str(entry.get("status") or "").lower()
    if status in {"failed", "error"}:
        return [text, -1, reason or "judge failed"]
    for key in VERDICT_VALUE_KEYS:
        if key in entry:
            state = _verdict_state(entry[key])
            if state is not None:
                return [text, state, reason if state == -1 else None]
    return [text, -1, reason] if reason else None


def read_verdicts(row: dict[str, Any]) -> tuple[str, str | None, list[list[Any]]]:
    """The perception judgment of a sample row.

    Returns:
        ``(status, error, facts)``: status ``ok``, ``failed`` (error = the judge's reason), ``na`` (no
        annotations), ``none`` (the row has no verdict column) or ``bad`` (unrecognised value, error says what);
        facts are ``[text or None, state, reason or None]`` with state 1 accepted, 0 rejected, -1 failed.
    """
    key = next((k for k in VERDICT_KEYS if k in row), None)
    texts = _annotation_texts(row)
    if key is None:
        if row.get("judge_error") or row.get("perception_error"):
            return "failed", str(row.get("judge_error") or row.get("perception_error")), []
        return "none", None, []
    status, error, facts = _parse_verdict_value(row[key])
    if status == "bad":
        error = f"{key}: {error}"
    for i, fact in enumerate(facts):
        if fact[0] is None and i < len(texts):
            fact[0] = texts[i]
    return status, error, facts


def _parse_verdict_value(value: Any) -> tuple[str, str | None, list[list[Any]]]:
    if value is None:
        return "na", None, []
    if isinstance(value, str):
        return "failed", value or "judge failed (no reason given)", []
    if isinstance(value, dict):
        if "status" in value or "verdicts" in value:  # a Judgment-like object
            status = str(value.get("status") or "ok").lower()
            if status in {"failed", "error"}:
                return "failed", str(value.get("error") or "judge failed (no reason given)"), []
            if status == "not_applicable":
                return "na", None, []
            return _parse_verdict_value(value.get("verdicts"))
        facts = []
        for text, verdict in value.items():  # {fact text: verdict}
            state = _verdict_state(verdict) if not isinstance(verdict, dict) else None
            fact = [str(text), state, None] if state is not None else _fact_from_dict(verdict or {})
            if fact is None:
                return "bad", f"unrecognised verdict {verdict!r} for {text!r}", []
            if fact[0] is None:
                fact[0] = str(text)
            facts.append(fact)
        return "ok", None, facts
    if isinstance(value, list):
        facts = []
        for i, entry in enumerate(value):
            fact = _fact_from_dict(entry) if isinstance(entry, dict) else None
            if fact is None and not isinstance(entry, dict):
                state = _verdict_state(entry)
                fact = None if state is None else [None, state, "judge failed" if state == -1 else None]
            if fact is None:
                return "bad", f"unrecognised verdict {entry!r} at position {i}", []
            facts.append(fact)
        status = "failed" if facts and all(f[1] == -1 for f in facts) else "ok"
        return status, ("judge failed on every fact" if status == "failed" else None), facts
    return "bad", f"unrecognised verdict value of type {type(value).__name__}", []


def _annotation_texts(row: dict[str, Any]) -> list[str]:
    for key in ANNOTATION_KEYS:
        value = row.get(key)
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


def total_reward(row: dict[str, Any], components: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """The row's ``reward`` if logged, else the weighted sum of its components (None ones skipped, like TRL's
    nansum; unknown weights count 1); None when no component has a value."""
    logged = finite(row.get("reward"))
    if logged is not None:
        return logged
    values = [(weights.get(name, 1.0), v) for name, v in components.items() if v is not None]
    return round(sum(w * v for w, v in values), 6) if values else None


class ImageTable:
    """Images referenced by rows, embedded once each as data URIs (or kept as a name when not embeddable)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []
        self._index: dict[str, int] = {}
        self._bytes = 0

    def add(self, ref: Any, base: Path) -> int | None:
        """Index of the image ``ref`` (a data URI, or a path relative to ``base`` or absolute); None if no image."""
        if not isinstance(ref, str) or not ref.strip():
            return None
        key = ref if ref.startswith("data:") else str((base / ref) if not Path(ref).is_absolute() else Path(ref))
        if key in self._index:
            return self._index[key]
        self._index[key] = len(self.entries)
        self.entries.append(self._entry(ref, Path(key)))
        return self._index[key]

    def _entry(self, ref: str, path: Path) -> dict[str, str]:
        if ref.startswith("data:image/"):
            return {"src": ref, "name": "inline image"}
        if ref.startswith(("http://", "https://")):
            return {"name": ref, "why": "remote image (not fetched: the report works offline)"}
        if not path.is_file():
            return {"name": ref, "why": "image file not found"}
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES or self._bytes + size > MAX_TOTAL_IMAGE_BYTES:
            return {"name": ref, "why": f"image not embedded ({size} bytes; page limit reached or file too large)"}
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        if not mime.startswith("image/"):
            return {"name": ref, "why": f"not an image ({mime})"}
        self._bytes += size
        return {"src": f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii"), "name": ref}


def _image_refs(row: dict[str, Any]) -> list[Any]:
    for key in IMAGE_KEYS:
        value = row.get(key)
        if isinstance(value, list):
            return value[:4]
        if value is not None:
            return [value]
    return []


def _tags(row: dict[str, Any]) -> dict[str, Any]:
    """Scalar keys the report does not otherwise show (``arm``, ``seed``...), for display and search."""
    tags = {}
    for key, value in row.items():
        if key in KNOWN_KEYS or isinstance(value, (dict, list)) or value is None:
            continue
        tags[str(key)] = finite(value) if isinstance(value, float) else value
        if len(tags) >= MAX_TAGS:
            break
    return tags


def _step(value: Any) -> int | None:
    """A step number (an integral float such as 3.0 counts), else None."""
    number = finite(value)
    return int(number) if number is not None and number.is_integer() else None


def _text(value: Any) -> str:
    """A text field: strings as they are, None as empty, anything else (a conversation...) as JSON."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False, default=str)


class PromptTable:
    """Distinct prompt texts (a prompt repeats for every rollout of its group and at every step)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.texts)
            self.texts.append(text)
        return self._index[text]


def rollout_record(
    row: dict[str, Any],
    run_index: int,
    weights: dict[str, float],
    prompts: PromptTable,
    images: ImageTable,
    base: Path,
) -> dict[str, Any]:
    """The compact record of one ``samples.jsonl`` row (see the module docstring); missing keys become None."""
    prompt = _text(row.get("prompt"))
    rewards_field = row.get("rewards")
    raw_rewards = rewards_field if isinstance(rewards_field, dict) else {}
    components = {str(k): finite(v) for k, v in raw_rewards.items()}
    status, error, facts = read_verdicts(row)
    record: dict[str, Any] = {
        "r": run_index,
        "s": _step(row.get("step")),
        "g": problem_key(row, prompt),
        "p": prompts.add(prompt),
        "c": _text(row.get("completion")),
        "w": components,
        "t": total_reward(row, components, weights),
        "a": finite(row.get("advantage")),
        "j": status,
    }
    if error:
        record["je"] = error
    if facts:
        record["f"] = facts
    indices = [i for i in (images.add(ref, base) for ref in _image_refs(row)) if i is not None]
    if indices:
        record["im"] = indices
    tags = _tags(row)
    if tags:
        record["x"] = tags
    return record


def item_record(row: dict[str, Any], run_index: int, bench: str, prompts: PromptTable) -> dict[str, Any]:
    """The compact record of one evaluation item (``items/<bench>.jsonl``); missing keys become None."""
    prompt = _text(row.get("prompt"))
    correct = row.get("correct")
    return {
        "r": run_index,
        "b": str(row.get("benchmark") or bench),
        "g": str(row.get("id")) if row.get("id") is not None else "",
        "p": prompts.add(prompt),
        "c": _text(row.get("response")),
        "xa": None if row.get("extracted") is None else str(row.get("extracted")),
        "gold": None if row.get("gold") is None else str(row.get("gold")),
        "ok": correct if isinstance(correct, bool) else None,
        "e": str(row["error"]) if row.get("error") else None,
        "gb": row.get("graded_by") if isinstance(row.get("graded_by"), str) else None,
    }
