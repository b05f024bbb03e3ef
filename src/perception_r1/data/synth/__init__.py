"""Synthetic geometry testbed with exactly known visual facts.

Problem families (``FAMILIES`` registry): ``triangle_angle_sum``, ``isosceles_triangle``, ``right_triangle``
(Pythagoras), ``parallel_lines`` (transversal angles), ``rectangle`` (perimeter/area) and ``circle``
(radius/diameter/circumference/area). Each renders a small PIL figure drawn to scale whose labels carry the
values the question needs (the text never states them), a teacher-style CoT in the paper's format and the
exact canonical annotations (:mod:`perception_r1.data.facts`).

Difficulty 1-3 widens value ranges and steps, rotates figures and uses random point letters (2+), adds decoy
labels (a side length in the triangle families, 2+) and harder question variants (3: find a leg, find the
apex from a base angle, circle area).

Example:
    >>> from perception_r1.data.synth import generate_problems
    >>> p = generate_problems(1, seed=0)[0]  # doctest: +SKIP
    >>> p.annotations  # doctest: +SKIP
    ['angle ABC = 40°', ...]
"""

from perception_r1.data.synth.generate import FAMILIES, generate_problems, split_by_key, to_row, write_testbed
from perception_r1.data.synth.problem import SynthProblem

__all__ = ["FAMILIES", "SynthProblem", "generate_problems", "split_by_key", "to_row", "write_testbed"]
