"""Synthetic geometry testbed: determinism, annotations true to the drawing, answers, CoT format, splits."""

from __future__ import annotations

import io
import json
import math
import re

import pytest

from perception_r1.data.facts import format_number, parse_fact
from perception_r1.data.io import load_examples
from perception_r1.data.synth import FAMILIES, generate_problems, split_by_key, write_testbed
from perception_r1.judge.rule import rule_verdicts

FORMAT = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\\boxed{.+?}.*?\n</answer>$", re.DOTALL)


def _problems(difficulty: int, per_family: int = 8, size: int = 224):
    n = per_family * len(FAMILIES)
    return generate_problems(n, seed=difficulty * 101, difficulty=difficulty, size=size)


ALL = [(d, s, p) for d in (1, 2, 3) for s, k in ((224, 6), (112, 3)) for p in _problems(d, per_family=k, size=s)]
IDS = [f"d{d}-{s}px-{i}-{p.family}" for i, (d, s, p) in enumerate(ALL)]


def _angle(pts, name: str) -> float:
    p, v, q = (pts[ch] for ch in name)
    a1 = math.atan2(p[1] - v[1], p[0] - v[0])
    a2 = math.atan2(q[1] - v[1], q[0] - v[0])
    d = abs(math.degrees(a1 - a2)) % 360
    return min(d, 360 - d)


def _dist(pts, seg: str) -> float:
    (x1, y1), (x2, y2) = pts[seg[0]], pts[seg[1]]
    return math.hypot(x2 - x1, y2 - y1)


def _line_angle(pts, seg: str) -> float:
    (x1, y1), (x2, y2) = pts[seg[0]], pts[seg[1]]
    return math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180


def _check_fact_in_drawing(problem, text: str) -> None:
    """The fact is true of the drawn coordinates (angles to 0.01°, lengths to a common scale)."""
    fact, pts = parse_fact(text), problem.points
    if fact.kind == "angle":
        assert _angle(pts, fact.labels[0]) == pytest.approx(fact.value, abs=0.01), text
    elif fact.kind in ("parallel", "perpendicular"):
        diff = abs(_line_angle(pts, fact.labels[0]) - _line_angle(pts, fact.labels[1])) % 180
        expected = 0.0 if fact.kind == "parallel" else 90.0
        assert min(diff, 180 - diff) == pytest.approx(expected, abs=0.01), text
    elif fact.kind == "isosceles":
        assert _dist(pts, fact.labels[1]) == pytest.approx(_dist(pts, fact.labels[2]), rel=1e-6), text
    elif fact.kind == "rectangle":
        quad = fact.labels[0]
        for i in range(4):
            assert _angle(pts, quad[i - 1] + quad[i] + quad[(i + 1) % 4]) == pytest.approx(90, abs=0.01), text
    elif fact.kind in ("radius", "diameter"):
        (name,) = fact.labels
        cx, cy, r_px = problem.circles[name]
        for other, (x, y) in pts.items():  # every named point but the centre lies on the circle
            if other != name:
                assert math.hypot(x - cx, y - cy) == pytest.approx(r_px, rel=1e-6), text


def _value_text(fact) -> str:
    return format_number(fact.value) + ("°" if fact.kind == "angle" else "")


@pytest.mark.parametrize(("difficulty", "size", "problem"), ALL, ids=IDS)
def test_every_annotation_is_drawn_and_true(difficulty, size, problem) -> None:
    values = {(lb.target, lb.text) for lb in problem.labels if lb.role == "value"}
    for text in problem.annotations + problem.distractors:
        _check_fact_in_drawing(problem, text)
        fact = parse_fact(text)
        if fact.value is None:
            continue
        # The value written in the image, next to what it measures, is the annotated value.
        if fact.kind == "angle":
            target = f"angle {fact.labels[0]}"
        elif fact.kind == "length":
            target = fact.labels[0]
        else:  # radius/diameter: the drawn segment carries the value
            target = next(lb.target for lb in problem.labels if lb.role == "value")
        assert (target, _value_text(fact)) in values or (target[::-1], _value_text(fact)) in values, text
    # All length facts (annotations and decoys) share one scale: the figure is drawn to scale.
    lengths = [parse_fact(t) for t in problem.annotations + problem.distractors if parse_fact(t).kind == "length"]
    if difficulty == 1 or problem.family not in ("triangle_angle_sum", "isosceles_triangle"):
        scales = [_dist(problem.points, f.labels[0]) / f.value for f in lengths]
        assert max(scales, default=1) == pytest.approx(min(scales, default=1), rel=1e-6)


