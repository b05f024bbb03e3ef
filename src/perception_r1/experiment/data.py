"""The experiment's data: disjoint train / validation / test splits of the synthetic testbed, as parquet files.

One pool of problems is generated and split, family by family, by what ``data.split_by`` names:

* ``key`` (the default): the problem key (family, question variant and values, whatever the letters or the
  drawing). No validation or test problem has a *twin* in train (a train problem with the same key, hence the
  same answer): the test is held out by values.
* ``instance``: the rendered problem (question and image pixels; a multiple-choice question without its options).
  A test problem may then have train twins; the earlier committed results were made this way (their NOTE.md says
  how many test problems had one).

:func:`check_disjoint` verifies the chosen disjointness again on whatever is on disk before anything trains on it;
:func:`count_twins` counts the twins by key whatever the split, for the report.

Example:
    >>> splits = make_splits(DataSection(n_train=12, n_val=6, n_test=6), image_size=112)  # doctest: +SKIP
    >>> sorted(splits)  # doctest: +SKIP
    ['test', 'train', 'val']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.data.synth.choices import question_stem
from perception_r1.experiment.config import DataSection

SPLITS = ("train", "val", "test")


class SplitOverlapError(ValueError):
    """Two splits share a problem; the message names the splits and an example id of each."""


def _grouped(problems: Sequence[Any], split_by: str) -> list[list[int]]:
    """Indices grouped by what may not straddle splits: the problem key, or the rendered instance."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(problems):
        ident = (
            json.dumps(list(p.key))
            if split_by == "key"
            else _instance_hash(question_stem(p.problem), [p.image.tobytes()])
        )
        groups.setdefault(ident, []).append(i)
    return list(groups.values())


def _take(groups: list[list[int]], target: int) -> tuple[list[int], list[list[int]]]:
    """Whole groups from the front until ``target`` indices are taken; returns (taken, remaining groups)."""
    taken: list[int] = []
    for n, group in enumerate(groups):
        if len(taken) >= target:
            return taken, groups[n:]
        taken.extend(group)
    return taken, []


