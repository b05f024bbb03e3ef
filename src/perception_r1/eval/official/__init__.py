"""Each benchmark's official rule scorer, reproduced item for item (quirks included) so that ``--scoring official``
numbers are comparable with published tables. One module per benchmark; each reads the *raw response*, as the
official scripts do, and returns ``(prediction, correct)``.

Where the official pipeline extracts with GPT (MathVista, MathVerse), the project's rule extraction
(:func:`perception_r1.eval.extract.extract_answer`) stands in for GPT and the official comparison follows.

Example:
    >>> score_official("mmstar", "B. a dog", "B", {}, {}, OfficialState())
    ('B', True)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perception_r1.registry import lookup

OfficialScorer = Callable[[str, str, Mapping[str, str], Mapping[str, Any], "OfficialState"], tuple[Any, bool]]


@dataclass
class OfficialState:
    """State shared by the items of one scoring run.

    Attributes:
        rng: MMMU / MMMU-Pro pick a random letter when they find none; the official MMMU script seeds Python's
            generator with 42 at import and draws in item order, so one seeded generator per run reproduces it.
    """

    rng: random.Random = field(default_factory=lambda: random.Random(42))


def _rule_extract(response: str) -> str | None:
    from perception_r1.eval.extract import extract_answer

    return extract_answer(response)[0]


def _mathvista(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import mathvista

    return mathvista.score(response, gold, choices, metadata, _rule_extract)


def _mathverse(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    # MathVerse's rule path (``--quick_match``): the extraction must equal the gold answer exactly.
    pred = _rule_extract(response)
    return pred, pred is not None and pred == str(gold)


def _mathvision(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import mathvision

    return mathvision.score(response, gold, choices, metadata)


def _wemath(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import wemath

    return wemath.score(response, gold, choices, metadata)


def _mmmu(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import mmmu

    return mmmu.score_mmmu(response, gold, choices, metadata, state.rng)


def _mmmu_pro(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import mmmu

    return mmmu.score_mmmu_pro(response, gold, choices, metadata, state.rng)


def _mmstar(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import mmstar

    return mmstar.score(response, gold, choices, metadata)


def _emma(response, gold, choices, metadata, state):  # noqa: ANN001, ANN202
    from perception_r1.eval.official import emma

    return emma.score(response, gold, choices, metadata)


# Each benchmark's official scorer, reproduced (the functions above).
OFFICIAL: dict[str, OfficialScorer] = {
    "mathvista": _mathvista,
    "mathverse": _mathverse,
    "mathvision": _mathvision,
    "wemath": _wemath,
    "mmmu": _mmmu,
    "mmmu_pro": _mmmu_pro,
    "mmstar": _mmstar,
    "emma": _emma,
}


def score_official(
    benchmark: str,
    response: str | None,
    gold: str,
    choices: Mapping[str, str],
    metadata: Mapping[str, Any],
    state: OfficialState | None = None,
) -> tuple[str | None, bool]:
    """Score one raw response by ``benchmark``'s official rules.

    Args:
        benchmark: Benchmark name (``mathvista`` ...).
        response: The model's raw response; ``None`` (no response) is wrong, as in the official scripts.
        state: Shared per-run state (a fresh one when ``None``).

    Returns:
        ``(prediction, correct)``: the official prediction as a string (``None`` when it read none).

    Raises:
        perception_r1.registry.UnknownNameError: for a benchmark without an official scorer.
    """
    fn = lookup(OFFICIAL, benchmark, "official scorer")
    if response is None:
        return None, False
    pred, correct = fn(str(response), str(gold), choices or {}, metadata or {}, state or OfficialState())
    return (None if pred is None else str(pred)), bool(correct)
