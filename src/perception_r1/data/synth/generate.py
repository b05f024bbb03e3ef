"""Generate the testbed: problems -> schema rows -> train/test splits on disk with a README and a summary."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perception_r1.data.schema import image_to_bytes
from perception_r1.data.synth.choices import balanced_position, make_multiple_choice
from perception_r1.data.synth.problem import DIFFICULTIES, LETTER_MODES, SynthProblem
from perception_r1.io_utils import atomic_write_json, atomic_write_text
from perception_r1.registry import Registry

FAMILIES: Registry[Any] = Registry("synthetic problem family")
FAMILIES.register("triangle_angle_sum", "perception_r1.data.synth.triangles:triangle_angle_sum")
FAMILIES.register("isosceles_triangle", "perception_r1.data.synth.triangles:isosceles_triangle")
FAMILIES.register("right_triangle", "perception_r1.data.synth.triangles:right_triangle")
FAMILIES.register("parallel_lines", "perception_r1.data.synth.shapes:parallel_lines")
FAMILIES.register("rectangle", "perception_r1.data.synth.shapes:rectangle")
FAMILIES.register("circle", "perception_r1.data.synth.shapes:circle")


def generate_problems(
    n: int,
    seed: int,
    *,
    difficulty: int = 1,
    families: Sequence[str] | None = None,
    size: int = 224,
    letters: str = "auto",
    multiple_choice: bool = False,
) -> list[SynthProblem]:
    """Render ``n`` problems, cycling through ``families``; item ``i`` depends only on (seed, i, options).

    Args:
        n: Number of problems.
        seed: Random seed; the same arguments always give identical problems and image bytes.
        difficulty: 1 (easy) to 3 (hard): value ranges, rotated figures, decoy labels, harder question variants.
        families: Family names (default: all, see ``FAMILIES``).
        size: Image side in pixels, 112-448.
        letters: Point letters: ``"auto"`` (difficulty decides), ``"fixed"`` (A, B, C, ... and O for a circle's
            centre at any difficulty) or ``"random"``.
        multiple_choice: Four options (A-D) listed in the question, the gold answer the correct one's letter
            (:mod:`perception_r1.data.synth.choices`). Problem ``i`` keeps the figure, facts and key it has without
            options: the options come from a random source of their own.

    Raises:
        ValueError: bad ``n``, ``difficulty``, ``size``, ``letters`` or ``multiple_choice``; UnknownNameError: an
            unknown family.
    """
    makers = _makers(n, difficulty, size, families, letters, multiple_choice)
    return [_problem(makers, seed, i, difficulty, size, letters, multiple_choice) for i in range(n)]


def _makers(
    n: int,
    difficulty: int,
    size: int,
    families: Sequence[str] | None,
    letters: str = "auto",
    multiple_choice: Any = False,
) -> list[Any]:
    """Check the generator options; the family makers in cycling order."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty}")
    if not 112 <= size <= 448:
        raise ValueError(f"size must be between 112 and 448 pixels, got {size}")
    if letters not in LETTER_MODES:
        raise ValueError(f"letters must be one of {LETTER_MODES}, got {letters!r}")
    if not isinstance(multiple_choice, bool):  # a YAML "yes"/"no" string would otherwise count as true
        raise ValueError(f"multiple_choice must be true or false, got {multiple_choice!r}")
    names = list(families) if families else FAMILIES.names()
    return [FAMILIES.get(name) for name in names]


def _problem(
    makers: Sequence[Any],
    seed: int,
    i: int,
    difficulty: int,
    size: int,
    letters: str = "auto",
    multiple_choice: bool = False,
) -> SynthProblem:
    rng = random.Random(f"perception-r1-synth:{seed}:{i}")  # str seeds hash deterministically (sha512)
    problem = makers[i % len(makers)](rng, difficulty, size, letters)
    if multiple_choice:  # the options' own random source: the figure stays the one drawn without options
        options_rng = random.Random(f"perception-r1-synth-choices:{seed}:{i}")
        problem = make_multiple_choice(problem, options_rng, balanced_position(seed, i, len(makers)))
    return problem


