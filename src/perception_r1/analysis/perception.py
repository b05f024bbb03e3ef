"""The paper's perception analysis: on a seeded subset of problems with visual annotations, label each of two
models' responses as perception-correct or not with a judge, then test the discordant pairs with McNemar's exact
test and list the discordant items (docs/reference.md#perception-analysis-mcnemar).

Inputs:
    * annotations: rows with an id and either ``annotations`` / ``visual_annotations`` (list of strings) or
      ``visual_key_info`` (the reference ``<info1>...</info1>`` string), in a JSONL file, or in a parquet file or
      ``datasets`` folder such as the output of ``perception-r1 data annotate`` (``OUT/data.parquet``; how to make
      one for MathVista's geometry problems: docs/evaluation.md, "Perception analysis");
    * two response files, e.g. ``items/mathvista.jsonl`` of two ``perception-r1 eval`` runs (``id``,
      ``response``, ``metadata``).

A response is perception-correct when its judge score (fraction of annotations reflected) is at least
``threshold``. A failed judgment (judge error) is never counted as "incorrect": its item leaves the test and is
listed under ``failed``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.analysis.mcnemar import Where, matches_where, mcnemar
from perception_r1.io_utils import JsonlError, iter_jsonl


def _annotation_rows(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` of a JSONL file (``file:line``), or of a parquet file / ``datasets`` folder (``file[i]``)."""
    if Path(path).is_dir() or Path(path).suffix.lower() == ".parquet":
        from perception_r1.data.io import DATA_SOURCES, detect_kind

        table = DATA_SOURCES.get(detect_kind(path))(str(path), split=None, config=None)
        for i, row in enumerate(table.rows):
            yield f"{path}[{i}]", row
        return
    for line_no, parsed in iter_jsonl(path):
        if isinstance(parsed, JsonlError):
            raise ValueError(str(parsed))
        yield f"{path}:{line_no}", parsed


def load_annotations(path: str | Path, id_field: str = "id") -> dict[str, list[str]]:
    """``{id: [annotation, ...]}`` from ``annotations`` or ``visual_annotations`` lists or ``visual_key_info``
    strings (file formats: module docstring).

    Raises:
        ValueError: naming the file and row and the id for a row without annotations, malformed
            ``visual_key_info`` or a duplicate id.
    """
    from perception_r1.data.schema import parse_visual_key_info

    out: dict[str, list[str]] = {}
    for where, row in _annotation_rows(path):
        if id_field not in row:
            raise ValueError(f"{where}: no id field {id_field!r}")
        item_id = str(row[id_field])
        column = next((c for c in ("annotations", "visual_annotations") if row.get(c) is not None), None)
        if column is not None:
            anns = row[column]
            if not isinstance(anns, str) and hasattr(anns, "tolist"):  # numpy arrays from parquet
                anns = anns.tolist()
            if not isinstance(anns, list) or not all(isinstance(a, str) for a in anns):
                got = "one string" if isinstance(anns, str) else type(anns).__name__
                hint = " (a '<info1>...</info1>' string belongs in 'visual_key_info')" if isinstance(anns, str) else ""
                raise ValueError(f"{where}: item {item_id!r}: {column!r} must be a list of strings, got {got}{hint}")
        elif row.get("visual_key_info") is not None:
            try:
                anns = parse_visual_key_info(row["visual_key_info"])
            except ValueError as exc:
                raise ValueError(f"{where}: item {item_id!r}: {exc}") from None
        else:
            raise ValueError(
                f"{where}: item {item_id!r} has neither 'annotations' nor 'visual_key_info' (nor the schema's "
                "'visual_annotations')"
            )
        if item_id in out:
            raise ValueError(f"{where}: duplicate id {item_id!r}")
        out[item_id] = anns
    return out


def selection_counts(
    annotations: Mapping[str, list[str]],
    responses_a: Mapping[str, Mapping[str, Any]],
    responses_b: Mapping[str, Mapping[str, Any]],
) -> dict[str, int]:
    """Why items cannot enter the analysis, counted (nothing is dropped silently).

    Returns:
        ``no_annotations`` (an empty annotation list, or responses for an id the annotations file lacks),
        ``no_response_a`` / ``no_response_b`` (annotated, but that model has no non-empty response).
    """
    ids = set(annotations) | set(responses_a) | set(responses_b)
    return {
        "no_annotations": sum(1 for i in ids if not annotations.get(i)),
        "no_response_a": sum(1 for i in annotations if annotations[i] and not responses_a.get(i, {}).get("response")),
        "no_response_b": sum(1 for i in annotations if annotations[i] and not responses_b.get(i, {}).get("response")),
    }