@pytest.mark.parametrize(("difficulty", "size", "problem"), ALL, ids=IDS)
def test_derived_facts_are_true_of_the_drawing_and_not_shown(difficulty, size, problem) -> None:
    # Derived facts are what the figure determines without showing: the metrics must not call them hallucinated.
    assert problem.derived, problem.family
    shown = {parse_fact(t) for t in problem.annotations + problem.distractors}
    for text in problem.derived:
        fact = parse_fact(text)
        assert fact not in shown, text
        _check_fact_in_drawing(problem, text)
    # Lengths to the figure's own scale: that of the shown lengths, or the circle's pixels per unit of radius.
    lengths = [parse_fact(t) for t in problem.annotations + problem.derived if parse_fact(t).kind == "length"]
    scales = [_dist(problem.points, f.labels[0]) / f.value for f in lengths]
    if problem.circles:
        radius = next(f.value for f in map(parse_fact, problem.annotations + problem.derived) if f.kind == "radius")
        scales.append(next(iter(problem.circles.values()))[2] / radius)
    assert max(scales, default=1) == pytest.approx(min(scales, default=1), rel=1e-6)


def test_every_angle_at_the_crossings_of_parallel_lines_is_derived() -> None:
    # The given angle is shown; the other seven between the transversal and a parallel are derived.
    for problem in [p for p in _problems(2) if p.family == "parallel_lines"]:
        angles = [parse_fact(t) for t in problem.annotations + problem.derived if parse_fact(t).kind == "angle"]
        assert len(angles) == 8 and len({f.labels[0][1] for f in angles}) == 2


@pytest.mark.parametrize(("difficulty", "size", "problem"), ALL, ids=IDS)
def test_labels_are_legible_and_inside(difficulty, size, problem) -> None:
    boxes = [lb.bbox for lb in problem.labels]
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
    for i, a in enumerate(boxes):  # no two labels overlap
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    font_px = max(10, round(size / 15))
    for lb in problem.labels:  # each point name sits next to its point
        if lb.role == "point":
            x, y = problem.points[lb.target]
            assert math.hypot(lb.xy[0] - x, lb.xy[1] - y) < 2.5 * font_px, lb
    assert problem.image.size == (size, size)


def _solve(problem) -> float | str:
    """Answer computed from the annotations and the question only (not from the generator's code path)."""
    facts = [parse_fact(t) for t in problem.annotations]
    angles = {f.labels[0]: f.value for f in facts if f.kind == "angle"}
    lengths = {f.labels[0]: f.value for f in facts if f.kind == "length"}
    asked = re.search(r"find the (?:measure of angle (\w+)|length of (\w+)|(\w+) of)", problem.problem, re.I)
    if problem.family == "triangle_angle_sum":
        return 180 - sum(angles.values())
    if problem.family == "isosceles_triangle":
        iso = next(f for f in facts if f.kind == "isosceles")
        apex = (set(iso.labels[1]) & set(iso.labels[2])).pop()
        ((name, x),) = angles.items()
        return (180 - x) / 2 if name[1] == apex else 180 - 2 * x
    if problem.family == "right_triangle":
        perp = next(f for f in facts if f.kind == "perpendicular")
        right_vertex = (set(perp.labels[0]) & set(perp.labels[1])).pop()
        target = asked.group(2)
        if right_vertex not in target:  # hypotenuse
            return math.hypot(*lengths.values())
        hyp = next(v for s, v in lengths.items() if right_vertex not in s)
        leg = next(v for s, v in lengths.items() if right_vertex in s)
        return math.sqrt(hyp**2 - leg**2)
    if problem.family == "rectangle":
        w, h = lengths.values()
        return w * h if asked.group(3) == "area" else 2 * (w + h)
    if problem.family == "circle":
        (f,) = facts
        r = f.value if f.kind == "radius" else f.value / 2
        quantity = asked.group(3)
        return {"radius": r, "diameter": 2 * r, "circumference": f"{format_number(2 * r)}\\pi"}.get(
            quantity, f"{format_number(r * r)}\\pi"
        )
    # parallel lines: the answer is the marked angle or its supplement, and equals the drawn target angle.
    ((_, x),) = angles.items()
    target = asked.group(1)
    drawn = _angle(problem.points, target)
    assert round(drawn) in (x, 180 - x)
    return round(drawn)


@pytest.mark.parametrize(("difficulty", "size", "problem"), ALL, ids=IDS)
def test_answer_follows_from_annotations_and_cot_format(difficulty, size, problem) -> None:
    expected = _solve(problem)
    assert problem.answer == (expected if isinstance(expected, str) else format_number(expected))
    assert FORMAT.fullmatch(problem.cot)
    assert f"\\boxed{{{problem.answer}}}" in problem.cot
    # The teacher CoT states every annotation, as the rule judge reads them.
    assert rule_verdicts(problem.annotations, problem.cot) == [1] * len(problem.annotations)
    # The question needs the figure: it states no number, and has one image placeholder.
    assert problem.problem.startswith("<image>") and problem.problem.count("<image>") == 1
    assert not re.search(r"\d", problem.problem)


