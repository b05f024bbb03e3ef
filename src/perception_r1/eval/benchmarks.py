"""The paper's eight evaluation benchmarks, described as data.

Benchmarks, splits and official metrics: docs/reference.md#benchmarks-and-official-metrics.

Each :class:`Benchmark` says where the data lives (hub id, config, split per :class:`Subset`), which columns hold
the id, question, choices, gold answer and images, how the choices are written, which per-item fields the
official breakdowns use, and which scorer and aggregator apply. Code elsewhere (:mod:`.data`, :mod:`.scoring`)
reads these descriptions; adding a benchmark means adding an entry here.

Example:
    >>> get_benchmark("mathvista").hub_id
    'AI4Math/MathVista'
    >>> get_benchmark("mathvsta")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    perception_r1.registry.UnknownNameError: unknown benchmark 'mathvsta' (did you mean 'mathvista' or ...); known: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perception_r1.registry import Registry


@dataclass(frozen=True)
class Subset:
    """One loadable part of a benchmark.

    Attributes:
        name: Label in outputs and the local file stem (``data_dir/<benchmark>/<name>.jsonl``).
        hub_config: ``datasets`` config name (``None`` for the default config).
        split: Split to load.
    """

    name: str
    hub_config: str | None
    split: str


@dataclass(frozen=True)
class Benchmark:
    """Description of one benchmark.

    Attributes:
        name: Registry name (``mathvista``).
        title: Row label of the paper's Table 1 (``MathVista testmini``).
        hub_id: Hugging Face dataset id.
        subsets: Parts to load; items carry their subset name in ``metadata["subset"]``.
        id_columns: Columns whose values, joined by ``/``, identify an item (WeMath needs ``ID`` and ``key``);
            ids are prefixed with the subset when the benchmark has several.
        question_columns: The first non-empty one is the question text: the field the paper's evaluation put in
            the prompt (MathVista's ``query``, which carries the hint on unit and precision), then fallbacks.
        question_has_choices: Question columns whose text already lists the options (MathVista's ``query``), so
            the prompt does not repeat them when the question came from one of them.
        answer_column: Gold answer.
        image_columns: Columns that may hold images (PIL, ``{"bytes", "path"}``, bytes or a path).
        image_mode: ``"first"``: the first non-empty column only (MathVista's ``decoded_image`` before the
            ``image`` path); ``"all"``: every non-empty column, in order (MMMU's ``image_1..7``).
        choices_column: Column with the options (``None``: none, or parsed from the question text).
        choices_format: ``list`` (sequence of texts), ``python_list`` (MMMU's ``"['a', 'b']"`` string),
            ``semicolon`` (WeMath's ``"A. x; B. y"``), ``embedded`` (options inside the question text).
        choices_in_question: The question text already lists the options, so the prompt does not repeat them.
        fallback_letters: When no options can be read but the gold answer is a letter, options ``A..`` this many
            letters are assumed (the options are in the image: MathVerse vision versions, MMMU-Pro vision).
        meta_columns: Columns copied into the item metadata (dotted paths descend into dict columns).
        breakdowns: Metadata fields reported per value (a list value counts the item under each element).
        scorer: Per-item scorer name in :data:`perception_r1.eval.scoring.SCORERS`.
        aggregator: Summary name in :data:`perception_r1.eval.scoring.AGGREGATORS`.
        subset_groups: ``(field, {subset: group})``: stores the subset's group in ``metadata[field]`` (MMMU's
            subject -> discipline).
        size: Items of the whole benchmark, all subsets together (the set the paper's Table 1 scores); a run
            with fewer is partial (:mod:`perception_r1.eval.coverage`). ``None``: unknown.
    """

    name: str
    title: str
    hub_id: str
    subsets: tuple[Subset, ...]
    id_columns: tuple[str, ...]
    question_columns: tuple[str, ...]
    answer_column: str
    image_columns: tuple[str, ...]
    image_mode: str = "first"
    choices_column: str | None = None
    choices_format: str = "list"
    choices_in_question: bool = False
    question_has_choices: tuple[str, ...] = ()
    fallback_letters: int = 0
    meta_columns: tuple[str, ...] = ()
    breakdowns: tuple[str, ...] = ()
    scorer: str = "choice_or_math"
    aggregator: str = "accuracy"
    subset_groups: tuple[str, dict[str, str]] | None = field(default=None, compare=False, hash=False)
    size: int | None = None


BENCHMARKS: Registry[Benchmark] = Registry("benchmark")

_MMMU_SUBJECTS = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": (
        "Basic_Medical_Science",
        "Clinical_Medicine",
        "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy",
        "Public_Health",
    ),
    "Humanities and Social Science": ("History", "Literature", "Sociology", "Psychology"),
    "Tech and Engineering": (
        "Agriculture",
        "Architecture_and_Engineering",
        "Computer_Science",
        "Electronics",
        "Energy_and_Power",
        "Materials",
        "Mechanical_Engineering",
    ),
}
# subject (MMMU config name) -> discipline, for the per-discipline breakdown.
MMMU_DISCIPLINE = {subject: disc for disc, subjects in _MMMU_SUBJECTS.items() for subject in subjects}
_MMMU_IMAGES = tuple(f"image_{i}" for i in range(1, 8))

BENCHMARKS.register(
    "mathvista",
    Benchmark(
        name="mathvista",
        title="MathVista testmini",
        hub_id="AI4Math/MathVista",
        subsets=(Subset("testmini", None, "testmini"),),
        id_columns=("pid",),
        # Prompt field: `query` (as the paper's evaluation): the question with MathVista's hint on the answer type,
        # unit and decimal places, and its options. `question` (bare) only for copies that lack `query`.
        question_columns=("query", "question"),
        question_has_choices=("query",),
        answer_column="answer",
        image_columns=("decoded_image", "image"),
        choices_column="choices",
        meta_columns=("question_type", "answer_type", "precision", "unit", "metadata"),
        breakdowns=("question_type", "answer_type", "metadata.task", "metadata.category", "metadata.skills"),
        scorer="mathvista",
        size=1000,  # testmini
    ),
)
BENCHMARKS.register(
    "mathverse",
    Benchmark(
        name="mathverse",
        title="MathVerse testmini",
        hub_id="AI4Math/MathVerse",
        subsets=(Subset("testmini", "testmini", "testmini"),),
        id_columns=("sample_index",),
        # Prompt field: `question` (as the paper's evaluation; it already lists the options). Vision Only items
        # have an empty question (it is in the image); query_wo then says so.
        question_columns=("question", "query_wo"),
        answer_column="answer",
        image_columns=("image",),
        choices_format="embedded",
        choices_in_question=True,
        fallback_letters=5,
        meta_columns=("problem_index", "problem_version", "question_type", "metadata"),
        breakdowns=("problem_version", "question_type", "metadata.subject"),
        size=3940,  # 788 problems x 5 versions
    ),
)
BENCHMARKS.register(
    "mathvision",
    Benchmark(
        name="mathvision",
        title="MathVision test",
        hub_id="MathLLMs/MathVision",
        subsets=(Subset("test", None, "test"),),
        id_columns=("id",),
        # Prompt field: `question`, followed by the `options` (as the paper's evaluation).
        question_columns=("question",),
        answer_column="answer",
        image_columns=("decoded_image", "image"),
        choices_column="options",
        meta_columns=("level", "subject"),
        breakdowns=("level", "subject"),
        size=3040,  # test
    ),
)
BENCHMARKS.register(
    "wemath",
    Benchmark(
        name="wemath",
        title="WeMath testmini",
        hub_id="We-Math/We-Math",
        subsets=(Subset("testmini", None, "testmini"),),
        id_columns=("ID", "key"),
        # Prompt field: `question`, followed by the `option` string (as the paper's evaluation).
        question_columns=("question",),
        answer_column="answer",
        image_columns=("image_path", "image"),
        choices_column="option",
        choices_format="semicolon",
        meta_columns=("ID", "key", "knowledge concept"),
        breakdowns=("key",),
        aggregator="wemath",
        size=1740,  # testmini rows (525 composite problems)
    ),
)
BENCHMARKS.register(
    "mmmu",
    Benchmark(
        name="mmmu",
        title="MMMU val",
        hub_id="MMMU/MMMU",
        subsets=tuple(Subset(s, s, "validation") for s in sorted(MMMU_DISCIPLINE)),
        id_columns=("id",),
        # Prompt field: `question` + `options` (the paper released no MMMU script; the benchmark's own fields).
        question_columns=("question",),
        answer_column="answer",
        image_columns=_MMMU_IMAGES,
        image_mode="all",
        choices_column="options",
        choices_format="python_list",
        meta_columns=("question_type", "subfield", "topic_difficulty"),
        breakdowns=("discipline", "subset"),
        subset_groups=("discipline", MMMU_DISCIPLINE),
        size=900,  # validation, 30 subjects
    ),
)
BENCHMARKS.register(
    "mmmu_pro",
    Benchmark(
        name="mmmu_pro",
        title="MMMU-Pro overall",
        hub_id="MMMU/MMMU_Pro",
        subsets=(Subset("standard-10", "standard (10 options)", "test"), Subset("vision", "vision", "test")),
        id_columns=("id",),
        # Prompt field: `question` + `options` (standard); the vision subset's question is in the image.
        question_columns=("question",),
        answer_column="answer",
        image_columns=("image", *_MMMU_IMAGES),
        image_mode="all",
        choices_column="options",
        choices_format="python_list",
        fallback_letters=10,
        meta_columns=("subject",),
        breakdowns=("subset", "subject"),
        aggregator="mmmu_pro",
        size=3460,  # 1,730 standard-10 + 1,730 vision
    ),
)
BENCHMARKS.register(
    "mmstar",
    Benchmark(
        name="mmstar",
        title="MMStar val",
        hub_id="Lin-Chen/MMStar",
        subsets=(Subset("val", None, "val"),),
        id_columns=("index",),
        # Prompt field: `question`, which lists the options (no paper script; the benchmark's own field).
        question_columns=("question",),
        answer_column="answer",
        image_columns=("image",),
        choices_format="embedded",
        choices_in_question=True,
        fallback_letters=4,
        meta_columns=("category", "l2_category"),
        breakdowns=("category", "l2_category"),
        size=1500,  # val
    ),
)
BENCHMARKS.register(
    "emma",
    Benchmark(
        name="emma",
        title="EMMA full",
        hub_id="luckychao/EMMA",
        subsets=tuple(Subset(s, s, "test") for s in ("Chemistry", "Coding", "Math", "Physics")),
        id_columns=("pid",),
        # Prompt field: `question` + `options` (no paper script; the benchmark's own fields).
        question_columns=("question",),
        answer_column="answer",
        image_columns=tuple(f"image_{i}" for i in range(1, 6)),
        image_mode="all",
        choices_column="options",
        meta_columns=("subject", "type", "category", "task"),
        breakdowns=("subject", "type"),
        size=2788,  # Math 892, Physics 156, Chemistry 1,176, Coding 564
    ),
)


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark ``name``.

    Raises:
        perception_r1.registry.UnknownNameError: for an unknown name, listing the known benchmarks.
    """
    return BENCHMARKS.get(name)


def parse_benchmark_list(spec: str) -> list[Benchmark]:
    """``"mathvista,wemath"`` (or ``"all"``) -> benchmarks, in the given order, without duplicates.

    Raises:
        perception_r1.registry.UnknownNameError: naming the first unknown benchmark and listing the known ones.
        ValueError: for an empty list.
    """
    names = BENCHMARKS.names() if spec.strip() == "all" else [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"no benchmark given; known: {', '.join(BENCHMARKS.names())}")
    return [get_benchmark(n) for n in dict.fromkeys(names)]
