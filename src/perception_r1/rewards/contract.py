"""The reward contract: the columns each reward reads, and the one way a batch becomes a reward's inputs.

Every reward declares ``columns``, a tuple of :class:`ColumnSpec` (one per input; the names of one spec are
alternatives, the first preferred). Three callers feed rewards, and all of them go through this module:

* TRL training calls a reward with the batch's dataset columns as keyword arguments; the reward reads them with
  :func:`reward_inputs`, which fails with :class:`MissingColumnError` (naming the reward and the column) when a
  required column is absent, instead of scoring ``None`` for every completion.
* The verl adapter and the CLI scorer hold one record per response; :func:`score_components` turns those rows
  into each reward's inputs with the same :func:`reward_inputs`.
* Before training, :func:`missing_columns` checks a dataset's columns against the same declarations.

What a ``None`` score does to a total is decided in one place too: :func:`perception_r1.rewards.combined.combine`.

Example:
    >>> from perception_r1.rewards import get_reward
    >>> accuracy = get_reward("accuracy", isolation="inline")
    >>> accuracy.columns
    (ColumnSpec(names=('answer',), required=True), ColumnSpec(names=('choices',), required=False))
    >>> reward_inputs(accuracy, [{"answer": "3"}, {"answer": "4", "choices": ["3", "4"]}])
    {'answer': ['3', '4'], 'choices': [None, ['3', '4']]}
    >>> missing_columns([accuracy], {"problem", "images"})
    ["reward 'accuracy' needs column 'answer'"]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perception_r1.rewards.base import Completion, RewardList, plain

# What TRL passes besides the dataset columns; left out of the "columns given" of an error message.
_TRL_ARGUMENTS = frozenset({"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric"})


@dataclass(frozen=True)
class ColumnSpec:
    """One input a reward reads from the dataset.

    Attributes:
        names: Column names that can provide it, in order of preference (any one of them suffices).
        required: Whether the reward cannot work without it (an optional one reads as ``None`` when absent).
    """

    names: tuple[str, ...]
    required: bool = True

    def describe(self) -> str:
        """``"'a' or 'b'"``: the names as an error message lists them."""
        return " or ".join(repr(name) for name in self.names)


class MissingColumnError(ValueError):
    """A reward was called without a column it requires; the message names the reward and the column."""

    def __init__(self, reward: str, spec: ColumnSpec, given: Iterable[str]) -> None:
        self.reward, self.spec, self.given = reward, spec, sorted(given)
        super().__init__(
            f"reward {reward!r} needs column {spec.describe()}; columns given: {', '.join(self.given) or '(none)'}"
        )


def reward_name(reward: Any) -> str:
    """The name a reward logs under (its ``__name__``, else its class name)."""
    return str(getattr(reward, "__name__", type(reward).__name__))


def declared_columns(reward: Any) -> tuple[ColumnSpec, ...]:
    """The columns ``reward`` declares (none for a reward that reads only the completions).

    Raises:
        TypeError: a ``columns`` attribute that is not a tuple of :class:`ColumnSpec`.
    """
    columns = getattr(reward, "columns", ())
    if not isinstance(columns, tuple) or not all(isinstance(c, ColumnSpec) for c in columns):
        raise TypeError(f"reward {reward_name(reward)!r}: 'columns' must be a tuple of ColumnSpec, got {columns!r}")
    return columns


def missing_columns(rewards: Iterable[Any], present: Iterable[str]) -> list[str]:
    """Every required column the rewards need and ``present`` lacks, as messages (empty: all good).

    Args:
        rewards: Reward objects (their ``columns`` declarations are read).
        present: Column names available (e.g. a dataset's non-empty columns).

    Returns:
        One ``"reward 'x' needs column 'c'"`` per missing column, in reward order.
    """
    have = set(present)
    return [
        f"reward {reward_name(reward)!r} needs column {spec.describe()}"
        for reward in rewards
        for spec in declared_columns(reward)
        if spec.required and not have.intersection(spec.names)
    ]


def _rows_as_columns(rows: Sequence[Any], names: Iterable[str], n: int) -> dict[str, list[Any]]:
    if len(rows) != n:
        raise ValueError(f"{len(rows)} rows for {n} completions")
    for i, row in enumerate(rows):
        if type(row) is not dict and not isinstance(row, Mapping):  # dict first: the ABC check is slow
            raise ValueError(f"row {i}: expected a mapping of column -> value, got {type(row).__name__}")
    return {name: [plain(row.get(name)) for row in rows] for name in names}


def reward_inputs(reward: Any, batch: Mapping[str, Any] | Sequence[Any], n: int | None = None) -> dict[str, list[Any]]:
    """The columns ``reward`` declares, one value per completion, read from TRL kwargs or from dataset rows.

    Args:
        reward: A reward with a ``columns`` declaration.
        batch: Either a mapping of column name -> one value per completion (TRL's reward kwargs; extra keys
            such as ``prompts`` or ``log_metric`` are ignored), or a sequence of rows (mappings), one per
            completion. In a row, a key it lacks is ``None``: the record's own format (a JSONL line, verl's
            ``extra_info``) decides which fields may be left out, and ``None`` means "not applicable".
        n: Number of completions (default: the number of rows, or the length of the first declared column).

    Returns:
        ``{column: [value per completion]}`` for every declared name; an absent optional column (or an absent
        alternative of a present one) reads as ``None`` values. Numpy arrays and scalars (verl's ``extra_info``,
        pandas rows) are turned into lists and Python scalars (:func:`perception_r1.rewards.base.plain`).

    Raises:
        MissingColumnError: (mapping form) a required column none of whose names is present.
        ValueError: a column or a row list whose length differs from ``n``, or a row that is not a mapping.
    """
    specs = declared_columns(reward)
    names = [name for spec in specs for name in spec.names]
    if not isinstance(batch, Mapping):
        return _rows_as_columns(batch, names, len(batch) if n is None else n)
    given = [name for name in names if batch.get(name) is not None]
    if n is None:
        n = len(batch[given[0]]) if given else 0
    for spec in specs:
        if spec.required and not any(name in given for name in spec.names):
            columns = [key for key, value in batch.items() if value is not None and key not in _TRL_ARGUMENTS]
            raise MissingColumnError(reward_name(reward), spec, columns)
    out: dict[str, list[Any]] = {}
    for name in names:
        values = [plain(v) for v in batch[name]] if name in given else [None] * n
        if len(values) != n:
            raise ValueError(
                f"reward {reward_name(reward)!r}: column {name!r} has {len(values)} values for {n} completions"
            )
        out[name] = values
    return out


def score_components(
    rewards: Mapping[str, Any], completions: Sequence[Completion], rows: Sequence[Mapping[str, Any]]
) -> dict[str, RewardList]:
    """Score one record per completion with every reward, each reading its declared columns from the rows.

    Args:
        rewards: Component name -> reward callable.
        completions: One response per row.
        rows: One record (column -> value) per completion.

    Returns:
        Component name -> one ``float | None`` per completion.
    """
    n = len(completions)
    return {name: list(fn(list(completions), **reward_inputs(fn, rows, n))) for name, fn in rewards.items()}


__all__ = [
    "ColumnSpec",
    "MissingColumnError",
    "declared_columns",
    "missing_columns",
    "reward_inputs",
    "reward_name",
    "score_components",
]