def _eligible(
    annotations: Mapping[str, list[str]],
    responses_a: Mapping[str, Mapping[str, Any]],
    responses_b: Mapping[str, Mapping[str, Any]],
    where: Where | None,
) -> tuple[list[str], list[str]]:
    """The ids with annotations and a response from both models, and those of them matching ``where``."""
    both = [
        i
        for i in annotations
        if annotations[i] and responses_a.get(i, {}).get("response") and responses_b.get(i, {}).get("response")
    ]
    return both, [i for i in both if matches_where(responses_a[i], where or {})]


def select_items(
    annotations: Mapping[str, list[str]],
    responses_a: Mapping[str, Mapping[str, Any]],
    responses_b: Mapping[str, Mapping[str, Any]],
    n: int | None,
    seed: int,
    where: Where | None = None,
) -> list[str]:
    """Seeded sample of ``n`` ids that have annotations and a response from both models (and match ``where``
    on model A's record: dotted field -> value, list fields match by membership). Sorted before sampling, so the
    subset depends only on the ids and the seed."""
    pool = sorted(_eligible(annotations, responses_a, responses_b, where)[1])
    if n is None or n >= len(pool):
        return pool
    return sorted(random.Random(seed).sample(pool, n))


def selection_summary(
    annotations: Mapping[str, list[str]],
    responses_a: Mapping[str, Mapping[str, Any]],
    responses_b: Mapping[str, Mapping[str, Any]],
    n: int | None,
    selected: Sequence[str],
    where: Where | None = None,
) -> dict[str, Any]:
    """How many items were asked for, how many could enter the analysis and why the others could not.

    Args:
        n: The subset size asked for (None: every eligible item).
        selected: The ids :func:`select_items` chose.
        where: The filter on model A's records.

    Returns:
        ``requested`` (n), ``eligible`` (items :func:`select_items` could draw from), ``selected``, and the
        left-out counts: ``no_annotations``, ``no_response_a``, ``no_response_b`` (:func:`selection_counts`) and
        ``not_matching_where`` (annotated with both responses, but filtered out by ``where``).
    """
    both, eligible = _eligible(annotations, responses_a, responses_b, where)
    return {
        "requested": n,
        "eligible": len(eligible),
        "selected": len(selected),
        **selection_counts(annotations, responses_a, responses_b),
        "not_matching_where": len(both) - len(eligible),
    }


def selection_note(summary: Mapping[str, Any]) -> str:
    """One sentence on the analysed items: how many, out of how many asked for and eligible, and why fewer.

    Example:
        >>> selection_note({"requested": 5, "eligible": 3, "selected": 3})
        'analysed 3 items, not the 5 asked for: only 3 items have annotations and a response from both models'
    """
    selected, requested, eligible = summary["selected"], summary["requested"], summary["eligible"]
    left_out = ", ".join(
        f"{k.replace('_', ' ')}: {summary[k]}"
        for k in ("no_annotations", "no_response_a", "no_response_b", "not_matching_where")
        if summary.get(k)
    )
    detail = f" (left out: {left_out})" if left_out else ""
    if requested is not None and selected < requested:
        where = " and match --where" if summary.get("not_matching_where") else ""
        return (
            f"analysed {selected} items, not the {requested} asked for: only {eligible} items have annotations and "
            f"a response from both models{where}{detail}"
        )
    if requested is None:
        return f"analysed all {selected} eligible items{detail}"
    return f"analysed a seeded sample of {selected} of the {eligible} eligible items{detail}"


