"""A seeded corpus of GRPO-shaped responses for checking and benchmarking the accuracy reward.

``make_corpus(n_prompts=128, group=8)`` yields ``n_prompts * group`` items: per prompt one gold answer (integer,
decimal, fraction, radical, pi, degree or multiple choice) and ``group`` responses mixing the same form, an
equivalent form, near misses, units, a box only in ``<think>``, and no answer — the shapes a policy produces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

KINDS = ("integer", "decimal", "fraction", "radical", "pi", "degree", "choice")


@dataclass(frozen=True)
class Item:
    """One scored response: its text, gold answer, optional choices and the answer it states."""

    prompt_id: int
    kind: str
    response: str
    gold: str
    choices: Any
    stated: str | None


def _wrap(answer: str | None, rng: random.Random) -> str:
    if answer is None:
        return "<think>\nI cannot tell.\n</think>\n<answer>\nNo idea.\n</answer>"
    if rng.random() < 0.1:  # the box only inside <think>: must not count
        return f"<think>\nMaybe \\boxed{{{answer}}}\n</think>\n<answer>\nSee above.\n</answer>"
    return f"<think>\nCompute step by step.\n</think>\n<answer>\nThe answer is \\boxed{{{answer}}}.\n</answer>"


def _forms(kind: str, rng: random.Random) -> tuple[str, list[str], list[str], Any]:
    """Gold, equivalent forms, wrong forms and choices for one prompt of ``kind``."""
    a, b = rng.randint(2, 60), rng.randint(2, 9)
    if kind == "integer":
        return str(a), [str(a), f"{a}.0", f"{a} cm"], [str(a + 1), str(a - 1), str(2 * a)], None
    if kind == "decimal":
        x = round(a + rng.randint(1, 99) / 100, 2)
        return str(x), [str(x), f"{x}0"], [str(round(x + 0.1, 2)), str(round(x * 2, 2))], None
    if kind == "fraction":
        p, q = a, a + b
        return (
            f"\\frac{{{p}}}{{{q}}}",
            [f"\\frac{{{2 * p}}}{{{2 * q}}}", f"{p}/{q}", f"\\dfrac{{{p}}}{{{q}}}"],
            [f"\\frac{{{q}}}{{{p}}}", f"\\frac{{{p + 1}}}{{{q}}}"],
            None,
        )
    if kind == "radical":
        k, r = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
        return (
            f"{k}\\sqrt{{{r}}}",
            [f"{k}\\sqrt{{{r}}}", f"\\sqrt{{{k * k * r}}}", f"{k} \\sqrt {r}"],
            [f"{k}", f"{k + 1}\\sqrt{{{r}}}", f"{k}\\sqrt{{{r + 1}}}"],
            None,
        )
    if kind == "pi":
        return f"{a}\\pi", [f"{a}\\pi", f"{a} \\pi", f"\\pi \\cdot {a}"], [str(a), f"{a + 1}\\pi", f"{a}"], None
    if kind == "degree":
        d = rng.randint(10, 170)
        return f"{d}", [f"{d}^\\circ", f"{d}°", f"{d}^{{\\circ}}"], [f"{180 - d}^\\circ", f"{d + 10}"], None
    options = [str(a + i * b) for i in range(4)]
    gold_letter = rng.randrange(4)
    letter = "ABCD"[gold_letter]
    wrong = "ABCD"[(gold_letter + 1) % 4]
    return letter, [letter, f"({letter})", options[gold_letter]], [wrong, options[(gold_letter + 2) % 4]], options


def make_corpus(n_prompts: int = 128, group: int = 8, seed: int = 0) -> list[Item]:
    """Deterministic corpus of ``n_prompts * group`` items, an equal share of each answer kind."""
    rng = random.Random(seed)
    items = []
    for pid in range(n_prompts):
        kind = KINDS[pid % len(KINDS)]
        gold, right, wrong, choices = _forms(kind, rng)
        for _ in range(group):
            roll = rng.random()
            stated = rng.choice(right) if roll < 0.55 else rng.choice(wrong) if roll < 0.92 else None
            items.append(Item(pid, kind, _wrap(stated, rng), gold, choices, stated))
    return items
