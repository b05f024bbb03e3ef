"""Loaders and writers: local files, datasets folders, a mocked hub dataset, the reference layout."""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import pytest
from PIL import Image

from perception_r1.data.io import (
    DATA_SOURCES,
    load_examples,
    write_disk,
    write_parquet,
    write_reference,
)
from perception_r1.data.schema import SchemaError, open_image
from perception_r1.registry import UnknownNameError


def _png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _rows(n: int = 3) -> list[dict]:
    return [
        {
            "id": f"p{i}",
            "images": [_png(["red", "green", "blue"][i % 3])],
            "problem": f"<image>Find x{i}.",
            "answer": str(i),
            "visual_annotations": [f"AB = {i + 1}"],
            "source": "test",
        }
        for i in range(n)
    ]


@pytest.fixture
def files(tmp_path):
    """The same three rows as JSONL and JSON (relative image paths), parquet and a datasets folder."""
    (tmp_path / "img").mkdir()
    plain = []
    for row in _rows():
        name = f"img/{row['id']}.png"
        (tmp_path / name).write_bytes(row["images"][0])
        plain.append({**row, "images": [name]})
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in plain) + "\n")
    (tmp_path / "d.json").write_text(json.dumps(plain))
    write_parquet(_rows(), tmp_path / "d.parquet")
    write_disk(_rows(), tmp_path / "folder")
    return tmp_path


@pytest.mark.parametrize("name", ["d.jsonl", "d.json", "d.parquet", "folder"])  # each source kind
def test_loaders_give_the_same_rows(files, name) -> None:
    rows = load_examples(files / name, check_images=True)
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert [r["visual_annotations"] for r in rows] == [["AB = 1"], ["AB = 2"], ["AB = 3"]]
    assert [open_image(r["images"][0]).getpixel((0, 0)) for r in rows] == [(255, 0, 0), (0, 128, 0), (0, 0, 255)]


def test_relative_image_paths_resolve_against_the_file(files, monkeypatch, tmp_path_factory) -> None:
    # Loading from another working directory still finds img/p0.png next to the JSONL file.
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    rows = load_examples(str(files / "d.jsonl"), check_images=True)
    assert rows[0]["images"] == [str(files / "img" / "p0.png")]


def test_column_mapping_and_generated_ids(tmp_path) -> None:
    # Geometry3K-like names mapped onto the schema; no id column -> ids from the file name and row.
    (tmp_path / "q.jsonl").write_text(json.dumps({"question": "Find x.", "image": "a.png", "label": 4}) + "\n")
    (tmp_path / "a.png").write_bytes(_png())
    rows = load_examples(tmp_path / "q.jsonl", columns={"problem": "question", "images": "image", "answer": "label"})
    assert rows[0]["id"] == "q-0" and rows[0]["answer"] == "4" and rows[0]["problem"] == "Find x."


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"problem": "question"},
            "mapped column\\(s\\) not found: problem <- 'question'; available: id, images",
        ),  # typo
        ({"images": "image", "answer": "answer"}, "not found: images <- 'image'"),  # one of two mappings wrong
    ],
)
def test_wrong_column_names_fail_before_rows(files, columns, message) -> None:
    with pytest.raises(SchemaError, match=message):
        load_examples(files / "d.parquet", columns=columns)


def test_missing_required_column_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "x.jsonl").write_text(json.dumps({"id": "1", "images": [], "problem": "p"}) + "\n")
    with pytest.raises(SchemaError, match="x.jsonl.*required column\\(s\\) missing: answer.*map names"):
        load_examples(tmp_path / "x.jsonl")


def test_corrupt_image_raises_or_is_rejected(tmp_path) -> None:
    rows = _rows()
    rows[1]["images"] = [b"\x89PNG\r\n\x1a\n truncated"]  # PNG signature, then garbage
    write_parquet(rows, tmp_path / "bad.parquet")
    # Without a rejects list the first bad row stops the load, naming file, row and column.
    with pytest.raises(SchemaError, match="bad.parquet: row 1: column 'images': image 0: cannot read image"):
        load_examples(tmp_path / "bad.parquet", check_images=True)
    # With one, the row is skipped and its reason recorded.
    rejects: list = []
    good = load_examples(tmp_path / "bad.parquet", check_images=True, rejects=rejects)
    assert [r["id"] for r in good] == ["p0", "p2"]
    assert rejects[0]["id"] == "p1" and rejects[0]["row"] == 1 and "cannot read image" in rejects[0]["reason"]


def test_missing_image_file_is_rejected(files) -> None:
    (files / "img" / "p2.png").unlink()
    rejects: list = []
    assert len(load_examples(files / "d.jsonl", check_images=True, rejects=rejects)) == 2
    assert rejects[0]["row"] == 2 and "p2.png" in rejects[0]["reason"]


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("x.jsonl", '{"id": 1}\n{not json\n', SchemaError, "x.jsonl:2: not valid JSON"),  # malformed line
        ("x.json", '{"id": 1}', SchemaError, "expected a JSON list of objects"),  # object, not list
        ("x.parquet", "not parquet", SchemaError, "not a readable parquet file"),  # corrupt parquet
        ("x.csv", "a,b", SchemaError, "unknown file type '.csv'"),  # unsupported type
    ],
)
def test_unreadable_files(tmp_path, name, content, error, message) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(error, match=message):
        load_examples(tmp_path / name)


