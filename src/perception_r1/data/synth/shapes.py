"""Families with lines, rectangles and circles: parallel lines and a transversal, rectangle perimeter/area,
circle radius/diameter.

Each family is ``fn(rng, difficulty, size, letters="auto") -> SynthProblem`` and draws to scale.
"""

from __future__ import annotations

import math
import random

from perception_r1.data import facts
from perception_r1.data.synth.canvas import Canvas, centroid, fit, rotate
from perception_r1.data.synth.choices import nearby_answers
from perception_r1.data.synth.problem import (
    LETTERS,
    SynthProblem,
    deg,
    figure_rotation,
    finish,
    pick_letters,
    pick_value,
)


def _angle_value(theta: int, up: bool, right: bool) -> int:
    """Angle between the transversal ray (up/down) and the line ray (right/left) at either crossing."""
    return theta if up == right else 180 - theta


def parallel_lines(rng: random.Random, difficulty: int, size: int, letters: str = "auto") -> SynthProblem:
    """Arrow marks show AB ∥ CD; one angle at the upper crossing G is marked; find an angle at H."""
    step = {1: 10, 2: 5, 3: 1}[difficulty]
    theta = 90
    while theta == 90:
        theta = pick_value(rng, 40 if difficulty == 1 else 35, 140 if difficulty == 1 else 145, step)
    A, B, C, D, E, F, G, H = pick_letters(rng, 8, difficulty, letters)
    cot = 1.0 / math.tan(math.radians(theta))
    g, h = (cot, 1.0), (-cot, -1.0)
    left, right = min(g[0], h[0]) - 1.6, max(g[0], h[0]) + 1.6
    along = (math.cos(math.radians(theta)), math.sin(math.radians(theta)))
    t = 0.9 / along[1]
    raw = {
        A: (left, 1.0), B: (right, 1.0), C: (left, -1.0), D: (right, -1.0), G: g, H: h,
        E: (g[0] + along[0] * t, g[1] + along[1] * t), F: (h[0] - along[0] * t, h[1] - along[1] * t),
    }  # fmt: skip
    canvas = Canvas(size)
    pts, _ = fit(rotate(raw, figure_rotation(rng, difficulty)), size, margin=size * 0.12)
    for p, q in ((A, B), (C, D), (E, F)):
        canvas.segment(pts[p], pts[q])
    canvas.parallel_mark(pts[A], pts[B])
    canvas.parallel_mark(pts[C], pts[D])
    mid = centroid(pts.values())
    for name in (A, B, C, D, E, F, G, H):
        canvas.dot(pts[name])
        canvas.label(
            name, canvas.around(pts[name], mid if name not in (G, H) else pts[E if name == G else F]), "point", name
        )
    rays_g = {"up": E, "down": H, "left": A, "right": B}
    rays_h = {"up": G, "down": F, "left": C, "right": D}
    tg, lg, th, lh = (
        rng.choice(("up", "down")),
        rng.choice(("left", "right")),
        rng.choice(("up", "down")),
        rng.choice(("left", "right")),
    )
    x = _angle_value(theta, tg == "up", lg == "right")
    given = f"{rays_g[tg]}{G}{rays_g[lg]}"
    corresponding = f"{rays_h[tg]}{H}{rays_h[lg]}"
    target = f"{rays_h[th]}{H}{rays_h[lh]}"
    answer = _angle_value(theta, th == "up", lh == "right")
    radius = canvas.font_px * 1.1
    for name, text, role in ((given, deg(x), "value"), (target, "?", "query")):
        end1, vertex, end2 = (pts[ch] for ch in name)  # coordinates (p, q above are point names)
        canvas.angle_arc(vertex, end1, end2, radius)
        canvas.label(text, canvas.inside_angle(vertex, end1, end2, radius), role, f"angle {name}")
    steps = [
        f"The arrow marks show {A}{B} ∥ {C}{D}, with transversal {E}{F} crossing them at {G} and {H}.",
        f"From the figure, angle {given} = {x}°.",
        f"Since {A}{B} ∥ {C}{D}, the corresponding angle {corresponding} at {H} also measures {x}°.",
    ]
    if target == corresponding:
        steps.append(f"So angle {target} = {answer}°.")
    elif th != tg and lh != lg:
        steps.append(f"Angle {target} and angle {corresponding} are vertical angles, so angle {target} = {answer}°.")
    else:
        steps.append(
            f"Angle {target} and angle {corresponding} form a linear pair, "
            f"so angle {target} = 180° - {x}° = {answer}°."
        )
    return finish(
        canvas,
        family="parallel_lines",
        problem=f"In the figure, find the measure of angle {target} in degrees.",
        answer=str(answer),
        annotations=[facts.parallel(f"{A}{B}", f"{C}{D}"), facts.angle(given, x)],
        steps=steps,
        points=pts,
        key=(x, th == tg, lh == lg),
        # the marked angle read j steps off moves the answer (equal or supplementary to it) by j steps
        nearby=nearby_answers(lambda j: answer + j * step if 0 < answer + j * step < 180 else None),
        derived=[  # every angle between the transversal and a parallel, at both crossings
            facts.angle(f"{rays[t]}{vertex}{rays[side]}", _angle_value(theta, t == "up", side == "right"))
            for vertex, rays in ((G, rays_g), (H, rays_h))
            for t in ("up", "down")
            for side in ("left", "right")
        ],
    )


