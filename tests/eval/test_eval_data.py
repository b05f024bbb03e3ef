"""Benchmark registry and loading: fixtures in each benchmark's column layout, local layouts, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from perception_r1.eval.benchmarks import BENCHMARKS, get_benchmark, parse_benchmark_list
from perception_r1.eval.data import embedded_choices, iter_items, load_image, load_images, parse_choices
from perception_r1.registry import UnknownNameError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"
PAPER_BENCHMARKS = ["emma", "mathverse", "mathvision", "mathvista", "mmmu", "mmmu_pro", "mmstar", "wemath"]


def test_registry_has_the_papers_eight() -> None:
    assert BENCHMARKS.names() == PAPER_BENCHMARKS


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("mathvista,mathvsta", "did you mean 'mathvista'"),  # typo: suggestion
        ("chartqa", "known: emma, mathverse"),  # unknown: lists the known benchmarks
        (" , ", "no benchmark given"),  # empty list
    ],
)
def test_unknown_benchmark_lists_known(spec: str, match: str) -> None:
    with pytest.raises((UnknownNameError, ValueError), match=match):
        parse_benchmark_list(spec)


def test_benchmark_list_order_and_all() -> None:
    assert [b.name for b in parse_benchmark_list("wemath, mathvista,wemath")] == ["wemath", "mathvista"]
    assert [b.name for b in parse_benchmark_list("all")] == PAPER_BENCHMARKS


@pytest.mark.parametrize(
    ("name", "n", "first_id", "first_choices"),
    [
        ("mathvista", 6, "1", {"A": "3", "B": "4", "C": "5"}),  # list choices, gold is the choice text
        ("mathverse", 6, "1", {"A": "30°", "B": "45°", "C": "60°", "D": "90°"}),  # options inside the question
        ("mathvision", 3, "1", {k: k for k in "ABCDE"}),  # options are letters (drawn in the image)
        ("wemath", 7, "1/2steps_1", {"A": "2", "B": "4", "C": "6", "D": "8", "E": "No correct answer"}),  # A. x; B. y
        ("mmmu", 2, "Math/validation_Math_1", {"A": "1", "B": "2", "C": "4", "D": "8"}),  # python-list string
        ("mmmu_pro", 2, "standard-10/test_Math_1", {k: str(10 + i) for i, k in enumerate("ABCDEFGHIJ")}),  # 10 opts
        ("mmstar", 2, "0", {"A": "red", "B": "green", "C": "blue", "D": "gray"}),  # "Options: A: x, B: y"
        ("emma", 4, "Chemistry/chem_1", {"A": "X", "B": "Y", "C": "Z", "D": "W"}),  # one file per subject
    ],
)
def test_fixture_layouts_load(name: str, n: int, first_id: str, first_choices: dict) -> None:
    items = list(iter_items(get_benchmark(name), FIXTURES))
    assert len(items) == n
    assert len({i.id for i in items}) == n  # ids are unique within a benchmark
    assert items[0].id == first_id
    assert items[0].choices == first_choices


def test_derived_fields_and_fallbacks() -> None:
    mmmu = {i.id: i for i in iter_items(get_benchmark("mmmu"), FIXTURES)}
    assert mmmu["Math/validation_Math_1"].metadata["discipline"] == "Science"  # subject -> discipline
    assert mmmu["Accounting/validation_Accounting_1"].choices == {}  # open question: "[]"
    assert len(mmmu["Accounting/validation_Accounting_1"].image_sources) == 2  # image_1 and image_2, in order
    verse = {i.id: i for i in iter_items(get_benchmark("mathverse"), FIXTURES)}
    assert verse["5"].question.startswith("Please directly answer")  # Vision Only: query_wo stands in
    assert verse["5"].choices == {k: k for k in "ABCDE"}  # options in the image: letters A-E
    pro = {i.id: i for i in iter_items(get_benchmark("mmmu_pro"), FIXTURES)}
    assert list(pro["vision/test_Math_1"].choices) == list("ABCDEFGHIJ")


def test_limit_applies_per_subset() -> None:
    items = list(iter_items(get_benchmark("mmmu_pro"), FIXTURES, limit=1))
    assert [i.metadata["subset"] for i in items] == ["standard-10", "vision"]
    assert len(list(iter_items(get_benchmark("mathvista"), FIXTURES, limit=2))) == 2


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Q?\nChoices:\nA:2\nB:3", {"A": "2", "B": "3"}),  # MathVerse, one per line, no space
        ("Q?\nOptions: A: 1:3, B: 2:3, C: x", {"A": "1:3", "B": "2:3", "C": "x"}),  # ratios are not markers
        ("Q? (A) cat (B) dog", {}),  # no Choices:/Options: header
        ("Options: B: 1, C: 2", {}),  # markers must start at A
    ],
)
def test_embedded_choices(question: str, expected: dict) -> None:
    assert embedded_choices(question) == expected


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (["x", "y"], "list", {"A": "x", "B": "y"}),  # plain list
        ((), "list", {}),  # empty: free-form
        (None, "list", {}),  # missing
        ("['1', '2']", "python_list", {"A": "1", "B": "2"}),  # MMMU string
        ("A.30°;B.45°", "semicolon", {"A": "30°", "B": "45°"}),  # WeMath without spaces
        ("A. a; b; B. c", "semicolon", {"A": "a; b", "B": "c"}),  # a ';' inside an option text is kept
        ("A．3；B、4", "semicolon", {"A": "3", "B": "4"}),  # full-width separators
    ],
)
def test_parse_choices(value, fmt: str, expected: dict) -> None:
    assert parse_choices(value, fmt) == expected


def test_parse_choices_rejects_bad_python_list() -> None:
    with pytest.raises(ValueError, match="not a Python list literal"):
        parse_choices("['a', ", "python_list")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([{"question": "q", "answer": "1"}], r"mathvista.jsonl:1: missing column 'pid'"),  # no id
        ([{"pid": "1", "question": "q"}], r"mathvista.jsonl:1: missing column 'answer'"),  # no gold
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, rows: list[dict], match: str) -> None:
    _write_jsonl(tmp_path / "mathvista.jsonl", rows)
    with pytest.raises(ValueError, match=match):
        list(iter_items(get_benchmark("mathvista"), tmp_path))


def test_missing_local_copy_and_subsets(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no local copy of mmstar"):
        list(iter_items(get_benchmark("mmstar"), tmp_path))
    # one of MMMU-Pro's two settings present: refused, naming the missing one
    _write_jsonl(tmp_path / "mmmu_pro" / "vision.jsonl", [{"id": "1", "answer": "A", "image": "x.png"}])
    with pytest.raises(FileNotFoundError, match="missing subsets: standard-10"):
        list(iter_items(get_benchmark("mmmu_pro"), tmp_path))


def test_combined_file_needs_subset_column(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "emma.jsonl", [{"pid": "1", "question": "q", "answer": "A"}])
    with pytest.raises(ValueError, match=r"emma.jsonl:1: .*'subset' column"):
        list(iter_items(get_benchmark("emma"), tmp_path))


def _png_bytes(color=(1, 2, 3)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def test_parquet_with_image_structs(tmp_path: Path) -> None:
    # Parquet written by `datasets` stores Image columns as {"bytes", "path"} structs.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"index": 7, "question": "Options: A: a, B: b", "answer": "B", "category": "c", "l2_category": "d",
             "image": {"bytes": _png_bytes(), "path": None}}]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "mmstar.parquet")
    (item,) = iter_items(get_benchmark("mmstar"), tmp_path)
    (img,) = load_images(item)
    assert (item.id, img.size, img.mode) == ("7", (8, 8), "RGB")


def test_datasets_folder(tmp_path: Path) -> None:
    import datasets

    row = {"id": "1", "question": "q", "options": ["a", "b"], "answer": "A", "level": 2, "subject": "algebra"}
    ds = datasets.Dataset.from_list([{**row, "decoded_image": Image.new("RGB", (8, 8))}])
    ds = ds.cast_column("decoded_image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "mathvision"))
    (item,) = iter_items(get_benchmark("mathvision"), tmp_path)
    assert item.choices == {"A": "a", "B": "b"} and item.metadata["level"] == 2
    assert load_images(item)[0].size == (8, 8)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("nope.png", "cannot load image"),  # missing file
        (b"not an image", "cannot load image"),  # undecodable bytes
        ({"bytes": None, "path": None}, "not an image value"),  # empty struct
        (12, "not an image value"),  # wrong type
    ],
)
def test_load_image_errors(tmp_path: Path, source, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_image(source, tmp_path)


def test_broken_fixture_image_is_an_item_error() -> None:
    items = {i.id: i for i in iter_items(get_benchmark("mathvista"), FIXTURES)}
    assert load_images(items["1"])[0].size == (112, 112)
    with pytest.raises(ValueError, match="cannot load image"):
        load_images(items["6"])


def test_hub_loading_asks_for_each_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    # No hub access in tests: record the calls and serve rows in the hub's layout.
    import datasets

    calls = []

    def fake_load(hub_id, config, split):
        calls.append((hub_id, config, split))
        return [{"id": f"{config}_1", "question": "q", "options": "['a', 'b']", "answer": "A", "image_1": None}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    items = list(iter_items(get_benchmark("mmmu_pro"), None, limit=3))
    assert calls == [
        ("MMMU/MMMU_Pro", "standard (10 options)", "test[:3]"),
        ("MMMU/MMMU_Pro", "vision", "test[:3]"),
    ]
    assert [i.id for i in items] == ["standard-10/standard (10 options)_1", "vision/vision_1"]


def test_hub_failure_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match=r"cannot load Lin-Chen/MMStar .*ConnectionError: no network.*--data-dir"):
        list(iter_items(get_benchmark("mmstar")))
