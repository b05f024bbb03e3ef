"""Triangle families: angle sum, isosceles triangle, right triangle (Pythagoras).

Each family is ``fn(rng, difficulty, size, letters="auto") -> SynthProblem``. Figures are drawn to scale from the
values, so every annotation is true of the drawing (tests measure the drawn angles and side ratios).
"""

from __future__ import annotations

import math
import random

from perception_r1.data import facts
from perception_r1.data.synth.canvas import Canvas, Point, centroid, fit, rotate
from perception_r1.data.synth.choices import nearby_answers
from perception_r1.data.synth.problem import SynthProblem, deg, figure_rotation, finish, pick_letters, pick_value


def _draw_points(canvas: Canvas, pts: dict[str, Point], names: list[str]) -> None:
    """Point labels first, so they sit next to their vertices before value labels take space."""
    c = centroid(pts[n] for n in names)
    for name in names:
        canvas.dot(pts[name])
        canvas.label(name, canvas.around(pts[name], c), "point", name)


def _mark_angle(canvas: Canvas, pts: dict[str, Point], name: str, text: str, role: str = "value") -> None:
    """Arc at the middle letter of ``name`` and ``text`` along its bisector."""
    p, v, q = (pts[ch] for ch in name)
    radius = canvas.font_px * 1.2
    canvas.angle_arc(v, p, q, radius)
    canvas.label(text, canvas.inside_angle(v, p, q, radius), role, f"angle {name}")


def _triangle_from_angles(alpha: float, beta: float) -> tuple[Point, Point, Point]:
    """Vertices with angle ``alpha`` at the first, ``beta`` at the second (law of sines), base of length 1."""
    gamma = 180.0 - alpha - beta
    side_ac = math.sin(math.radians(beta)) / math.sin(math.radians(gamma))
    c = (side_ac * math.cos(math.radians(alpha)), side_ac * math.sin(math.radians(alpha)))
    return (0.0, 0.0), (1.0, 0.0), c


def _layout(rng: random.Random, difficulty: int, size: int, raw: dict[str, Point]) -> tuple[Canvas, dict[str, Point]]:
    canvas = Canvas(size)
    pts, _ = fit(rotate(raw, figure_rotation(rng, difficulty)), size, margin=size * 0.2)
    return canvas, pts


def triangle_angle_sum(rng: random.Random, difficulty: int, size: int, letters: str = "auto") -> SynthProblem:
    """Two angles are marked; find the third. Difficulty: finer angle steps, wider range, a side-length decoy."""
    step, low, high = {1: (5, 30, 80), 2: (2, 25, 95), 3: (1, 25, 100)}[difficulty]
    while True:
        a, b = pick_value(rng, low, high, step), pick_value(rng, low, high, step)
        if 25 <= 180 - a - b <= 120:
            break
    c = 180 - a - b
    A, B, C = pick_letters(rng, 3, difficulty, letters)
    pa, pb, pc = _triangle_from_angles(a, b)
    canvas, pts = _layout(rng, difficulty, size, {A: pa, B: pb, C: pc})
    canvas.polygon([pts[A], pts[B], pts[C]])
    _draw_points(canvas, pts, [A, B, C])
    given = [(f"{B}{A}{C}", a), (f"{A}{B}{C}", b)]
    for name, value in given:
        _mark_angle(canvas, pts, name, deg(value))
    _mark_angle(canvas, pts, f"{A}{C}{B}", "?", role="query")
    distractors = []
    if difficulty >= 2:  # one side length: true at any scale, useless for the angle
        n = rng.randint(3, 15)
        canvas.label(str(n), canvas.beside(pts[A], pts[B], centroid(pts.values())), "value", f"{A}{B}")
        distractors.append(facts.length(f"{A}{B}", n))
    annotations = [facts.angle(name, value) for name, value in given]
    steps = [
        f"From the figure, angle {B}{A}{C} = {a}° and angle {A}{B}{C} = {b}°.",
        f"The angles of a triangle sum to 180°, so angle {A}{C}{B} = 180° - {a}° - {b}° = {c}°.",
    ]
    problem = f"In triangle {A}{B}{C} shown in the figure, find the measure of angle {A}{C}{B} in degrees."
    return finish(
        canvas,
        family="triangle_angle_sum",
        problem=problem,
        answer=str(c),
        annotations=annotations,
        steps=steps,
        points=pts,
        key=tuple(sorted((a, b))),
        distractors=distractors,
        derived=[facts.angle(f"{A}{C}{B}", c)],
        # a shown angle read j steps off changes the third angle by j steps
        nearby=nearby_answers(lambda j: c + j * step if 0 < c + j * step < 180 else None),
    )