def test_generation_is_deterministic() -> None:
    def snapshot(seed: int):
        out = []
        for p in generate_problems(12, seed=seed, difficulty=3, size=160):
            buffer = io.BytesIO()
            p.image.save(buffer, format="PNG")
            out.append((p.problem, p.answer, p.annotations, p.distractors, p.cot, buffer.getvalue()))
        return out

    assert snapshot(7) == snapshot(7)  # same seed: identical text and pixels
    assert snapshot(7) != snapshot(8)  # another seed: different problems
    # Item i does not depend on n: a longer run extends a shorter one.
    assert [p.problem for p in generate_problems(6, seed=7)] == [p.problem for p in generate_problems(12, seed=7)][:6]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"difficulty": 4}, "difficulty must be one of"),  # out-of-range knob
        ({"size": 64}, "size must be between"),  # too small to read
        ({"n": -1}, "n must be >= 0"),  # negative count
        ({"letters": "greek"}, "letters must be one of"),  # unknown letter mode
    ],
)
def test_bad_generation_options(kwargs, message) -> None:
    args = {"n": 2, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        generate_problems(args.pop("n"), args.pop("seed"), **args)


def test_difficulty_changes_the_distribution() -> None:
    # Easy: letters from A, no rotation decoys; hard: decoy labels appear in the triangle families.
    easy = generate_problems(36, seed=1, difficulty=1, size=112)
    hard = generate_problems(36, seed=1, difficulty=3, size=112)
    assert not any(p.distractors for p in easy)
    assert any(p.distractors for p in hard if p.family == "triangle_angle_sum")
    assert {p.problem for p in easy}.isdisjoint({p.problem for p in hard})


def _point_names(problem) -> set[str]:
    return {label.text for label in problem.labels if label.role == "point"}


@pytest.mark.parametrize(
    ("difficulty", "letters", "fixed"),
    [
        (1, "auto", None),  # easy figures: the first letters, but a circle's end points are random (as always)
        (2, "auto", False),  # harder ones draw random letters
        (2, "fixed", True),  # a hard figure without the letter-copying task
        (3, "fixed", True),  # every difficulty honours it
        (1, "random", False),  # random letters on easy figures
    ],
)
def test_letter_modes(difficulty, letters, fixed) -> None:
    problems = generate_problems(60, seed=5, difficulty=difficulty, size=160, letters=letters)
    first = set("ABCDEFGH") | {"O"}  # the first letters, and O for a circle's centre
    if fixed is None:
        assert all(_point_names(p) <= first for p in problems if p.family != "circle")
        assert any(not _point_names(p) <= first for p in problems if p.family == "circle")
    elif fixed:
        assert all(_point_names(p) <= first for p in problems)
    else:
        assert any(not _point_names(p) <= first for p in problems)
    for p in problems:  # whatever the letters, every fact stays true of its drawing and is stated by the CoT
        assert rule_verdicts(p.annotations, p.cot) == [1] * len(p.annotations)
        for text in p.annotations:
            _check_fact_in_drawing(p, text)


def test_fixed_letters_keep_the_difficulty_and_auto_is_the_default() -> None:
    fixed = generate_problems(24, seed=2, difficulty=2, size=160, letters="fixed")
    auto = generate_problems(24, seed=2, difficulty=2, size=160)
    # The difficulty still decides the rest: decoy labels, and angle values off the easy 5° grid.
    assert any(p.distractors for p in fixed if p.family == "triangle_angle_sum")
    angles = [v for p in fixed if p.family == "triangle_angle_sum" for v in p.key[1:]]
    assert any(v % 5 for v in angles)
    assert any(_point_names(p) != _point_names(q) for p, q in zip(fixed, auto, strict=True))
    # The default is "auto": it reproduces earlier testbeds pixel for pixel.
    default = generate_problems(12, seed=4, difficulty=1, size=160)
    explicit = generate_problems(12, seed=4, difficulty=1, size=160, letters="auto")
    assert [p.image.tobytes() for p in default] == [p.image.tobytes() for p in explicit]


@pytest.fixture(scope="module")
def easy_problems():
    return generate_problems(120, seed=3, difficulty=1, size=112)  # easy: many repeated keys, the hard case


@pytest.mark.parametrize("test_fraction", [0.0, 0.2, 0.5])  # none, typical, half
def test_split_has_no_overlap(test_fraction, easy_problems) -> None:
    problems = easy_problems
    train, test = split_by_key(problems, test_fraction, seed=3)
    assert sorted(train + test) == list(range(120))
    assert {problems[i].key for i in train}.isdisjoint({problems[i].key for i in test})
    assert len(test) >= round(120 * test_fraction)
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_key(problems, 1.0, seed=3)


def test_write_testbed_round_trip(tmp_path) -> None:
    summary = write_testbed(tmp_path / "tb", n=24, seed=5, difficulty=2, test_fraction=0.25, fmt="parquet", size=112)
    train = load_examples(tmp_path / "tb" / "train.parquet", check_images=True)
    test = load_examples(tmp_path / "tb" / "test.parquet", check_images=True)
    assert len(train) + len(test) == 24 and summary["splits"]["test"]["rows"] == len(test)
    keys = {
        split: {tuple(json.loads(r["meta"])["key"]) for r in rows} for split, rows in [("tr", train), ("te", test)]
    }
    assert keys["tr"].isdisjoint(keys["te"])
    assert {r["id"] for r in train}.isdisjoint({r["id"] for r in test})
    row = train[0]
    assert row["source"] == "synth" and row["visual_annotations"] and FORMAT.fullmatch(row["cot"])
    assert json.loads(row["meta"])["derived"], "rows carry the derived facts the metrics read"
    assert (tmp_path / "tb" / "README.md").read_text().count("|") > 6
    assert json.loads((tmp_path / "tb" / "summary.json").read_text()) == json.loads(json.dumps(summary))


def test_testbed_is_one_dataset_folder_read_by_load_from_disk_and_every_loader(tmp_path) -> None:
    import datasets

    write_testbed(tmp_path / "tb", n=10, seed=1, test_fraction=0.3, size=112)
    loaded = datasets.load_from_disk(str(tmp_path / "tb"))
    assert isinstance(loaded, datasets.DatasetDict) and set(loaded) == {"train", "test"}
    assert len(loaded["train"]) + len(loaded["test"]) == 10
    # the loaders of every command read the folder with --split, and each split folder alone
    assert len(load_examples(tmp_path / "tb", split="test")) == len(loaded["test"])
    assert len(load_examples(tmp_path / "tb" / "train")) == len(loaded["train"])


def test_parquet_testbed_folder_is_readable_by_split(tmp_path) -> None:
    write_testbed(tmp_path / "tb", n=8, seed=1, test_fraction=0.25, fmt="parquet", size=112)
    assert len(load_examples(tmp_path / "tb", split="train")) + len(load_examples(tmp_path / "tb", split="test")) == 8


def test_rewriting_replaces_the_whole_folder_and_a_format_switch_leaves_no_stale_split(tmp_path) -> None:
    out = tmp_path / "tb"
    write_testbed(out, n=6, seed=1, size=112, fmt="parquet")
    write_testbed(out, n=8, seed=2, size=112, fmt="disk")
    assert not (out / "train.parquet").exists() and not (out / "test.parquet").exists()
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name != "tb"]  # no temporary folder left behind


