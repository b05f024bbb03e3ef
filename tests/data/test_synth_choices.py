"""Multiple-choice testbed problems (``multiple_choice=True``): options, balanced letters, determinism, grading,
and the problems without options unchanged byte for byte."""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections import Counter

import pytest

from perception_r1.data.io import load_examples
from perception_r1.data.synth import FAMILIES, generate_problems, to_row, write_testbed
from perception_r1.data.synth.choices import (
    OPTION_LETTERS,
    balanced_position,
    make_multiple_choice,
    question_stem,
    relabel,
)
from perception_r1.data.synth.problem import SynthProblem
from perception_r1.rewards.answer import choice_map

N_FAMILIES = len(FAMILIES.names())


def _digest(difficulty: int, letters: str) -> str:
    """Every text field of the rows (meta included) and the figures' pixels of 18 problems without options."""
    h = hashlib.sha256()
    for i, p in enumerate(generate_problems(18, seed=5, difficulty=difficulty, size=112, letters=letters)):
        row = to_row(p, f"r{i}", difficulty)
        h.update(
            json.dumps({k: v for k, v in row.items() if k != "images"}, sort_keys=True, ensure_ascii=False).encode()
        )
        h.update(p.image.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    ("difficulty", "letters", "digest"),
    [
        # Computed on main before the multiple-choice option existed (commit 5b73cef): earlier experiments' data
        # must not move. Pixels, not PNG bytes, so that another zlib build cannot fail it.
        (1, "auto", "cdda9a190441e08da568d80cf0dd482b5537f2ce6cd7775dcafee8b7b58fb2f0"),  # the quick mode's
        (2, "auto", "51ca009fae2192fb42b136584ff709bed50325943890ab64947bec53b9b81b35"),  # random letters
        (3, "auto", "9d1532a1a653addd34e4292c4e4bab9538de5456cf24e981c0ed7b1a02926180"),  # hardest variants
        (2, "fixed", "60cb762cdeefe715240d3f12474086eab3830cc0ede23954d87aa3163505f931"),  # the full mode's
    ],
)
def test_problems_without_options_are_unchanged(difficulty: int, letters: str, digest: str) -> None:
    assert _digest(difficulty, letters) == digest


def test_rows_without_options_have_no_choices_column() -> None:
    row = to_row(generate_problems(1, seed=0, size=112)[0], "r", 1)
    assert "choices" not in row and "multiple_choice" not in json.loads(row["meta"])


def _pairs(difficulty: int, n: int = 4 * N_FAMILIES, seed: int = 9):
    plain = generate_problems(n, seed=seed, difficulty=difficulty, size=112)
    mc = generate_problems(n, seed=seed, difficulty=difficulty, size=112, multiple_choice=True)
    return list(zip(plain, mc, strict=True))


PAIRS = [(d, a, b) for d in (1, 2, 3) for a, b in _pairs(d)]
IDS = [f"d{d}-{i}-{a.family}" for i, (d, a, _) in enumerate(PAIRS)]


@pytest.mark.parametrize(("difficulty", "plain", "mc"), PAIRS, ids=IDS)
def test_a_multiple_choice_problem_is_the_same_problem_with_options(difficulty, plain, mc) -> None:
    # the figure, the facts and the identity are those of the problem without options
    assert mc.image.tobytes() == plain.image.tobytes() and mc.key == plain.key
    assert (mc.annotations, mc.distractors, mc.derived) == (plain.annotations, plain.distractors, plain.derived)
    # the question lists four distinct options; the gold answer is the letter of the plain answer
    assert question_stem(mc.problem) == plain.problem and mc.problem.count("\n(") == 4
    assert len(set(mc.choices)) == 4 and mc.answer in OPTION_LETTERS
    assert choice_map(mc.choices)[mc.answer] == plain.answer
    assert all(f"({L}) {text}" in mc.problem for L, text in zip(OPTION_LETTERS, mc.choices, strict=True))
    # the options are the answers of reading a needed value 0-3 steps off: four consecutive offsets around 0
    assert sorted(mc.choice_offsets) == list(range(min(mc.choice_offsets), min(mc.choice_offsets) + 4))
    assert [plain.nearby[j] for j in mc.choice_offsets] == mc.choices and 0 in mc.choice_offsets
    # of the same kind: degrees with degrees, multiples of pi with multiples of pi
    assert all(("\\pi" in c) == ("\\pi" in plain.answer) for c in mc.choices)
    # the solution states the facts, computes the value, names the option and boxes its letter
    assert mc.cot.startswith(plain.cot.split("</think>")[0])
    assert f"which is option ({mc.answer})." in mc.cot and mc.cot.endswith(f"\\boxed{{{mc.answer}}}.\n</answer>")


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_the_correct_letter_is_balanced_per_family(difficulty: int) -> None:
    problems = generate_problems(8 * N_FAMILIES, seed=4, difficulty=difficulty, size=112, multiple_choice=True)
    per_family: dict[str, Counter] = {}
    for p in problems:
        per_family.setdefault(p.family, Counter())[p.answer] += 1
    # every family's 8 problems (two blocks of four) take each letter exactly twice
    assert all(counts == Counter({L: 2 for L in OPTION_LETTERS}) for counts in per_family.values()), per_family