def rectangle(rng: random.Random, difficulty: int, size: int, letters: str = "auto") -> SynthProblem:
    """Right-angle marks show a rectangle; two adjacent side lengths are written; find perimeter or area."""
    high = {1: 9, 2: 15, 3: 24}[difficulty]
    while True:
        w, h = rng.randint(2, high), rng.randint(2, high)
        if w != h and max(w, h) <= 3 * min(w, h):
            break
    A, B, C, D = pick_letters(rng, 4, difficulty, letters)
    raw = {A: (0.0, 0.0), B: (float(w), 0.0), C: (float(w), float(h)), D: (0.0, float(h))}
    canvas = Canvas(size)
    pts, _ = fit(rotate(raw, figure_rotation(rng, difficulty)), size, margin=size * 0.2)
    order = [A, B, C, D]
    canvas.polygon([pts[n] for n in order])
    for i, v in enumerate(order):
        canvas.right_angle(pts[v], pts[order[i - 1]], pts[order[(i + 1) % 4]], canvas.font_px * 0.6)
    mid = centroid(pts.values())
    for name in order:
        canvas.label(name, canvas.around(pts[name], mid), "point", name)
    w_seg = rng.choice((f"{A}{B}", f"{C}{D}"))
    h_seg = rng.choice((f"{B}{C}", f"{D}{A}"))
    for seg, value in ((w_seg, w), (h_seg, h)):
        canvas.label(str(value), canvas.beside(pts[seg[0]], pts[seg[1]], mid), "value", seg)
    quad = "".join(order)
    ask_area = rng.random() < 0.5
    steps = [
        f"The right-angle marks show that {quad} is a rectangle, so its opposite sides are equal.",
        f"From the figure, {w_seg} = {w} and {h_seg} = {h}.",
    ]
    if ask_area:
        answer = w * h
        steps.append(f"The area is {w} × {h} = {answer}.")
    else:
        answer = 2 * (w + h)
        steps.append(f"The perimeter is 2 × ({w} + {h}) = {answer}.")
    what = "area" if ask_area else "perimeter"
    return finish(
        canvas,
        family="rectangle",
        problem=f"Find the {what} of quadrilateral {quad} in the figure.",
        answer=str(answer),
        annotations=[facts.rectangle(quad), facts.length(w_seg, w), facts.length(h_seg, h)],
        steps=steps,
        points=pts,
        key=(what, min(w, h), max(w, h)),
        # the first side (w) read j units off
        nearby=nearby_answers(lambda j: None if w + j < 1 else (w + j) * h if ask_area else 2 * (w + j + h)),
        derived=[
            facts.length(f"{A}{B}", w),
            facts.length(f"{C}{D}", w),
            facts.length(f"{B}{C}", h),
            facts.length(f"{D}{A}", h),
        ]
        + [facts.angle(order[i - 1] + order[i] + order[(i + 1) % 4], 90) for i in range(4)],
    )


