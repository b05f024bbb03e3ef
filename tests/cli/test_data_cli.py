"""``perception-r1 data synth`` through the real CLI app."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app
from perception_r1.data.io import load_examples


def test_synth_writes_splits_readme_and_summary(tmp_path) -> None:
    out = tmp_path / "tb"
    args = ["data", "synth", "--n", "12", "--seed", "3", "-o", str(out), "--size", "112", "--test-fraction", "0.25"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["splits"]["train"]["rows"] + summary["splits"]["test"]["rows"] == 12
    assert summary["splits"]["test"]["rows"] >= 3
    rows = load_examples(out / "train") + load_examples(out / "test")
    assert len({r["id"] for r in rows}) == 12
    assert (out / "README.md").exists()


def test_synth_multiple_choice(tmp_path) -> None:
    out = tmp_path / "tb"
    args = [
        "data",
        "synth",
        "--n",
        "8",
        "-o",
        str(out),
        "--size",
        "112",
        "--test-fraction",
        "0.25",
        "--multiple-choice",
    ]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["multiple_choice"] is True
    rows = load_examples(out / "train") + load_examples(out / "test")
    assert {r["answer"] for r in rows} <= set("ABCD") and all(len(r["choices"]) == 4 for r in rows)
    assert all("\nChoices:\n(A) " in r["problem"] for r in rows)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--families", "triangle_angel_sum"], "did you mean 'triangle_angle_sum'"),  # typo in a family name
        (["--format", "csv"], "fmt must be 'disk' or 'parquet'"),  # unsupported output format
        (["--difficulty", "5"], "less than or equal to 3"),  # outside 1..3
    ],
)
def test_synth_rejects_bad_options(tmp_path, extra, message) -> None:
    args = ["data", "synth", "--n", "2", "-o", str(tmp_path / "x"), *extra]
    result = CliRunner(env={"COLUMNS": "250"}).invoke(build_app(), args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())  # rich draws a box around errors
    assert not (tmp_path / "x" / "summary.json").exists()


def _responder(body: dict) -> str:
    """Fake teacher (answers 7 except for [wrong]) and annotator (two facts)."""
    from support.fake_openai_server import last_user_text

    text = last_user_text(body)
    if text.startswith("You extract visual facts"):
        return "<info1>AB = 7</info1>\n<info2>AB ∥ CD</info2>"
    answer = 8 if "[wrong]" in text else 7
    return f"<think>\nAB = 7\n</think>\n<answer>\n\\boxed{{{answer}}}\n</answer>"


def test_curation_commands_chain(tmp_path) -> None:
    # distill -> filter -> annotate through the CLI against a fake teacher/annotator on 127.0.0.1.
    from PIL import Image

    from support.fake_openai_server import FakeOpenAIServer

    Image.new("RGB", (8, 8)).save(tmp_path / "img.png")
    rows = [
        {"id": t, "images": ["img.png"], "problem": f"<image>Find x. [{t}]", "answer": "7"} for t in ("ok", "wrong")
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    runner, app = CliRunner(env={"COLUMNS": "250"}), build_app()
    with FakeOpenAIServer(responder=_responder) as server:
        common = ["--base-url", server.base_url, "--cache-path", str(tmp_path / "cache.sqlite")]
        steps = [
            ["distill", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "d"), "--k", "1", *common],
            ["filter", str(tmp_path / "d" / "data.parquet"), "-o", str(tmp_path / "f")],
            ["annotate", str(tmp_path / "f" / "data.parquet"), "-o", str(tmp_path / "a"), *common],
        ]
        for step in steps:
            result = runner.invoke(app, ["data", *step])
            assert result.exit_code == 0, result.output
    final = load_examples(tmp_path / "a" / "data.parquet")
    assert [(r["id"], r["visual_annotations"]) for r in final] == [("ok", ["AB = 7", "AB ∥ CD"])]
    rejects = [json.loads(x) for x in (tmp_path / "f" / "rejects.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rejects] == ["wrong"]


def test_build_rejects_unknown_recipe_keys(tmp_path) -> None:
    (tmp_path / "r.yaml").write_text("teachr: {}\n")
    result = CliRunner(env={"COLUMNS": "250"}).invoke(build_app(), ["data", "build", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2
    assert "did you mean 'teacher'" in " ".join(result.output.replace("│", " ").split())


def test_synth_refuses_a_folder_with_a_user_file_and_keeps_it(tmp_path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result = CliRunner(env={"COLUMNS": "250"}).invoke(build_app(), ["data", "synth", "--n", "2", "-o", str(out)])
    assert result.exit_code == 2
    assert "refusing to replace" in " ".join(result.output.replace("│", " ").split())
    assert (out / "thesis.tex").read_text() == "precious" and len(list(out.iterdir())) == 1


def test_synth_folder_feeds_the_curation_commands_directly(tmp_path) -> None:
    # `data distill FOLDER --split train` once said the folder was neither a Dataset nor a DatasetDict.
    from support.fake_openai_server import FakeOpenAIServer

    out = tmp_path / "tb"
    args = ["data", "synth", "--n", "4", "--seed", "1", "-o", str(out), "--size", "112", "--test-fraction", "0.25"]
    assert CliRunner().invoke(build_app(), args).exit_code == 0
    with FakeOpenAIServer(responder=_responder) as server:
        result = CliRunner().invoke(
            build_app(),
            ["data", "distill", str(out), "--split", "train", "-o", str(tmp_path / "d"), "--k", "1"]
            + ["--base-url", server.base_url, "--model", "t"],
        )
    assert result.exit_code == 0, result.output
    assert len(load_examples(tmp_path / "d" / "data.parquet")) >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "RECIPE", "distill.k=0"], "k must be an integer >= 1"),  # no solutions requested
        (["build", "RECIPE", "--distill.k", "0"], "k must be an integer >= 1"),  # the --key VALUE form, as in train
        (["build", "RECIPE", "--teacher.base_url", "http://127.0.0.1:70000/v1"], "ports are 1-65535"),  # --key form
        (["build", "RECIPE", "source.limit=-1"], "limit must be >= 1"),  # would silently drop the last row
        (["build", "RECIPE", "teacher.max_concurrency=0"], "max_concurrency must be >= 1"),  # no request at all
        (["distill", "DATA", "-o", "OUT", "--cache-path", "CORRUPT"], "not a usable reply cache"),  # corrupt cache
        (["distill", "DATA", "-o", "OUT", "--base-url", "http://127.0.0.1:70000/v1"], "ports are 1-65535"),  # port
    ],
)
def test_curation_errors_are_messages_not_tracebacks(tmp_path, args, message) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "img.png")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": "a", "images": ["img.png"], "problem": "<image>x?", "answer": "7"}) + "\n")
    (tmp_path / "corrupt.db").write_bytes(b"not a database at all" * 50)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"output_dir: {tmp_path / 'o'}\nsource:\n  path: {data}\n")
    names = {
        "RECIPE": str(recipe),
        "DATA": str(data),
        "OUT": str(tmp_path / "out"),
        "CORRUPT": str(tmp_path / "corrupt.db"),
    }
    result = CliRunner(env={"COLUMNS": "250"}).invoke(build_app(), ["data", *[names.get(a, a) for a in args]])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.replace("│", " ").split())
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("where", "limit", "expected"),
    [
        (["metadata.task=geometry problem solving"], None, ["1", "3", "4"]),  # MathVista's geometry subset
        (["metadata.task=geometry problem solving"], 2, ["1", "3"]),  # --limit counts the matching rows
        (["metadata.task=geometry problem solving", "metadata.skills=algebraic reasoning"], None, ["3"]),  # both hold
        (["metadata.skills=algebraic reasoning"], None, ["2", "3"]),  # a list field matches by membership
    ],
)
def test_distill_where_selects_rows(tmp_path, where, limit, expected) -> None:
    # MathVista-shaped rows: the analysis of the paper picks its 50 problems among the geometry ones.
    from PIL import Image

    from support.fake_curation import curation_responder
    from support.fake_openai_server import FakeOpenAIServer, last_user_text

    Image.new("RGB", (8, 8)).save(tmp_path / "i.png")
    tasks = {"1": "geometry problem solving", "2": "math word problem", "3": "geometry problem solving",
             "4": "geometry problem solving"}  # fmt: skip
    skills = {"1": ["geometry reasoning"], "2": ["algebraic reasoning"], "3": ["algebraic reasoning"], "4": []}
    rows = [{"pid": i, "question": f"Find x. [p{i}]", "decoded_image": "i.png", "answer": i,
             "metadata": {"task": tasks[i], "skills": skills[i]}} for i in tasks]  # fmt: skip
    (tmp_path / "mv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["data", "distill", str(tmp_path / "mv.jsonl"), "-o", str(tmp_path / "d"), "--k", "1", "--columns",
            '{"id": "pid", "problem": "question", "images": "decoded_image"}']  # fmt: skip
    for w in where:
        args += ["--where", w]
    if limit:
        args += ["--limit", str(limit)]
    with FakeOpenAIServer(responder=curation_responder) as server:
        result = CliRunner().invoke(build_app(), [*args, "--base-url", server.base_url])
        assert result.exit_code == 0, result.output
    asked = {re.search(r"\[p(\d+)\]", last_user_text(body)).group(1) for body in server.requests}
    assert sorted(asked) == expected  # only the selected rows reach the teacher
    distilled = load_examples(tmp_path / "d" / "data.parquet")
    assert sorted(r["id"] for r in distilled) == [i for i in expected if i != "3"]  # the teacher never answers p3


@pytest.mark.parametrize(
    "where",
    [
        "metadata.task",  # no '=': a field without a value
        "=geometry",  # a value without a field
    ],
)
def test_distill_malformed_where_is_refused_before_any_call(tmp_path, where) -> None:
    (tmp_path / "mv.jsonl").write_text(json.dumps({"id": "1", "problem": "p", "answer": "1"}) + "\n")
    args = ["data", "distill", str(tmp_path / "mv.jsonl"), "-o", str(tmp_path / "d"), "--where", where,
            "--base-url", "http://127.0.0.1:9/v1"]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2 and "FIELD=VALUE" in result.output
    assert not (tmp_path / "d").exists()