def test_missing_path_is_not_sent_to_the_hub(tmp_path, monkeypatch) -> None:
    # A local path that does not exist must not be looked up on the hub.
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("hub must not be called"))
    with pytest.raises(FileNotFoundError, match="hf:"):
        load_examples(tmp_path / "hiyouga/geometry3k")
    with pytest.raises(UnknownNameError, match="did you mean 'parquet'"):
        load_examples(tmp_path, kind="parqet")


def test_hf_source_with_geometry3k_columns(monkeypatch) -> None:
    # The hub call is replaced by an in-memory Dataset with Geometry3K's columns and Image features.
    features = datasets.Features(
        {
            "images": datasets.List(datasets.Image()),
            "problem": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "id": datasets.Value("string"),
            "ground_truth": datasets.Value("string"),
        }
    )
    data = {"images": [[_png()]], "problem": ["<image>Find x."], "answer": ["3"], "id": ["7"], "ground_truth": ["3"]}
    calls = []

    def fake_load(name, config=None, split=None):
        calls.append((name, config, split))
        return datasets.Dataset.from_dict(data, features=features)

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    rows = load_examples("hf:hiyouga/geometry3k", split="train", check_images=True)
    assert calls == [("hiyouga/geometry3k", None, "train")]
    assert rows[0]["id"] == "7" and rows[0]["ground_truth"] == "3" and rows[0]["images"] == [_png()]
    assert "hf" in DATA_SOURCES


def test_dataset_dict_folder_needs_a_known_split(tmp_path) -> None:
    ds = datasets.Dataset.from_list(_rows())
    datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "dd"))
    assert len(load_examples(tmp_path / "dd", split="test")) == 1
    with pytest.raises(SchemaError, match="split 'val' not found; available splits: train, test"):
        load_examples(tmp_path / "dd", split="val")


@pytest.mark.parametrize("name", ["ref.parquet", "ref_folder"])  # both reference writers
def test_reference_layout_round_trip(tmp_path, name) -> None:
    rows = _rows()
    rows[0]["visual_annotations"] = ["AB = 5", "angle ABC = 40°", "AB ∥ CD"]
    write_reference(rows, tmp_path / name)
    raw = datasets.load_from_disk(str(tmp_path / name)) if name == "ref_folder" else None
    if raw is not None:
        assert sorted(raw.column_names) == ["answer", "id", "images", "problem", "visual_key_info"]
        assert (
            raw[0]["visual_key_info"]
            == "<info1>AB = 5</info1>\n<info2>angle ABC = 40°</info2>\n<info3>AB ∥ CD</info3>"
        )
    back = load_examples(tmp_path / name)  # layout detected from the visual_key_info column
    assert [r["visual_annotations"] for r in back] == [r["visual_annotations"] for r in rows]
    assert [r["images"] for r in back] == [r["images"] for r in rows]
    assert [(r["id"], r["problem"], r["answer"]) for r in back] == [(r["id"], r["problem"], r["answer"]) for r in rows]


def test_writers_are_atomic_and_replace(tmp_path) -> None:
    # A second write replaces the folder completely; no temporary folders are left behind.
    write_disk(_rows(3), tmp_path / "out")
    write_disk(_rows(1), tmp_path / "out")
    assert len(load_examples(tmp_path / "out")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_folder_swap_keeps_the_previous_version(tmp_path, monkeypatch) -> None:
    # The new folder cannot be moved into place: the old version must be restored, not deleted.
    import os

    write_disk(_rows(3), tmp_path / "out")
    real_rename = os.rename

    def rename(src, dst):
        if Path(dst) == tmp_path / "out" and Path(src).name == "new":  # the new folder moving into place
            if (tmp_path / "out").exists():
                raise OSError(39, "Directory not empty")  # as the real rename says while the old one is there
            raise OSError("disk full")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="disk full"):
        write_disk(_rows(1), tmp_path / "out")
    monkeypatch.undo()
    assert len(load_examples(tmp_path / "out")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_disk_refuses_to_replace_a_folder_it_did_not_write(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    with pytest.raises(FileExistsError, match="refusing to replace"):
        write_disk(_rows(1), out)
    assert [p.name for p in out.iterdir()] == ["notes.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_invalid_utf8_in_jsonl_names_the_line(tmp_path) -> None:
    from perception_r1.io_utils import JsonlError, iter_jsonl

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xc3\x28"}\n{"a": 3}\n')
    items = list(iter_jsonl(path))
    assert [n for n, r in items if not isinstance(r, JsonlError)] == [1, 3]  # the other lines are still read
    ((line_no, error),) = [(n, r) for n, r in items if isinstance(r, JsonlError)]
    assert line_no == 2 and "x.jsonl:2: not valid UTF-8" in str(error)