def _circle_answer(asked: str, r: int) -> str:
    """The answer text of a circle problem asking for ``asked`` when the radius is ``r``."""
    return {"radius": str(r), "diameter": str(2 * r), "circumference": f"{2 * r}\\pi", "area": f"{r * r}\\pi"}[asked]


def circle(rng: random.Random, difficulty: int, size: int, letters: str = "auto") -> SynthProblem:
    """A radius or a diameter is drawn and its length written; find the other, the circumference or the area."""
    r = rng.randint(2, {1: 9, 2: 15, 3: 25}[difficulty])
    if letters == "fixed":
        O, A, B = "O", "A", "B"  # noqa: E741 - geometry names are upper case
    else:  # the end points' letters are random at every difficulty; the centre's only above 1 (or when asked)
        O = "O" if letters == "auto" and difficulty <= 1 else rng.choice(LETTERS)  # noqa: E741
        A, B = rng.sample([ch for ch in LETTERS if ch != O], 2)
    given_diameter = rng.random() < 0.5
    ask = {1: ("radius" if given_diameter else "diameter",), 2: ("circumference",), 3: ("circumference", "area")}
    asked = rng.choice(ask[difficulty])
    phi = rng.uniform(0, 2 * math.pi)
    raw = {O: (0.0, 0.0), A: (math.cos(phi), math.sin(phi)), B: (-math.cos(phi), -math.sin(phi))}
    frame = {"_n": (0.0, 1.0), "_s": (0.0, -1.0), "_e": (1.0, 0.0), "_w": (-1.0, 0.0)}
    canvas = Canvas(size)
    fitted, scale = fit({**raw, **frame}, size, margin=size * 0.16)
    pts = {k: v for k, v in fitted.items() if not k.startswith("_")}
    canvas.circle(pts[O], scale)
    ends = (A, B) if given_diameter else (O, A)
    canvas.segment(pts[ends[0]], pts[ends[1]])
    names = [O, A, B] if given_diameter else [O, A]
    for name in names:
        canvas.dot(pts[name])
        away = pts[O] if name != O else pts[B]
        canvas.label(name, canvas.around(pts[name], away), "point", name)
    value = 2 * r if given_diameter else r
    seg = f"{ends[0]}{ends[1]}"
    canvas.label(str(value), canvas.beside(pts[ends[0]], pts[ends[1]], pts[B]), "value", seg)
    fact = facts.diameter(O, value) if given_diameter else facts.radius(O, value)
    steps = [f"From the figure, the {'diameter' if given_diameter else 'radius'} of circle {O} = {value}."]
    if given_diameter:
        steps.append(f"The radius is half of it: {value} / 2 = {r}.")
    explain = {
        "radius": f"So the radius is {r}.",
        "diameter": f"The diameter is 2 × {r} = {2 * r}.",
        "circumference": f"The circumference is 2π × {r} = {2 * r}π.",
        "area": f"The area is π × {r}² = {r * r}π.",
    }
    steps.append(explain[asked])
    suffix = " Give the answer in terms of π." if asked in ("circumference", "area") else ""
    return finish(
        canvas,
        family="circle",
        problem=f"Find the {asked} of circle {O} in the figure.{suffix}",
        answer=_circle_answer(asked, r),
        annotations=[fact],
        steps=steps,
        points=pts,
        key=("diameter" if given_diameter else "radius", asked, r),
        circles={O: (pts[O][0], pts[O][1], scale)},
        # the radius read j units off (the diameter 2j)
        nearby=nearby_answers(lambda j: _circle_answer(asked, r + j) if r + j >= 1 else None),
        derived=[facts.radius(O, r), facts.diameter(O, 2 * r), facts.length(f"{O}{A}", r)]
        + ([facts.length(f"{O}{B}", r), facts.length(f"{A}{B}", 2 * r)] if given_diameter else []),
    )