def test_balanced_positions_are_a_seeded_permutation_per_block_and_family() -> None:
    blocks = [[balanced_position(3, b * 24 + r * 6 + f, 6) for r in range(4)] for b in range(20) for f in range(6)]
    assert all(sorted(block) == [0, 1, 2, 3] for block in blocks)
    assert len({tuple(block) for block in blocks}) > 8  # the order is drawn, not fixed
    assert balanced_position(3, 7, 6) == balanced_position(3, 7, 6)


def _option_rank(p: SynthProblem) -> int:
    values = [float(c.replace("\\pi", "")) for c in p.choices]
    return sorted(values).index(values[OPTION_LETTERS.index(p.answer)])


def test_options_alone_do_not_give_the_answer_away() -> None:
    # a reader without the figure who picks by the options' values (smallest, second, ...) is near 1 in 4: the
    # answer's rank among its options is drawn, not fixed; small values (a radius of 2 cannot have 3 smaller
    # options) tilt it a little, which the image-blind baseline measures
    problems = generate_problems(240, seed=1, difficulty=2, size=112, multiple_choice=True)
    ranks = Counter(_option_rank(p) for p in problems)
    assert all(0.17 <= ranks[r] / len(problems) <= 0.33 for r in range(4)), ranks


def test_multiple_choice_generation_is_deterministic() -> None:
    def snapshot(seed: int, n: int = 12) -> list:
        out = []
        for p in generate_problems(n, seed=seed, difficulty=2, size=112, multiple_choice=True):
            buffer = io.BytesIO()
            p.image.save(buffer, format="PNG")
            out.append((p.problem, p.answer, p.choices, p.cot, buffer.getvalue()))
        return out

    assert snapshot(7) == snapshot(7)  # same seed: identical text, options and pixels
    assert [s[:3] for s in snapshot(7)] != [s[:3] for s in snapshot(8)]  # another seed: other problems
    assert snapshot(7, 6) == snapshot(7)[:6]  # item i does not depend on n


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_the_generators_own_solutions_grade_right(difficulty: int) -> None:
    from perception_r1.experiment.evaluate import grade_items, graders

    problems = generate_problems(
        4 * N_FAMILIES, seed=difficulty, difficulty=difficulty, size=112, multiple_choice=True
    )
    rows = [to_row(p, f"r{i}", difficulty) for i, p in enumerate(problems)]
    with graders() as (accuracy, fmt):
        items = grade_items(rows, [r["cot"] for r in rows], accuracy, fmt)
    for item in items:
        assert item["answer_correct"] == 1.0 and item["format"] == 1.0, item
        assert item["perception_correct"] and item["wrong_facts"] == 0 and item["hallucinated_facts"] == 0, item


@pytest.mark.parametrize(
    "value",
    [
        "yes",  # a YAML string, not a boolean
        1,  # a number
    ],
)
def test_multiple_choice_must_be_a_boolean(value) -> None:
    with pytest.raises(ValueError, match="multiple_choice must be true or false"):
        generate_problems(1, seed=0, multiple_choice=value)


def test_a_family_without_four_nearby_answers_is_refused() -> None:
    plain = generate_problems(1, seed=0, size=112)[0]
    near = {j: v for j, v in plain.nearby.items() if j in (-1, 0, 1)}  # three only
    broken = SynthProblem(**{**plain.__dict__, "nearby": near})
    with pytest.raises(ValueError, match="no 4 consecutive nearby answers"):
        make_multiple_choice(broken, random.Random(0), 0)


@pytest.mark.parametrize(
    ("solution", "answer", "letter", "expected"),
    [
        # the final sentence and the boxed letter name the new option; the facts stay
        (
            "<think>\nangle A = 50°.\nSo the answer is 60, which is option (B).\n</think>\n<answer>\nThe answer is "
            "\\boxed{B}.\n</answer>",
            "62",
            "D",
            "<think>\nangle A = 50°.\nSo the answer is 62, which is option (D).\n</think>\n<answer>\nThe answer is "
            "\\boxed{D}.\n</answer>",
        ),
        # a multiple of pi is written as the solutions write it
        (
            "So the answer is 4π, which is option (A).\n\\boxed{A}",
            "6\\pi",
            "C",
            "So the answer is 6π, which is option (C).\n\\boxed{C}",
        ),  # fmt: skip
    ],
)
def test_relabel(solution: str, answer: str, letter: str, expected: str) -> None:
    assert relabel(solution, answer, letter) == expected


def test_write_testbed_with_options(tmp_path) -> None:
    summary = write_testbed(tmp_path / "tb", n=12, seed=2, size=112, test_fraction=0.25, multiple_choice=True)
    assert summary["multiple_choice"] is True
    rows = load_examples(tmp_path / "tb" / "train") + load_examples(tmp_path / "tb" / "test")
    assert len(rows) == 12
    for row in rows:
        meta = json.loads(row["meta"])["multiple_choice"]
        assert list(row["choices"])[OPTION_LETTERS.index(row["answer"])] == meta["value"]
        assert 0 in meta["offsets"] and len(meta["offsets"]) == 4
    readme = (tmp_path / "tb" / "README.md").read_text()
    assert "--multiple-choice`" in readme and "Multiple choice:" in readme
    plain = write_testbed(tmp_path / "plain", n=4, seed=2, size=112)
    assert "multiple_choice" not in plain and "Multiple choice" not in (tmp_path / "plain" / "README.md").read_text()