def isosceles_triangle(rng: random.Random, difficulty: int, size: int, letters: str = "auto") -> SynthProblem:
    """Tick marks show two equal sides; the apex (or, at difficulty 3, a base) angle is marked."""
    step, low, high = {1: (10, 40, 120), 2: (2, 30, 120), 3: (2, 20, 130)}[difficulty]
    apex = pick_value(rng, low, high, step)
    base = (180 - apex) // 2
    given_base = difficulty >= 3 and rng.random() < 0.5
    A, B, C = pick_letters(rng, 3, difficulty, letters)
    height = math.tan(math.radians(base))
    canvas, pts = _layout(rng, difficulty, size, {A: (0.0, height), B: (-1.0, 0.0), C: (1.0, 0.0)})
    canvas.polygon([pts[A], pts[B], pts[C]])
    canvas.ticks(pts[A], pts[B])
    canvas.ticks(pts[A], pts[C])
    _draw_points(canvas, pts, [A, B, C])
    iso = facts.isosceles(f"{A}{B}{C}", f"{A}{B}", f"{A}{C}")
    steps = [f"The tick marks show {A}{B} = {A}{C}, so triangle {A}{B}{C} is isosceles and its base angles are equal."]
    if given_base:
        shown, target, answer = (f"{A}{B}{C}", base), f"{B}{A}{C}", apex
        steps += [
            f"From the figure, angle {A}{B}{C} = {base}°, so angle {A}{C}{B} is also {base}°.",
            f"Then angle {B}{A}{C} = 180° - 2 × {base}° = {apex}°.",
        ]
    else:
        shown, target, answer = (f"{B}{A}{C}", apex), f"{A}{B}{C}", base
        steps += [
            f"From the figure, angle {B}{A}{C} = {apex}°.",
            f"So angle {A}{B}{C} = (180° - {apex}°) / 2 = {base}°.",
        ]
    _mark_angle(canvas, pts, shown[0], deg(shown[1]))
    _mark_angle(canvas, pts, target, "?", role="query")
    distractors = []
    if difficulty >= 2:
        n = rng.randint(3, 15)
        canvas.label(str(n), canvas.beside(pts[B], pts[C], centroid(pts.values())), "value", f"{B}{C}")
        distractors.append(facts.length(f"{B}{C}", n))
    return finish(
        canvas,
        family="isosceles_triangle",
        problem=f"In the figure, find the measure of angle {target} in degrees.",
        answer=str(answer),
        annotations=[iso, facts.angle(*shown)],
        steps=steps,
        points=pts,
        key=("base" if given_base else "apex", apex),
        distractors=distractors,
        # the apex read j steps off moves each base angle by half a step; a base angle read j off, the apex by 2j
        nearby=nearby_answers(
            lambda j: (
                (apex + 2 * j if 0 < apex + 2 * j < 180 else None)
                if given_base
                else (base + j * step / 2 if 0 < base + j * step / 2 < 90 else None)
            )
        ),
        derived=[facts.angle(f"{B}{A}{C}", apex), facts.angle(f"{A}{B}{C}", base), facts.angle(f"{A}{C}{B}", base)],
    )


# Primitive Pythagorean triples; difficulty widens the choice and the scale factor.
_TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29))


def right_triangle(rng: random.Random, difficulty: int, size: int, letters: str = "auto") -> SynthProblem:
    """A right angle is marked at C with two side lengths; find the third side by Pythagoras."""
    n_triples, max_k = {1: (2, 3), 2: (3, 3), 3: (5, 4)}[difficulty]
    legs_hyp = rng.choice(_TRIPLES[:n_triples])
    k = rng.randint(1, max_k if legs_hyp[2] * max_k <= 60 else 1)
    a, b, c = (v * k for v in legs_hyp)
    if rng.random() < 0.5:
        a, b = b, a
    find_leg = difficulty >= 3 and rng.random() < 0.5
    A, B, C = pick_letters(rng, 3, difficulty, letters)
    canvas, pts = _layout(rng, difficulty, size, {C: (0.0, 0.0), B: (float(a), 0.0), A: (0.0, float(b))})
    canvas.polygon([pts[A], pts[B], pts[C]])
    canvas.right_angle(pts[C], pts[A], pts[B], canvas.font_px * 0.7)
    _draw_points(canvas, pts, [A, B, C])
    mid = centroid(pts.values())
    perp = facts.perpendicular(f"{A}{C}", f"{B}{C}")
    shown = [(f"{A}{C}", b), (f"{A}{B}", c)] if find_leg else [(f"{A}{C}", b), (f"{B}{C}", a)]
    for seg, value in shown:
        canvas.label(str(value), canvas.beside(pts[seg[0]], pts[seg[1]], mid), "value", seg)
    target = f"{B}{C}" if find_leg else f"{A}{B}"
    query_from, query_to = pts[target[0]], pts[target[1]]
    canvas.label("?", canvas.beside(query_from, query_to, mid), "query", target)
    steps = [
        f"The right-angle mark at {C} shows {A}{C} ⊥ {B}{C}.",
        "From the figure, " + " and ".join(f"{seg} = {value}" for seg, value in shown) + ".",
    ]
    if find_leg:
        steps.append(f"By the Pythagorean theorem, {B}{C} = √({c}² - {b}²) = √{c * c - b * b} = {a}.")
    else:
        steps.append(f"By the Pythagorean theorem, {A}{B} = √({b}² + {a}²) = √{a * a + b * b} = {c}.")
    return finish(
        canvas,
        family="right_triangle",
        problem=f"In the figure, find the length of {target}.",
        answer=str(a if find_leg else c),
        annotations=[perp] + [facts.length(seg, value) for seg, value in shown],
        steps=steps,
        points=pts,
        key=("leg", b, c) if find_leg else ("hyp", min(a, b), max(a, b)),
        # lengths one unit apart (a misread side gives no whole length: the nearest whole ones stand for it)
        nearby=nearby_answers(lambda j: (a if find_leg else c) + j if (a if find_leg else c) + j >= 1 else None),
        derived=[
            facts.length(f"{A}{C}", b),
            facts.length(f"{B}{C}", a),
            facts.length(f"{A}{B}", c),
            facts.angle(f"{A}{C}{B}", 90),
        ],  # fmt: skip
    )
