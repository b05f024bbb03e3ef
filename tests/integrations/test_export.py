"""``perception-r1 data export``: the verl and EasyR1 layouts, read back as each framework reads them."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from perception_r1.integrations.easyr1 import compute_score, decode_ground_truth
from perception_r1.integrations.export import easyr1_row, prompt_text, verl_row, write_export
from perception_r1.integrations.verl import compute_score as verl_compute_score
from perception_r1.templates import FORMAT_INSTRUCTION


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


ROWS = [
    {"id": "a", "images": [_png()], "problem": "Find x.", "answer": "3", "visual_annotations": ["AB = 5", "CD = 2"]},
    {"id": "b", "images": [_png()], "problem": "In <image>, pick.", "answer": "B", "choices": ["2", "3"]},
]
GOOD = "<think>\nAB = 5\n</think>\n<answer>\n\\boxed{3}\n</answer>"


@pytest.mark.parametrize(
    ("problem", "n_images", "expected"),
    [
        ("Find x.", 1, "<image>Find x.\n"),  # no placeholder: the image goes first, as in TRL training
        ("In <image>, find x.", 1, "In <image>, find x.\n"),  # placeholders are kept where they are
        ("Find x.", 0, "Find x.\n"),  # text only
    ],
)
def test_prompt_text(problem, n_images, expected):
    assert prompt_text(problem, n_images) == expected + FORMAT_INSTRUCTION


def test_prompt_text_refuses_mismatched_placeholders():
    with pytest.raises(ValueError, match="2 <image> placeholders for 1 images"):
        prompt_text("<image> and <image>", 1)


def test_easyr1_layout_read_back_scores_with_its_annotations(tmp_path):
    path = tmp_path / "train.parquet"
    assert write_export(ROWS, path, "easyr1") == 2
    table = pq.read_table(path).to_pylist()
    assert set(table[0]) == {"problem", "images", "answer"}
    assert table[0]["images"][0]["bytes"] == ROWS[0]["images"][0]
    # EasyR1 hands the answer column to the reward function as the ground truth
    out = compute_score(
        [{"response": GOOD, "response_length": 9, "ground_truth": row["answer"]} for row in table],
        judge={"backend": "rule"},
        isolation="inline",
    )
    assert out[0]["perception"] == 0.5 and out[0]["accuracy"] == 1.0
    assert "perception" not in out[1] and out[1]["accuracy"] == 1.0  # no annotations; choice B is "3"
    assert decode_ground_truth(table[1]["answer"])["choices"] == ["2", "3"]


def test_verl_layout_read_back_scores_with_its_extra_info(tmp_path):
    path = tmp_path / "train.parquet"
    write_export(ROWS, path, "verl", data_source="geo", split="train")
    table = pq.read_table(path).to_pandas()  # pandas: lists come back as numpy arrays, as in verl
    row = table.iloc[0]
    assert row["data_source"] == "geo" and row["reward_model"]["ground_truth"] == "3"
    assert row["images"][0]["min_pixels"] == 3136 and row["images"][0]["max_pixels"] == 1806336
    assert list(row["extra_info"]["visual_annotations"]) == ["AB = 5", "CD = 2"] and row["extra_info"]["index"] == 0
    out = verl_compute_score(
        row["data_source"],
        GOOD,
        row["reward_model"]["ground_truth"],
        row["extra_info"],
        judge={"backend": "rule"},
        isolation="inline",
    )
    assert out["perception"] == 0.5 and out["accuracy"] == 1.0


def test_rows_keep_what_the_rewards_need():
    verl = verl_row(ROWS[1], 5)
    assert verl["extra_info"]["choices"] == ["2", "3"] and verl["extra_info"]["id"] == "b"
    assert json.loads(easyr1_row(ROWS[0])["answer"])["visual_annotations"] == ["AB = 5", "CD = 2"]


def test_bad_row_is_named(tmp_path):
    bad = [ROWS[0], {**ROWS[0], "id": "z", "problem": "<image><image>"}]
    with pytest.raises(ValueError, match="row 1 \\(id 'z'\\)"):
        write_export(bad, tmp_path / "x.parquet", "verl")
    assert not (tmp_path / "x.parquet").exists()


def test_cli_export(tmp_path):
    from perception_r1.cli.main import build_app
    from perception_r1.data.io import write_examples

    source = tmp_path / "rows.parquet"
    write_examples(ROWS, source)
    out = tmp_path / "easyr1.parquet"
    result = CliRunner().invoke(build_app(), ["data", "export", str(source), "-o", str(out), "--to", "easyr1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"rows": 2, "output": str(out), "to": "easyr1"}
    first = pq.read_table(out).to_pylist()[0]
    assert decode_ground_truth(first["answer"])["visual_annotations"] == ["AB = 5", "CD = 2"]
    bad = CliRunner().invoke(build_app(), ["data", "export", str(source), "-o", str(out), "--to", "trl"])
    assert bad.exit_code != 0 and "target must be one of verl, easyr1" in bad.output
