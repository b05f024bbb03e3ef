"""The generated problem record and helpers shared by the problem families."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from perception_r1.data.facts import format_number
from perception_r1.data.schema import IMAGE_PLACEHOLDER
from perception_r1.data.synth.canvas import Canvas, Label, Point

# Point names: no O (reserved for circle centres), I (looks like 1) or Q (looks like O).
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
DIFFICULTIES = (1, 2, 3)
# How point letters are chosen: "auto" lets the difficulty decide (the first letters at 1, random ones above);
# "fixed" always takes the first letters, so a harder figure can be studied without the letter-copying task.
LETTER_MODES = ("auto", "fixed", "random")


@dataclass
class SynthProblem:
    """One rendered problem with everything the generator knows about it.

    Attributes:
        family: Problem family name.
        problem: Question text with one ``<image>`` placeholder; it never states the values in the figure.
        answer: Ground-truth answer string (``"70"``, ``"12\\pi"``).
        annotations: The canonical facts read off the figure that the solution uses, in CoT order.
        steps: Reasoning sentences of the teacher-style CoT.
        image: The PIL image.
        points: Point name -> pixel coordinates (x right, y down).
        circles: Circle name -> (centre x, centre y, radius) in pixels.
        labels: Every text drawn (see :class:`~perception_r1.data.synth.canvas.Label`).
        distractors: True canonical facts shown in the figure that the solution does not need.
        derived: True canonical facts the figure determines without showing them (the other angles at a
            crossing, the opposite side of a rectangle, the third angle); stating them is not a hallucination.
        key: Letter-free identity of the problem (family, variant, values); equal keys never straddle splits.
        nearby: Answers of the same kind near the answer, by offset -3..3 (0: the answer): what reading one needed
            value a few grid steps off gives (:mod:`perception_r1.data.synth.choices` draws the options from them).
        choices: Multiple choice only: the option texts in letter order (A, B, C, D); ``answer`` is then a letter.
        choice_offsets: Multiple choice only: each option's offset in ``nearby`` (0: the correct option).
    """

    family: str
    problem: str
    answer: str
    annotations: list[str]
    steps: list[str]
    image: Any
    points: dict[str, Point]
    circles: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    distractors: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    key: tuple[Any, ...] = ()
    nearby: dict[int, str] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    choice_offsets: list[int] = field(default_factory=list)

    @property
    def cot(self) -> str:
        """The CoT in the paper's format: ``<think>\\n…\\n</think>\\n<answer>\\n… \\boxed{X}\\n</answer>``."""
        think = "\n".join(self.steps)
        return f"<think>\n{think}\n</think>\n<answer>\nThe answer is \\boxed{{{self.answer}}}.\n</answer>"


def pick_letters(rng: random.Random, n: int, difficulty: int, letters: str = "auto") -> list[str]:
    """``n`` distinct point names.

    Args:
        rng: The problem's random source (drawn from only for random letters).
        n: How many names.
        difficulty: With ``letters="auto"``: the first letters of the alphabet at 1, random ones above.
        letters: One of :data:`LETTER_MODES`.
    """
    if letters == "fixed" or (letters == "auto" and difficulty <= 1):
        return list(LETTERS[:n])
    return rng.sample(LETTERS, n)


def pick_value(rng: random.Random, low: int, high: int, step: int = 1) -> int:
    """A random multiple of ``step`` in ``[low, high]``."""
    return rng.randrange(-(-low // step) * step, high + 1, step)


def deg(value: float) -> str:
    """``40`` -> ``"40°"`` (the text written in the figure)."""
    return f"{format_number(value)}°"


def figure_rotation(rng: random.Random, difficulty: int) -> float:
    """Rotation of the whole figure in degrees: none at difficulty 1, up to +-25° above."""
    return 0.0 if difficulty <= 1 else rng.uniform(-25.0, 25.0)


def finish(
    canvas: Canvas,
    *,
    family: str,
    problem: str,
    answer: str,
    annotations: list[str],
    steps: list[str],
    points: dict[str, Point],
    key: tuple[Any, ...],
    distractors: list[str] | None = None,
    circles: dict[str, tuple[float, float, float]] | None = None,
    derived: list[str] | None = None,
    nearby: dict[int, str] | None = None,
) -> SynthProblem:
    """Bundle a finished drawing into a :class:`SynthProblem` (adds the ``<image>`` placeholder)."""
    return SynthProblem(
        family=family,
        problem=f"{IMAGE_PLACEHOLDER}{problem}",
        answer=answer,
        annotations=annotations,
        steps=steps,
        image=canvas.image,
        points=points,
        circles=circles or {},
        labels=list(canvas.labels),
        distractors=distractors or [],
        derived=[fact for fact in derived or [] if fact not in annotations and fact not in (distractors or [])],
        key=(family, *key),
        nearby=nearby or {},
    )
