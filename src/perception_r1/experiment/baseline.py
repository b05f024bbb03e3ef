"""The image-blind baseline: what a policy that never looks at the figure scores on the same problems.

It is the experiment's *chance level*. A policy can learn the train split's value distribution without seeing a
single figure (which values are common for a circle's diameter, which angles for an isosceles apex); any score
at or below this baseline is not perception. For each evaluated problem the blind policy writes the train
split's most common answer to the same question text, as the train split's most common solution with that
answer (the most common solution of the problem's family where no train problem asks the same question). The
same exact grader as every policy scores it, so its figures sit in the same table and its per-problem outcomes
enter the same McNemar tests ("does the warm-up read the figure better than a guess?").

On a multiple-choice row (one with ``choices``) it picks, among the row's four options, the one whose value the
train split most often gives as the answer to the same question (the question without its options; else the
problem's family), ties and unseen values going to the earliest letter, and writes the most common train solution
with that value (else the question's most common solution), its last sentence and ``\\boxed{}`` letter made to name
the option picked (:func:`perception_r1.data.synth.choices.relabel`). The correct letter is uniform over A-D, so
where train says nothing this is right 1 time in 4; above that only as far as the train split's values say.

Example:
    >>> train = [{"problem": "Find x.", "answer": "4", "cot": "x = 4", "meta": "{}"},
    ...          {"problem": "Find x.", "answer": "4", "cot": "so x = 4", "meta": "{}"},
    ...          {"problem": "Find x.", "answer": "5", "cot": "x = 5", "meta": "{}"}]
    >>> blind_solutions(train, [{"problem": "Find x.", "meta": "{}"}])
    ['x = 4']
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.data.synth.choices import question_stem, relabel
from perception_r1.rewards.answer import choice_map


def _family(row: Mapping[str, Any]) -> str | None:
    return json.loads(row.get("meta") or "{}").get("family")


def _modal_solution(rows: Sequence[Mapping[str, Any]]) -> str:
    """The most common solution among ``rows`` with their most common answer (ties: the earliest row's)."""
    answer = Counter(r["answer"] for r in rows).most_common(1)[0][0]
    return Counter(r.get("cot") or "" for r in rows if r["answer"] == answer).most_common(1)[0][0]


def blind_solutions(train: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One image-blind response per row of ``rows``, learned from ``train`` without its images.

    Args:
        train: Train-split schema rows (``problem``, ``answer``, ``cot``, ``meta`` with the family).
        rows: The rows to answer (validation or test).

    Returns:
        One response per row, in order.

    Raises:
        ValueError: a row whose question and family both never occur in ``train`` (naming the row).
    """
    by_question: dict[str, list[Mapping[str, Any]]] = {}
    by_family: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in train:
        by_question.setdefault(_question(r), []).append(r)
        by_family.setdefault(_family(r), []).append(r)
    cache: dict[tuple[str, str | None], str] = {}
    out = []
    for row in rows:
        key = (_question(row), _family(row))
        pool = by_question.get(key[0]) or by_family.get(key[1])
        if not pool:
            raise ValueError(
                f"row {row.get('id', '?')!r}: neither its question nor its family {key[1]!r} occurs in the "
                "train split, so the image-blind baseline has nothing to answer with"
            )
        if row.get("choices"):  # the pick depends on the row's own options
            out.append(_blind_choice(pool, choice_map(row["choices"])))
            continue
        if key not in cache:
            cache[key] = _modal_solution(pool)
        out.append(cache[key])
    return out


def _question(row: Mapping[str, Any]) -> str:
    """The question a row asks: its problem text, without the options of a multiple-choice row."""
    return question_stem(row["problem"]) if row.get("choices") else row["problem"]


def _value(row: Mapping[str, Any]) -> str:
    """The answer's value: the gold option's text on a multiple-choice row, else the answer itself."""
    return choice_map(row.get("choices")).get(str(row["answer"]).strip().upper(), row["answer"])


def _blind_choice(pool: Sequence[Mapping[str, Any]], options: Mapping[str, str]) -> str:
    """The blind response to a multiple-choice row with ``options`` (letter -> text), learned from ``pool``."""
    seen = Counter(_value(r) for r in pool)
    letter = max(options, key=lambda L: (seen[options[L]], -ord(L)))  # most often the answer; ties: earliest
    value = options[letter]
    with_value = [r for r in pool if _value(r) == value] or pool
    solutions = Counter(relabel(r.get("cot") or "", value, letter) for r in with_value)
    return solutions.most_common(1)[0][0]


def evaluate_blind(train: Sequence[Mapping[str, Any]], rows: Sequence[dict[str, Any]], out_dir: Any) -> dict[str, Any]:
    """Grade the blind responses to ``rows`` like a policy's: ``items.jsonl`` and ``summary.json`` in ``out_dir``.

    Returns:
        The summary (:func:`perception_r1.experiment.evaluate.summarize` plus ``model: "image-blind"``).
    """
    from perception_r1.experiment.evaluate import ITEMS_FILE, grade_items, graders, write_summary
    from perception_r1.io_utils import atomic_write_jsonl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with graders() as (accuracy, fmt):
        items = grade_items(rows, blind_solutions(train, rows), accuracy, fmt)
    atomic_write_jsonl(out / ITEMS_FILE, items)
    return write_summary(out, "image-blind", items)