@dataclass
class PerceptionReport:
    """Result of the analysis: labels per model, the McNemar test and the discordant items."""

    ids: list[str]
    labels: dict[str, dict[str, dict[str, Any]]]  # model -> id -> {"correct", "score", "verdicts", "status"}
    test: dict[str, Any]
    discordant: dict[str, list[str]]
    failed: dict[str, list[str]] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)  # selection_summary of the analysed items

    def failure_reasons(self) -> dict[str, dict[str, int]]:
        """Failed judgments per model and reason (connection, timeout, HTTP status, invalid reply, other)."""
        out: dict[str, dict[str, int]] = {}
        for name, ids in self.failed.items():
            counts: dict[str, int] = {}
            for i in ids:
                reason = self.labels[name][i].get("reason") or "other"
                counts[reason] = counts.get(reason, 0) + 1
            out[name] = counts
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``perception_analysis.json`` payload: selection size, test, discordant and failed ids, labels."""
        return {
            "n_selected": len(self.ids),
            "selection": self.selection,
            "mcnemar": self.test,
            "discordant": self.discordant,
            "failed": self.failed,
            "failure_reasons": self.failure_reasons(),
            "labels": self.labels,
        }


def judge_labels(judge: Any, cases: Sequence[tuple[str, list[str], str]], threshold: float) -> dict[str, dict]:
    """Judge ``(id, annotations, response)`` cases; returns ``{id: {"correct", "score", "verdicts", "status",
    "error"}}`` with ``correct = score >= threshold`` (``None`` for a failed judgment)."""
    from perception_r1.judge.judges import failure_reason, judge_sync

    judgments = judge_sync(judge, [(a, r) for _, a, r in cases], close=True)

    out = {}
    for (item_id, _, _), j in zip(cases, judgments, strict=True):
        score = j.score if j.status == "ok" else None  # only an ok judgment has a score that decides
        ok = score is not None
        out[item_id] = {
            "correct": (score >= threshold) if score is not None else None,
            "score": j.score,
            "verdicts": j.verdicts,
            "status": j.status,
            "error": j.error,
            "reason": None if ok else failure_reason(j.error),
        }
    return out


def analyze_perception(
    annotations: Mapping[str, list[str]],
    responses: Mapping[str, Mapping[str, Mapping[str, Any]]],
    ids: Sequence[str],
    judge_factory: Any,
    threshold: float = 1.0,
    method: str = "exact",
) -> PerceptionReport:
    """Label both models' responses on ``ids`` and run McNemar on the pairs where both judgments succeeded.

    Args:
        responses: ``{model name: {id: record with "response"}}`` for exactly two models (A first).
        judge_factory: Zero-argument callable building a judge (one per model: judges close after use).
        threshold: Minimum judge score for "perception correct" (1.0: every annotation reflected).

    Raises:
        ValueError: unless exactly two models are given, or for a threshold outside [0, 1].
    """
    if len(responses) != 2:
        raise ValueError(f"the analysis compares two models, got {len(responses)}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    (name_a, resp_a), (name_b, resp_b) = responses.items()
    labels = {
        name: judge_labels(judge_factory(), [(i, annotations[i], resp[i]["response"]) for i in ids], threshold)
        for name, resp in ((name_a, resp_a), (name_b, resp_b))
    }
    failed = {name: [i for i in ids if labels[name][i]["correct"] is None] for name in labels}
    paired = [i for i in ids if labels[name_a][i]["correct"] is not None and labels[name_b][i]["correct"] is not None]
    b_ids = [i for i in paired if labels[name_a][i]["correct"] and not labels[name_b][i]["correct"]]
    c_ids = [i for i in paired if not labels[name_a][i]["correct"] and labels[name_b][i]["correct"]]
    result = mcnemar(len(b_ids), len(c_ids), method=method, n_pairs=len(paired))
    test = result.to_json()
    test.update(model_a=name_a, model_b=name_b, threshold=threshold)
    discordant = {f"{name_a} only": b_ids, f"{name_b} only": c_ids}
    return PerceptionReport(list(ids), labels, test, discordant, failed)


def markdown_report(report: PerceptionReport, annotations: Mapping[str, list[str]]) -> str:
    """Human-readable report: the test, then each discordant item with its annotations and both verdict lists."""
    t = report.test
    a, b = t["model_a"], t["model_b"]
    lines = [
        f"# Perception analysis: {a} vs {b}",
        "",
        f"- items selected: {len(report.ids)}; paired (both judged): {t['n_pairs']}",
        *([f"- {selection_note(report.selection)}"] if report.selection else []),
        f"- perception correct = judge score >= {t['threshold']}",
        f"- discordant: {a} only = {t['b']}, {b} only = {t['c']}",
        f"- McNemar ({t['method']}): p = {t['p_value']:.4g}",
    ]
    for name, ids in report.failed.items():
        if ids:
            lines.append(f"- failed judgments for {name} (left out): {', '.join(ids)}")
    for title, ids in report.discordant.items():
        lines += ["", f"## Perception correct for {title} ({len(ids)})", ""]
        for i in ids:
            va, vb = report.labels[a][i]["verdicts"], report.labels[b][i]["verdicts"]
            lines.append(f"- `{i}`: {a} {va}, {b} {vb}; annotations: " + "; ".join(annotations[i]))
    return "\n".join(lines) + "\n"
