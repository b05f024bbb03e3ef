"""Multiple-choice versions of the testbed's problems: four options, the correct one's letter as the gold answer.

The four options are answers of the same kind near the true one: the answers a reader gets who reads one needed
value of the figure a few grid steps off (an angle label one 2° step too large, a side one unit too short, a
radius one unit off). Each family lists these *nearby answers* for offsets -3..3 (0: the answer; ascending in
value; an offset whose misread value is impossible, a zero length or a flat angle, is missing). A window of four
consecutive offsets that holds 0 is drawn uniformly among the valid ones; the correct option takes a balanced
letter (:func:`balanced_position`: each family's problems take A, B, C and D once in every four, in a seeded
order) and the three others the remaining letters in a seeded random order. So the correct letter is uniform over
A-D, exactly so per family over every four problems, and independent of the values.

Why not the other values shown in the figure: in ``triangle_angle_sum`` the two shown angles and the answer sum
to 180°, so such options give the answer away without the figure. Four consecutive nearby answers carry no such
pattern: from the options alone, each is the answer at its own window position, and a guess is right 1 time in 4
(up to the prior of the values, which the image-blind baseline measures).

The problem text lists the options as ``(A) 64`` lines after ``Choices:`` (as :mod:`perception_r1.eval.prompts`
lists a benchmark's options); the ``choices`` column holds the option texts in letter order, in the answer's own
form (``12\\pi``), so :class:`perception_r1.rewards.accuracy.AccuracyReward` credits the letter and also the
option's value. The solution states the facts, computes the value and ends with the letter in ``\\boxed{}``.

Example:
    >>> near = nearby_answers(lambda j: 60 + 2 * j)
    >>> near[-3], near[0], near[3]
    ('54', '60', '66')
    >>> question_stem("<image>Find x.\\nChoices:\\n(A) 1\\n(B) 2")
    '<image>Find x.'
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from perception_r1.data.facts import format_number

if TYPE_CHECKING:
    from perception_r1.data.synth.problem import SynthProblem

OPTION_LETTERS = "ABCD"
# Nearby answers are listed for offsets -MAX_OFFSET..MAX_OFFSET: enough for any window of four that holds 0.
MAX_OFFSET = len(OPTION_LETTERS) - 1
CHOICES_HEADER = "\nChoices:\n"
LETTER_HINT = "Answer with the letter of the correct option."
_FINAL = re.compile(r"So the answer is [^\n]*?, which is option \([A-Z]\)\.")
_BOXED_LETTER = re.compile(r"\\boxed\{[A-Z]\}")


def nearby_answers(answer_at: Callable[[int], float | str | None]) -> dict[int, str]:
    """Answer texts for offsets ``-3..3`` (0: the answer); ``answer_at`` returns None where an offset is impossible.

    Numbers are written as the generator writes answers (``format_number``: ``60``, ``7.5``); strings as they are.
    """
    out: dict[int, str] = {}
    for j in range(-MAX_OFFSET, MAX_OFFSET + 1):
        value = answer_at(j)
        if value is not None:
            out[j] = value if isinstance(value, str) else format_number(value)
    return out


def display(answer: str) -> str:
    """An answer as the solutions write it in words (``12\\pi`` -> ``12π``)."""
    return answer.replace("\\pi", "π")


def final_sentence(answer: str, letter: str) -> str:
    """The last sentence of a multiple-choice solution: the computed value and its option's letter."""
    return f"So the answer is {display(answer)}, which is option ({letter})."


def balanced_position(seed: int, i: int, n_families: int) -> int:
    """The correct option's position (0-3: A-D) of problem ``i`` when ``n_families`` families cycle.

    Problems ``4k·n .. 4(k+1)·n - 1`` hold four problems of each family; those four take the four positions once
    each, in an order drawn from ``(seed, k, family)``. So every letter is the answer equally often, per family,
    in every such block, and item ``i`` still depends only on the seed, ``i`` and the options.

    Example:
        >>> sorted(balanced_position(0, i, 6) for i in range(2, 24, 6))  # family 2's four problems of block 0
        [0, 1, 2, 3]
    """
    width = len(OPTION_LETTERS)
    block, within = divmod(i, width * n_families)
    round_, family = divmod(within, n_families)
    order = list(range(width))
    random.Random(f"perception-r1-synth-letters:{seed}:{block}:{family}").shuffle(order)
    return order[round_]


def make_multiple_choice(problem: SynthProblem, rng: random.Random, position: int) -> SynthProblem:
    """The multiple-choice version of ``problem``: same figure, facts and key; options listed, gold the letter.

    Args:
        problem: A generated problem with its ``nearby`` answers.
        rng: The problem's own random source for the options (never the one that drew the figure, so the figure
            is the one of the non-multiple-choice problem).
        position: The correct option's position, 0-3 (A-D): see :func:`balanced_position`.

    Raises:
        ValueError: the family listed no four consecutive nearby answers around the answer (a generator bug).
    """
    near = problem.nearby
    if near.get(0) != problem.answer:
        raise ValueError(f"{problem.family}: nearby answer 0 is {near.get(0)!r}, not the answer {problem.answer!r}")
    width = len(OPTION_LETTERS)
    windows = [s for s in range(-MAX_OFFSET, 1) if all(j in near for j in range(s, s + width))]
    if not windows:
        raise ValueError(f"{problem.family}: no {width} consecutive nearby answers around {problem.answer!r}: {near}")
    start = rng.choice(windows)
    offsets = [j for j in range(start, start + width) if j != 0]
    rng.shuffle(offsets)
    offsets.insert(position, 0)
    options = [near[j] for j in offsets]
    letter = OPTION_LETTERS[position]
    listed = "\n".join(f"({L}) {text}" for L, text in zip(OPTION_LETTERS, options, strict=True))
    return replace(
        problem,
        problem=f"{problem.problem}{CHOICES_HEADER}{listed}\n{LETTER_HINT}",
        answer=letter,
        steps=[*problem.steps, final_sentence(problem.answer, letter)],
        choices=options,
        choice_offsets=offsets,
    )


def question_stem(problem: str) -> str:
    """The question without its listed options (the text before ``Choices:``)."""
    return problem.split(CHOICES_HEADER, 1)[0]


def relabel(solution: str, answer: str, letter: str) -> str:
    """A generator's multiple-choice solution made to end with ``answer`` as option ``letter``.

    Its final sentence and its ``\\boxed{}`` letter are replaced; the facts and the computation stay as they are.

    Example:
        >>> relabel("x = 60.\\nSo the answer is 60, which is option (B).\\n</think>\\n\\\\boxed{B}", "62", "D")
        'x = 60.\\nSo the answer is 62, which is option (D).\\n</think>\\n\\\\boxed{D}'
    """
    out = _FINAL.sub(lambda _: final_sentence(answer, letter), solution)
    return _BOXED_LETTER.sub(lambda _: f"\\boxed{{{letter}}}", out)