@pytest.mark.parametrize(
    "foreign",
    [
        "notes.txt",  # a user's file in the folder
        "train.csv",  # a file that merely looks like data
    ],
)
def test_a_non_empty_foreign_folder_is_refused_and_left_untouched(tmp_path, foreign) -> None:
    out = tmp_path / "tb"
    out.mkdir()
    (out / foreign).write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to replace"):
        write_testbed(out, n=2, seed=0, size=112)
    assert [p.name for p in out.iterdir()] == [foreign] and (out / foreign).read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name != "tb"]


def test_a_kill_mid_write_leaves_the_previous_testbed_whole(tmp_path, monkeypatch) -> None:
    from perception_r1.data.synth import output

    out = tmp_path / "tb"
    write_testbed(out, n=6, seed=1, size=112)
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # as a kill between the splits would

    monkeypatch.setattr(output, "check_fits", die)
    with pytest.raises(KeyboardInterrupt):
        write_testbed(out, n=6, seed=2, size=112)
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name != "tb"]


def test_concurrent_runs_into_one_folder_leave_one_whole_run(tmp_path) -> None:
    import threading

    out = tmp_path / "tb"
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            write_testbed(out, n=4, seed=seed, size=112)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    seed = json.loads((out / "summary.json").read_text())["seed"]
    rows = load_examples(out, split="train") + load_examples(out, split="test")
    assert {r["id"].split("-")[1] for r in rows} == {f"s{seed}"}  # every row from the run whose summary it is


@pytest.mark.parametrize(
    "n",
    [
        10**9,  # the case: would allocate without limit
        10**12,  # absurd
    ],
)
def test_sizes_that_do_not_fit_are_refused_up_front(tmp_path, n) -> None:
    import time

    start = time.monotonic()
    with pytest.raises(ValueError, match=rf"n={n}: .* (disk|memory)"):
        write_testbed(tmp_path / "tb", n=n, seed=0, size=112)
    assert time.monotonic() - start < 30
    assert not (tmp_path / "tb").exists()
