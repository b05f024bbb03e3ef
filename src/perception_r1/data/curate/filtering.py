"""``data filter``: keep teacher trajectories whose final answer verifies against the ground truth.

Verification is the project's accuracy reward (``perception_r1.rewards.get_reward("accuracy")``: answer from
the ``<answer>`` block, gold wrapped for math-verify, multiple-choice letters mapped), which the caller passes in:
the data layer does not import the rewards (the CLI and the tests build it). One trajectory per problem is kept:
the first correct one in sample order (``select="first"``) or the shortest (``"shortest"``).
"""

from __future__ import annotations

from typing import Any

from perception_r1.data.curate.common import StepResult, reject

SELECT = ("first", "shortest")


def filter_trajectories(rows: list[dict[str, Any]], *, accuracy: Any, select: str = "first") -> StepResult:
    """Keep one verified trajectory per row as its ``cot``.

    Args:
        rows: Rows with ``trajectories`` (from :func:`perception_r1.data.curate.distill.distill`).
        select: ``"first"`` or ``"shortest"`` correct trajectory.
        accuracy: An accuracy reward with ``score_texts(responses, golds, choices)``, e.g.
            ``perception_r1.rewards.get_reward("accuracy")``.

    Returns:
        Rows with ``cot`` set and ``n_correct`` (correct trajectories of the k), ``trajectories`` removed.

    Raises:
        ValueError: unknown ``select``; KeyError: a row without ``trajectories``.
    """
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}, got {select!r}")
    flat, owner = [], []
    for i, row in enumerate(rows):
        if "trajectories" not in row:
            raise KeyError(f"row {i} (id {row.get('id')!r}) has no 'trajectories' column: run 'data distill' first")
        for text in row["trajectories"]:
            flat.append((text, row["answer"], row.get("choices")))
            owner.append(i)
    scores = accuracy.score_texts([t for t, _, _ in flat], [g for _, g, _ in flat], [c for *_, c in flat])
    per_row: list[list[tuple[str, float | None]]] = [[] for _ in rows]
    for i, (text, *_), score in zip(owner, flat, scores, strict=True):
        per_row[i].append((text, score))
    out, rejects, n_correct_total = [], [], 0
    for row, scored in zip(rows, per_row, strict=True):
        correct = [text for text, score in scored if score == 1.0]
        n_correct_total += len(correct)
        if not correct:
            unverifiable = sum(1 for _, score in scored if score is None)
            rejects.append(
                reject(
                    row,
                    "filter",
                    f"no trajectory matches the ground truth: {len(scored)} tried, {unverifiable} unverifiable",
                )  # fmt: skip
            )
            continue
        cot = correct[0] if select == "first" else min(correct, key=len)
        kept = {k: v for k, v in row.items() if k != "trajectories"}
        out.append({**kept, "cot": cot, "n_correct": len(correct)})
    summary = {
        "input": len(rows),
        "output": len(out),
        "rejected": len(rejects),
        "trajectories": len(flat),
        "correct_trajectories": n_correct_total,
        "select": select,
        "retention": round(len(out) / len(rows), 4) if rows else None,
    }
    return StepResult(out, rejects, summary)