def split_by_key(problems: Sequence[SynthProblem], test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of train and test problems; all problems sharing a ``key`` land in the same split.

    Groups of equal keys are visited in a seeded random order and moved to test until it holds at least
    ``round(len(problems) * test_fraction)`` problems, so no test problem has a train twin (same family,
    variant and values, whatever the letters or the drawing).

    Raises:
        ValueError: ``test_fraction`` outside [0, 1).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, p in enumerate(problems):
        groups.setdefault(p.key, []).append(i)
    keys = list(groups)
    random.Random(f"perception-r1-split:{seed}").shuffle(keys)
    target = round(len(problems) * test_fraction)
    test: list[int] = []
    for key in keys:
        if len(test) >= target:
            break
        test.extend(groups[key])
    test_set = set(test)
    return [i for i in range(len(problems)) if i not in test_set], sorted(test)


def to_row(problem: SynthProblem, row_id: str, difficulty: int) -> dict[str, Any]:
    """A schema row (image as PNG bytes; ``meta`` is a JSON string with family, key, distractors, labels).

    A multiple-choice problem's row also has ``choices`` (the option texts, A-D) and, in ``meta``,
    ``multiple_choice``: ``value`` (the correct option's text) and ``offsets`` (each option's nearby-answer offset,
    0 for the correct one). Other rows have neither key, exactly as before the option existed.
    """
    meta: dict[str, Any] = {
        "family": problem.family,
        "difficulty": difficulty,
        "key": list(problem.key),
        "distractors": problem.distractors,
        "derived": problem.derived,
        "labels": [{"text": lb.text, "role": lb.role, "target": lb.target, "xy": lb.xy} for lb in problem.labels],
    }
    if problem.choices:
        meta["multiple_choice"] = {"value": problem.nearby[0], "offsets": list(problem.choice_offsets)}
    row = {
        "id": row_id,
        "images": [image_to_bytes(problem.image)],
        "problem": problem.problem,
        "answer": problem.answer,
        "cot": problem.cot,
        "visual_annotations": list(problem.annotations),
        "source": "synth",
        "meta": json.dumps(meta, ensure_ascii=False),
    }
    if problem.choices:
        row["choices"] = list(problem.choices)
    return row


_README = """# Perception-R1 synthetic geometry testbed

Generated by `perception-r1 data synth --n {n} --seed {seed} --difficulty {difficulty} --test-fraction {tf}{flags}`.

Each row follows the perception-r1 schema (`id`, `images`, `problem`, `answer`, `cot`, `visual_annotations`,
`source`, plus `meta`). The figure holds the values the question needs; the text does not give them.
`visual_annotations` are the exact facts drawn by the generator that the solution uses, in the canonical forms
of `perception_r1.data.facts` (e.g. `AB = 5`, `angle ABC = 40°`, `AB ∥ CD`); the `rule` judge reads them.
`meta.distractors` lists true facts shown in the figure that the solution does not need, `meta.derived` true facts
the figure determines without showing them (e.g. the other angles where a transversal crosses two parallels).

Problems that share family, variant and values (whatever the letters) are all in the same split.

| split | rows | distinct problems |
|---|---|---|
{table}

Families: {families}
"""


_README_CHOICES = """
Multiple choice: each question lists four options, (A)-(D), and `answer` is the correct option's letter;
`choices` holds the option texts in letter order. The options are the answers of reading one needed value of the
figure a few grid steps off (`perception_r1.data.synth.choices`), the correct letter uniform over A-D;
`meta.multiple_choice` gives the correct option's `value` and each option's `offsets` from the answer.
"""


def write_testbed(
    out_dir: str | Path,
    *,
    n: int,
    seed: int,
    difficulty: int = 1,
    test_fraction: float = 0.2,
    fmt: str = "disk",
    size: int = 224,
    families: Sequence[str] | None = None,
    letters: str = "auto",
    multiple_choice: bool = False,
) -> dict[str, Any]:
    """Generate problems and write one dataset folder: ``train`` and ``test`` splits, ``README.md``, ``summary.json``.

    The folder is built beside ``out_dir`` and swapped in whole (:func:`perception_r1.io_utils.atomic_folder`): a
    killed run leaves the previous output untouched, and concurrent runs never mix. An existing ``out_dir`` is
    replaced only when it is empty or an earlier testbed; any other non-empty folder is refused. Rows stream to
    disk in chunks, so memory stays small; a size whose output cannot fit on the disk is refused up front.

    Args:
        out_dir: Output folder.
        fmt: ``"disk"``: a ``datasets.DatasetDict`` folder (``datasets.load_from_disk(out_dir)`` reads it, and so
            does every command given the folder and ``--split``); ``"parquet"``: ``train.parquet`` and
            ``test.parquet`` in the folder.
        Others: see :func:`generate_problems` and :func:`split_by_key`.

    Returns:
        The summary dict (also written to ``summary.json``).

    Raises:
        ValueError: bad options or a size that does not fit; FileExistsError: ``out_dir`` holds other files.
    """
    from perception_r1.data.synth.output import is_testbed_folder, write_splits
    from perception_r1.io_utils import atomic_folder

    if fmt not in ("disk", "parquet"):
        raise ValueError(f"fmt must be 'disk' or 'parquet', got {fmt!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    makers = _makers(n, difficulty, size, families, letters, multiple_choice)
    out = Path(out_dir)
    summary: dict[str, Any] = {
        "generator": "perception-r1 data synth", "format": fmt,
        "n": n, "seed": seed, "difficulty": difficulty, "test_fraction": test_fraction, "size": size,
        "letters": letters, "splits": {},
    }  # fmt: skip
    if multiple_choice:  # the key only when set: a testbed without options is written as it always was
        summary["multiple_choice"] = True
    with atomic_folder(out, owned=is_testbed_folder) as stage:
        problems = ((i, _problem(makers, seed, i, difficulty, size, letters, multiple_choice)) for i in range(n))
        pairs = ((p, to_row(p, f"synth-s{seed}-d{difficulty}-{i:06d}", difficulty)) for i, p in problems)
        infos = write_splits(stage, out, pairs, n, fmt, lambda keyed: split_by_key(keyed, test_fraction, seed))
        summary["splits"] = infos
        table = "\n".join(f"| {name} | {info['rows']} | {info['distinct_problems']} |" for name, info in infos.items())
        families_used = ", ".join(families or FAMILIES.names())
        flags = " --multiple-choice" if multiple_choice else ""
        readme = _README.format(
            n=n, seed=seed, difficulty=difficulty, tf=test_fraction, flags=flags, table=table, families=families_used
        ) + (_README_CHOICES if multiple_choice else "")
        atomic_write_text(stage / "README.md", readme)
        atomic_write_json(stage / "summary.json", summary)
    return summary
