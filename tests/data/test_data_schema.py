"""Dataset schema validation, canonical facts and the reference (visual_key_info) layout."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from perception_r1.data.facts import Fact, FactParseError, format_fact, parse_fact
from perception_r1.data.schema import (
    SchemaError,
    format_visual_key_info,
    from_reference_row,
    open_image,
    parse_visual_key_info,
    to_reference_row,
    validate_row,
)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _row(**over):
    row = {"id": "r1", "images": [_png()], "problem": "<image>Find x.", "answer": "3"}
    row.update(over)
    return row


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("AB = 5", Fact("length", ("AB",), 5.0)),  # length
        ("angle ABC = 40°", Fact("angle", ("ABC",), 40.0)),  # angle
        ("AB ∥ CD", Fact("parallel", ("AB", "CD"))),  # parallel
        ("AC ⊥ BC", Fact("perpendicular", ("AC", "BC"))),  # perpendicular
        ("radius of circle O = 3", Fact("radius", ("O",), 3.0)),  # radius
        ("diameter of circle O = 6", Fact("diameter", ("O",), 6.0)),  # diameter
        ("triangle ABC is isosceles with AB = AC", Fact("isosceles", ("ABC", "AB", "AC"))),  # isosceles
        ("ABCD is a rectangle", Fact("rectangle", ("ABCD",))),  # rectangle
        ("AB = 2.5", Fact("length", ("AB",), 2.5)),  # decimal value survives the round trip
    ],
)
def test_fact_parse_format_round_trip(text: str, fact: Fact) -> None:
    assert parse_fact(text) == fact
    assert format_fact(fact) == text


def test_fact_parse_tolerates_spacing_but_rejects_other_forms() -> None:
    # Extra spaces are collapsed; a non-canonical form names the canonical ones.
    assert parse_fact("  AB   =  5 ") == Fact("length", ("AB",), 5.0)
    with pytest.raises(FactParseError, match="angle XYZ = v°"):
        parse_fact("AB is five")


@pytest.mark.parametrize(
    ("override", "column", "message"),
    [
        ({"answer": None}, "answer", "required column"),  # missing answer
        ({"problem": "  "}, "problem", "must not be empty"),  # blank problem
        ({"images": [3]}, "images", "PIL image, bytes or a path"),  # wrong image type
        ({"images": [_png(), _png()]}, "images", "1 <image> placeholder"),  # placeholder/image count mismatch
        ({"visual_annotations": "<info1>x</info1>"}, "visual_annotations", "visual_key_info"),  # string, not list
        ({"visual_annotations": ["ok", 3]}, "visual_annotations", "item 1"),  # non-string item
        ({"choices": "A"}, "choices", "list of strings"),  # choices not a list
        ({"images": [b"not an image"]}, "images", "cannot read image"),  # corrupt bytes (check_images)
        ({"images": ["missing.png"]}, "images", "cannot read image"),  # missing file (check_images)
    ],
)
def test_validate_row_errors_name_file_row_and_column(override, column, message, tmp_path) -> None:
    with pytest.raises(SchemaError, match=message) as info:
        validate_row(_row(**override), where="data.jsonl", index=7, base_dir=tmp_path, check_images=True)
    assert str(info.value).startswith(f"data.jsonl: row 7: column {column!r}")
    assert info.value.column == column and info.value.row == 7


def test_validate_row_normalises(tmp_path) -> None:
    # ints become strings, a single image becomes a list, relative paths resolve, datasets structs unwrap.
    (tmp_path / "a.png").write_bytes(_png())
    row = validate_row(_row(id=5, answer=3, images="a.png", extra=1), base_dir=tmp_path, check_images=True)
    assert row["id"] == "5" and row["answer"] == "3" and row["extra"] == 1
    assert row["images"] == [str(tmp_path / "a.png")]
    struct = validate_row(_row(images=[{"bytes": _png(), "path": None}]))
    assert struct["images"] == [_png()]
    assert open_image(struct["images"][0]).size == (4, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<info1>AB = 5</info1>\n<info2>AB ∥ CD</info2>", ["AB = 5", "AB ∥ CD"]),  # released layout
        ("<info1>AB = 5</info1><info2>x</info2>", ["AB = 5", "x"]),  # no newline between items
        ("\r\n <info1>\n  AB =  5 \n</info1>\r\n", ["AB = 5"]),  # CRLF and inner whitespace collapsed
        ("<INFO 2>second</info2>\n<info1>first</INFO1>", ["first", "second"]),  # case, spaced tag, order by number
        ("<info1>a</info1>\n<info3>c</info3>", ["a", "c"]),  # gap in numbering tolerated
        ("", []),  # empty string: no annotations
        (None, []),  # missing value: no annotations
    ],
)
def test_parse_visual_key_info(text, expected) -> None:
    assert parse_visual_key_info(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<info1>a</info1><info1>b</info1>", "appears twice"),  # duplicate number: ambiguous
        ("<info1>a</info1><info2>b", "unclosed"),  # unclosed tag
        ("<info1>a</info2>", "unclosed"),  # mismatched tag
        ("AB = 5", "outside"),  # free text without tags
        ("<info1> </info1>", "empty"),  # empty item
    ],
)
def test_parse_visual_key_info_rejects_malformed(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_visual_key_info(text)


def test_format_visual_key_info_refuses_unreadable_items() -> None:
    # An item containing a tag could not be parsed back, so writing it is an error.
    with pytest.raises(ValueError, match="annotation 2"):
        format_visual_key_info(["ok", "bad </info2> item"])


def test_reference_row_round_trip() -> None:
    row = validate_row(_row(visual_annotations=["AB = 5", "angle ABC = 40°"], cot="c"))
    ref = to_reference_row(row)
    assert ref["visual_key_info"] == "<info1>AB = 5</info1>\n<info2>angle ABC = 40°</info2>"
    back = validate_row(from_reference_row(ref, 0))
    assert back["visual_annotations"] == row["visual_annotations"]
    assert {k: back[k] for k in ("id", "images", "problem", "answer")} == {
        k: row[k] for k in ("id", "images", "problem", "answer")
    }
    # Without an id the row number gives one; a broken visual_key_info names the row and column.
    assert from_reference_row({"problem": "p", "visual_key_info": ""}, 4)["id"] == "ref-4"
    with pytest.raises(SchemaError, match="row 2: column 'visual_key_info'"):
        from_reference_row({"visual_key_info": "<info1>x"}, 2, where="f")
