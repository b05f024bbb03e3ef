"""Drawing for the synthetic testbed: fit figure coordinates to pixels, draw, and place legible labels.

Every label drawn is recorded (:class:`Label`: text, centre, bounding box, what it labels) so that tests can
check that each annotation's value is the one written in the image and that labels stay inside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Point = tuple[float, float]

INK = (20, 20, 20)
MARK = (40, 90, 200)  # angle arcs, ticks, right-angle and parallel marks
VALUE = (190, 30, 30)  # value labels, so that a model can tell values from point names


@dataclass(frozen=True)
class Label:
    """One text drawn on the image.

    Attributes:
        text: The exact string drawn (``"A"``, ``"7"``, ``"40°"``).
        xy: Centre in pixels.
        bbox: ``(left, top, right, bottom)`` in pixels.
        role: ``"point"`` (a point name) or ``"value"`` (a length, angle, radius or diameter).
        target: What it labels: the point name, segment (``"AB"``), angle (``"angle ABC"``) or circle.
    """

    text: str
    xy: Point
    bbox: tuple[float, float, float, float]
    role: str
    target: str


def rotate(points: Mapping[str, Point], degrees: float) -> dict[str, Point]:
    """Rotate points about the origin (figure coordinates, y up)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return {k: (x * c - y * s, x * s + y * c) for k, (x, y) in points.items()}


