"""``eval check-data``: what a local benchmark copy holds, and everything wrong with it, counted."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app
from perception_r1.eval.benchmarks import get_benchmark
from perception_r1.eval.data_check import check_benchmark

IMAGES = Path(__file__).parents[1] / "fixtures" / "eval" / "images"


def _row(i: int, image: str = "images/red.png", **changes) -> dict:
    row = {"index": i, "question": f"Q{i}?\nOptions: A: a, B: b, C: c, D: d", "image": image, "answer": "A"}
    return {**row, **changes}


def _copy(tmp_path: Path, rows: list[dict]) -> Path:
    shutil.copytree(IMAGES, tmp_path / "images")
    (tmp_path / "mmstar.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


MMSTAR_OF_3 = dataclasses.replace(get_benchmark("mmstar"), size=3)  # a three-item MMStar: a complete copy is cheap


@pytest.mark.parametrize(
    ("rows", "status", "counts"),
    [
        ([_row(0), _row(1), _row(2)], "ok", (3, 0, 0, [])),  # complete and readable
        ([_row(0), _row(1)], "incomplete", (2, 0, 0, [])),  # 2 of 3 items: a run on it is partial
        ([_row(0), _row(1), _row(2, answer="")], "incomplete, bad rows", (2, 1, 0, [])),  # no gold answer
        ([_row(0), _row(1), _row(1)], "duplicate ids", (3, 0, 0, ["1"])),  # one id twice
        ([_row(0), _row(1, image="images/gone.png"), _row(2, image="images/broken.png")], "images", (3, 0, 2, [])),
        ([_row(0), _row(1), _row(2, image=None)], "images", (3, 0, 1, [])),  # an item without any image
    ],
)
def test_check_benchmark_counts_every_problem(tmp_path, rows, status, counts) -> None:
    report = check_benchmark(MMSTAR_OF_3, _copy(tmp_path, rows))
    assert report.status() == status and report.ok is (status == "ok")
    assert (report.items, report.n_bad_rows, report.n_image_problems, report.duplicates) == counts
    assert report.sources == [str(tmp_path / "mmstar.jsonl")]


def test_problem_examples_name_the_row_and_the_file(tmp_path) -> None:
    rows = [_row(0, answer=""), _row(1, image="images/gone.png"), _row(2, image="images/broken.png")]
    report = check_benchmark(MMSTAR_OF_3, _copy(tmp_path, rows))
    assert report.bad_rows == [(f"{tmp_path / 'mmstar.jsonl'}:1", "missing column 'answer' (mmstar rows need it)")]
    assert report.image_problems[0] == ("1", f"missing image file {tmp_path / 'images' / 'gone.png'}")
    assert report.image_problems[1][0] == "2" and report.image_problems[1][1].startswith("unreadable image")
    assert check_benchmark(MMSTAR_OF_3, tmp_path, images=False).n_image_problems == 0  # --no-images


def test_cli_table_json_and_exit_codes(tmp_path) -> None:
    data = _copy(tmp_path, [_row(0), _row(1, image="images/gone.png")])
    runner = CliRunner()
    res = runner.invoke(build_app(), ["eval", "check-data", "--data-dir", str(data), "-b", "mmstar,wemath"])
    assert res.exit_code == 1  # a copy is incomplete, another is missing
    assert "| mmstar | 2 | 1,500 | val 2 | 0 | 1 | incomplete, images |" in res.stdout
    assert "| wemath | 0 | 1,740 | - | 0 | 0 | missing |" in res.stdout
    assert "- 2 of 1,500 items: an evaluation on this copy is partial" in res.stdout
    assert "no local copy of wemath" in res.stdout
    res = runner.invoke(build_app(), ["eval", "check-data", "--data-dir", str(data), "-b", "mmstar", "--json"])
    (report,) = json.loads(res.stdout)
    assert (report["items"], report["size"], report["subsets"], report["image_problems"]) == (2, 1500, {"val": 2}, 1)
    res = runner.invoke(build_app(), ["eval", "check-data", "--data-dir", str(data), "-b", "mmstr"])
    assert res.exit_code == 2 and "did you mean 'mmstar'" in res.output


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        ((8, 8), None),  # within the limit
        ((40, 40), "1600 pixels, over the limit of 1000"),  # the evaluation would refuse it: so does the check
    ],
)
def test_check_image_applies_the_evaluations_pixel_limit(tmp_path, monkeypatch, size, problem) -> None:
    from PIL import Image

    from perception_r1.eval.data_check import check_image

    monkeypatch.setenv("PERCEPTION_R1_MAX_IMAGE_PIXELS", "1000")
    Image.new("RGB", size).save(tmp_path / "a.png")
    for source in ("a.png", Image.open(tmp_path / "a.png")):  # a file, and an image already opened
        found = check_image(source, tmp_path)
        assert found is None if problem is None else problem in found