def make_splits(data: DataSection, image_size: int) -> dict[str, list[dict[str, Any]]]:
    """Generate a pool and split it family by family into train / val / test schema rows.

    Whole groups (see ``data.split_by``) move together, and every family is split on its own, so all families
    are in every split even where a family has few distinct problems (six right-triangle keys at difficulty 1).

    Returns:
        ``{"train": rows, "val": rows, "test": rows}``; val and test get a family's share of ``n_val`` /
        ``n_test`` rounded up to whole groups; train gets the rest, cut to ``n_train`` in generation order.
    """
    import random

    from perception_r1.data.synth import generate_problems, to_row

    total = data.n_train + data.n_val + data.n_test
    # Whole groups move to val/test, so the pool is larger than the sum to leave train at n_train.
    pool = generate_problems(
        int(total * 1.3),
        data.seed,
        difficulty=data.difficulty,
        families=data.families or None,
        size=image_size,
        letters=data.letters,
        multiple_choice=data.multiple_choice,
    )
    by_family: dict[str, list[int]] = {}
    for i, p in enumerate(pool):
        by_family.setdefault(p.family, []).append(i)
    indices: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    share = {"test": data.n_test / total, "val": data.n_val / total}
    for family, members in by_family.items():
        groups = [[members[i] for i in g] for g in _grouped([pool[i] for i in members], data.split_by)]
        random.Random(f"perception-r1-experiment:{data.seed}:{family}").shuffle(groups)
        for split in ("test", "val"):
            taken, groups = _take(groups, int(-(-len(members) * share[split] // 1)))
            indices[split] += taken
        indices["train"] += [i for g in groups for i in g]
    indices = {name: sorted(idx) for name, idx in indices.items()}
    indices["train"] = indices["train"][: data.n_train]
    return {
        split: [to_row(pool[i], f"exp-{split}-s{data.seed}-{i:06d}", data.difficulty) for i in idx]
        for split, idx in indices.items()
    }


def _instance_hash(problem: str, images: Sequence[Any]) -> str:
    digest = hashlib.sha256(str(problem).encode())
    for image in images:
        digest.update(image if isinstance(image, bytes) else str(image).encode())
    return digest.hexdigest()


def problem_key(row: Mapping[str, Any], split_by: str = "key") -> str:
    """What identifies the row's problem across splits.

    Args:
        row: A schema row.
        split_by: ``"key"``: the generator's key in ``meta`` (family, variant, values), falling back to the
            instance when the row has none; ``"instance"``: the question text and the decoded image pixels. A
            multiple-choice question counts without its options: the same figure and question with the options
            drawn in another order is the same problem (twins across splits, and one test problem, not several).
    """
    meta = row.get("meta")
    if split_by == "key" and isinstance(meta, str) and meta:
        key = json.loads(meta).get("key")
        if key:
            return json.dumps(key)
    from perception_r1.data.schema import open_image

    pixels = []
    for image in row.get("images") or []:
        try:
            pixels.append(open_image(image).convert("RGB").tobytes())
        except (OSError, ValueError):  # an unreadable image is identified by its raw bytes
            pixels.append(image if isinstance(image, bytes) else str(image).encode())
    return _instance_hash(question_stem(row.get("problem", "")), pixels)


def check_disjoint(splits: Mapping[str, Sequence[Mapping[str, Any]]], split_by: str = "key") -> None:
    """Fail when any two splits share a problem (see :func:`problem_key`).

    With ``split_by="key"`` no problem key is in two splits; with ``"instance"`` only no rendered problem is, and
    twins by key pass (:func:`count_twins` counts them).

    Raises:
        SplitOverlapError: naming both splits, the number of shared keys and one row id from each side.
    """
    keyed = {name: {problem_key(r, split_by): r.get("id") for r in rows} for name, rows in splits.items()}
    names = list(keyed)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = keyed[a].keys() & keyed[b].keys()
            if shared:
                k = next(iter(shared))
                raise SplitOverlapError(
                    f"splits {a!r} and {b!r} share {len(shared)} problem(s), e.g. {a} row {keyed[a][k]!r} and "
                    f"{b} row {keyed[b][k]!r}: the test must hold problems never trained on"
                )


def count_twins(train: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``rows`` have a train twin: a train row with the same problem key (family, variant, values).

    Counted, never assumed: 0 by construction for ``split_by: key``, most of a test split for ``instance`` at the
    testbed's value ranges. Rows without a key in ``meta`` count by their instance (see :func:`problem_key`).
    """
    seen = {problem_key(r, "key") for r in train}
    return sum(problem_key(r, "key") in seen for r in rows)


def split_figures(splits: Mapping[str, Sequence[Mapping[str, Any]]], split_by: str) -> dict[str, Any]:
    """What the report says about the splits: how they were made, and each split's problems, keys and twins.

    Args:
        splits: ``{"train": rows, "val": rows, "test": rows}`` as evaluated (val and test one row per instance).
        split_by: The recipe's ``data.split_by``.

    Returns:
        ``{"split_by", "<split>": {"problems", "keys", "twins"}}`` for val and test (train: problems, keys).
    """
    return key_figures({name: [problem_key(r, "key") for r in rows] for name, rows in splits.items()}, split_by)


def key_figures(keys: Mapping[str, Sequence[str]], split_by: str) -> dict[str, Any]:
    """:func:`split_figures` from each split's problem keys (:func:`problem_key` with ``"key"``), one per row.

    Example:
        >>> key_figures({"train": ["a", "a", "b"], "test": ["b", "c"]}, "instance")["test"]
        {'problems': 2, 'keys': 2, 'twins': 1}
    """
    out: dict[str, Any] = {"split_by": split_by}
    train = set(keys.get("train", ()))
    for name, split_keys in keys.items():
        figures: dict[str, int] = {"problems": len(split_keys), "keys": len(set(split_keys))}
        if name != "train":
            figures["twins"] = sum(k in train for k in split_keys)
        out[name] = figures
    return out


def unique_instances(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first row of every distinct rendered problem (question + image pixels), in order."""
    seen: set[str] = set()
    out = []
    for row in rows:
        ident = problem_key(row, "instance")
        if ident not in seen:
            seen.add(ident)
            out.append(row)
    return out


def write_splits(splits: Mapping[str, Sequence[dict[str, Any]]], folder: Path) -> dict[str, Any]:
    """Write ``<split>.parquet`` files (atomically) and return per-split counts by family."""
    from collections import Counter

    from perception_r1.data.io import write_parquet

    summary: dict[str, Any] = {}
    for name, rows in splits.items():
        write_parquet(rows, folder / f"{name}.parquet")
        families = Counter(json.loads(r["meta"])["family"] for r in rows)
        summary[name] = {"rows": len(rows), "families": dict(sorted(families.items()))}
    return summary


def load_split(folder: Path, split: str) -> list[dict[str, Any]]:
    """Rows of one split written by :func:`write_splits`.

    Raises:
        FileNotFoundError: naming the missing file and the stage that writes it.
    """
    from perception_r1.data.io import load_examples

    path = folder / f"{split}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the experiment's data stage writes it (rerun the experiment)")
    return load_examples(str(path), kind="parquet")