def fit(points: Mapping[str, Point], size: int, margin: float) -> tuple[dict[str, Point], float]:
    """Map figure coordinates (y up) into a ``size`` x ``size`` image (y down), centred, uniform scale.

    Returns:
        The pixel coordinates and the scale (pixels per figure unit).
    """
    xs = [p[0] for p in points.values()]
    ys = [p[1] for p in points.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    scale = (size - 2 * margin) / span
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return {k: (size / 2 + (x - cx) * scale, size / 2 - (y - cy) * scale) for k, (x, y) in points.items()}, scale


def unit(v: Point) -> Point:
    """``v`` scaled to length 1 (``(0, 0)`` stays zero)."""
    n = math.hypot(*v)
    return (v[0] / n, v[1] / n) if n else (0.0, 0.0)


def direction(p: Point, q: Point) -> Point:
    """Unit vector from ``p`` to ``q``."""
    return unit((q[0] - p[0], q[1] - p[1]))


def centroid(points: Iterable[Point]) -> Point:
    """Mean of the points."""
    pts = list(points)
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


def _rot(v: Point, degrees: float) -> Point:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return (v[0] * c - v[1] * s, v[0] * s + v[1] * c)


def _crosses(box: tuple[float, ...], p: Point, q: Point) -> bool:
    """Whether segment pq passes through ``box`` (sampled every pixel; boxes are a few pixels wide)."""
    steps = max(2, int(math.hypot(q[0] - p[0], q[1] - p[1])))
    for k in range(steps + 1):
        x, y = p[0] + (q[0] - p[0]) * k / steps, p[1] + (q[1] - p[1]) * k / steps
        if box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1:
            return True
    return False


def _overlap(a: tuple[float, ...], b: tuple[float, ...], pad: float = 1.0) -> bool:
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def default_font_px(size: int) -> int:
    """The label font size a figure of ``size`` pixels is drawn with: about size / 15, at least 10 px."""
    return max(10, round(size / 15))


@dataclass
class Canvas:
    """A white square image with drawing helpers and a record of every label.

    Args:
        size: Side in pixels (112-224 suits a tiny vision tower).
        font_px: Label font size; 0 (the default) picks about size / 15, at least 10 px.
    """

    size: int
    font_px: int = 0
    labels: list[Label] = field(default_factory=list)
    strokes: list[tuple[Point, Point]] = field(default_factory=list)
    image: Any = field(init=False)
    draw: Any = field(init=False)
    font: Any = field(init=False)

    def __post_init__(self) -> None:
        from PIL import Image, ImageDraw, ImageFont

        self.font_px = self.font_px or default_font_px(self.size)
        self.image = Image.new("RGB", (self.size, self.size), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.font = ImageFont.load_default(size=self.font_px)
        self.line_width = 2 if self.size >= 160 else 1

    def segment(self, p: Point, q: Point, color: tuple[int, int, int] = INK) -> None:
        """A straight segment."""
        self.draw.line([p, q], fill=color, width=self.line_width)
        self.strokes.append((p, q))

    def polygon(self, pts: list[Point]) -> None:
        """A closed outline."""
        for a, b in zip(pts, pts[1:] + pts[:1], strict=True):
            self.segment(a, b)

    def circle(self, c: Point, r: float) -> None:
        """A circle outline and a dot at its centre."""
        self.draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], outline=INK, width=self.line_width)
        ring = [(c[0] + r * math.cos(t * math.pi / 24), c[1] + r * math.sin(t * math.pi / 24)) for t in range(48)]
        self.strokes.extend(zip(ring, ring[1:] + ring[:1], strict=True))
        self.dot(c)

    def dot(self, p: Point) -> None:
        """A small filled point marker."""
        r = 1.5 + self.line_width / 2
        self.draw.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=INK)

    def angle_arc(self, vertex: Point, p: Point, q: Point, radius: float) -> None:
        """An arc inside the (smaller) angle p-vertex-q."""
        a1 = math.degrees(math.atan2(p[1] - vertex[1], p[0] - vertex[0]))
        a2 = math.degrees(math.atan2(q[1] - vertex[1], q[0] - vertex[0]))
        start, end = (a1, a2) if (a2 - a1) % 360 <= 180 else (a2, a1)
        box = [vertex[0] - radius, vertex[1] - radius, vertex[0] + radius, vertex[1] + radius]
        self.draw.arc(box, start, end if end > start else end + 360, fill=MARK, width=self.line_width)

    def right_angle(self, vertex: Point, p: Point, q: Point, side: float) -> None:
        """The small square that marks a right angle p-vertex-q."""
        u, v = direction(vertex, p), direction(vertex, q)
        a = (vertex[0] + u[0] * side, vertex[1] + u[1] * side)
        b = (a[0] + v[0] * side, a[1] + v[1] * side)
        c = (vertex[0] + v[0] * side, vertex[1] + v[1] * side)
        self.draw.line([a, b, c], fill=MARK, width=self.line_width)

    def ticks(self, p: Point, q: Point, count: int = 1) -> None:
        """Equal-length tick marks across the middle of segment pq."""
        d = direction(p, q)
        n = (-d[1], d[0])
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        half, gap = self.font_px * 0.35, 3.0
        for k in range(count):
            off = (k - (count - 1) / 2) * gap
            c = (mid[0] + d[0] * off, mid[1] + d[1] * off)
            self.draw.line(
                [(c[0] - n[0] * half, c[1] - n[1] * half), (c[0] + n[0] * half, c[1] + n[1] * half)],
                fill=MARK,
                width=self.line_width,
            )

    def parallel_mark(self, p: Point, q: Point, at: float = 0.75) -> None:
        """An arrowhead ('>') on segment pq at fraction ``at`` - the usual mark for parallel lines."""
        d = direction(p, q)
        tip = (p[0] + (q[0] - p[0]) * at, p[1] + (q[1] - p[1]) * at)
        size = self.font_px * 0.45
        for side in (150, -150):
            w = _rot(d, side)
            self.draw.line([tip, (tip[0] + w[0] * size, tip[1] + w[1] * size)], fill=MARK, width=self.line_width)

    def label(self, text: str, candidates: list[Point], role: str, target: str) -> Label:
        """Draw ``text`` centred at the first candidate that fits inside the image without overlapping labels.

        Prefers positions clear of drawn lines too; when every candidate is taken, searches rings around the first
        one; only then falls back to the first candidate clamped into the image.
        """
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=self.font, anchor="mm")
        w, h = right - left, bottom - top

        def box_at(x: float, y: float) -> tuple[float, float, float, float]:
            return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)

        def fits(box: tuple[float, ...], avoid_lines: bool) -> bool:
            inside = box[0] >= 1 and box[1] >= 1 and box[2] <= self.size - 1 and box[3] <= self.size - 1
            if not inside or any(_overlap(box, other.bbox) for other in self.labels):
                return False
            return not avoid_lines or not any(_crosses(box, p, q) for p, q in self.strokes)

        # Best: clear of labels and lines; then clear of labels only; last resort: first candidate, clamped.
        chosen = next((xy for xy in candidates if fits(box_at(*xy), True)), None)
        chosen = chosen or next((xy for xy in candidates if fits(box_at(*xy), False)), None)
        if chosen is None:  # crowded (small images): search rings around the preferred spot
            x0, y0 = candidates[0]
            ring = [
                (x0 + self.font_px * r * math.cos(k * math.pi / 8), y0 + self.font_px * r * math.sin(k * math.pi / 8))
                for r in (0.5, 1.0, 1.5, 2.0, 3.0)
                for k in range(16)
            ]
            chosen = next((xy for xy in ring if fits(box_at(*xy), True)), None)
            chosen = chosen or next((xy for xy in ring if fits(box_at(*xy), False)), None)
        if chosen is None:
            x, y = candidates[0]
            chosen = (min(max(x, w / 2 + 1), self.size - w / 2 - 1), min(max(y, h / 2 + 1), self.size - h / 2 - 1))
        color = VALUE if role == "value" else INK
        self.draw.text(chosen, text, font=self.font, fill=color, anchor="mm")
        bbox = self.draw.textbbox(chosen, text, font=self.font, anchor="mm")
        left, top, right, bottom = (float(v) for v in bbox)
        record = Label(text, chosen, (left, top, right, bottom), role, target)
        self.labels.append(record)
        return record

    # Candidate generators -------------------------------------------------------------------------------------
    def around(self, p: Point, away_from: Point, distance: float | None = None) -> list[Point]:
        """Positions near point ``p``, preferring the direction away from ``away_from`` (e.g. the centroid)."""
        d = distance or self.font_px * 0.95
        u = direction(away_from, p)
        if u == (0.0, 0.0):
            u = (0.0, -1.0)
        out = []
        for scale in (1.0, 1.5):
            for turn in (0, 35, -35, 70, -70, 110, -110, 180):
                v = _rot(u, turn)
                out.append((p[0] + v[0] * d * scale, p[1] + v[1] * d * scale))
        return out

    def beside(self, p: Point, q: Point, away_from: Point) -> list[Point]:
        """Positions next to the middle of segment pq, on the side away from ``away_from`` first."""
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        d = direction(p, q)
        n = (-d[1], d[0])
        if (mid[0] - away_from[0]) * n[0] + (mid[1] - away_from[1]) * n[1] < 0:
            n = (-n[0], -n[1])
        out = []
        for dist in (0.9, 1.3, 1.8):
            for along in (0.0, 0.2, -0.2):
                base = (mid[0] + (q[0] - p[0]) * along, mid[1] + (q[1] - p[1]) * along)
                out.append((base[0] + n[0] * self.font_px * dist, base[1] + n[1] * self.font_px * dist))
        out += [(mid[0] - n[0] * self.font_px, mid[1] - n[1] * self.font_px)]
        return out

    def inside_angle(self, vertex: Point, p: Point, q: Point, radius: float) -> list[Point]:
        """Positions along the bisector of angle p-vertex-q, just beyond an arc of ``radius``."""
        (px, py), (qx, qy) = direction(vertex, p), direction(vertex, q)
        b = unit((px + qx, py + qy))
        out = []
        for dist in (1.0, 1.3, 1.7, 2.2):
            r = radius + self.font_px * 0.9 * dist
            out.append((vertex[0] + b[0] * r, vertex[1] + b[1] * r))
        return out
