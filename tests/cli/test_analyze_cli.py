"""``perception-r1 analyze mcnemar`` through the assembled CLI."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from perception_r1.cli import main as cli_main

runner = CliRunner()


def build_app() -> typer.Typer:
    """The top-level app with only this group mounted, as ``cli/main.py`` registers it."""
    (entry,) = [g for g in cli_main.GROUPS if g[0] == "analyze"]
    top = typer.Typer()
    top.add_typer(entry[1], name="analyze")
    return top


@pytest.mark.parametrize(
    ("b", "c", "p3"),
    [
        ("1", "5", 0.219),  # paper case 1
        ("2", "4", 0.688),  # paper case 2
        ("2", "10", 0.039),  # paper case 3
    ],
)
def test_counts_json_reproduces_paper(b: str, c: str, p3: float) -> None:
    res = runner.invoke(build_app(), ["analyze", "mcnemar", "--counts", b, c, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= {"b", "c", "n_pairs", "p_value", "method"}
    assert (out["b"], out["c"], out["n_pairs"], out["method"]) == (int(b), int(c), int(b) + int(c), "exact")
    assert round(out["p_value"], 3) == p3


def test_chi2_option_and_text_output() -> None:
    res = runner.invoke(build_app(), ["analyze", "mcnemar", "--counts", "2", "10", "--method", "chi2"])
    assert res.exit_code == 0, res.output
    assert "McNemar (chi2)" in res.stdout and "chi-square statistic" in res.stdout


def test_files_mode(tmp_path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"id": i, "correct": i < 8}) + "\n" for i in range(12)), encoding="utf-8")
    # B is right on everything A is, plus items 8..11; item 99 is unpaired
    b.write_text("".join(json.dumps({"id": i, "correct": True}) + "\n" for i in [*range(12), 99]), encoding="utf-8")
    res = runner.invoke(build_app(), ["analyze", "mcnemar", str(a), str(b), "--key", "correct", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["b"], out["c"], out["n_pairs"], out["unpaired_b"]) == (0, 4, 12, 1)
    assert out["p_value"] == pytest.approx(0.125)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--counts", "1", "2", "x.jsonl"], "not both"),  # both modes at once
        (["only.jsonl", "--key", "k"], "expected two JSONL files"),  # one file
        (["a.jsonl", "b.jsonl"], "--key FIELD is required"),  # no key
        (["missing_a.jsonl", "missing_b.jsonl", "--key", "k"], "no such file"),  # absent files
        (["--counts", "1", "2", "--method", "wald"], "unknown McNemar method"),  # bad method
    ],
)
def test_errors(args: list[str], match: str) -> None:
    res = runner.invoke(build_app(), ["analyze", "mcnemar", *args])
    assert res.exit_code == 2
    assert match in res.output


RIGHT = "We see $AB = 5$ and $\\angle ABC = 40^\\circ$."
HALF = "We see AB = 6 and angle ABC = 40°."


def _jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_perception_command(tmp_path) -> None:
    # 12 geometry items: A right on 0-1 only, B right on 0-11 -> b=0, c=10; 3 chart items filtered out.
    ids = [f"g{i}" for i in range(12)] + [f"c{i}" for i in range(3)]
    info = "<info1>AB = 5</info1>\n<info2>angle ABC = 40°</info2>"
    _jsonl(tmp_path / "ann.jsonl", [{"id": i, "visual_key_info": info} for i in ids])
    task = {i: "chart" if i.startswith("c") else "geometry problem solving" for i in ids}
    _jsonl(tmp_path / "a.jsonl", [{"id": i, "response": RIGHT if i in ("g0", "g1") or i[0] == "c" else HALF,
                                   "metadata": {"metadata": {"task": task[i]}}} for i in ids])  # fmt: skip
    _jsonl(
        tmp_path / "b.jsonl", [{"id": i, "response": RIGHT, "metadata": {"metadata": {"task": task[i]}}} for i in ids]
    )
    out = tmp_path / "out"
    args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--annotations",
            str(tmp_path / "ann.jsonl"), "--where", "metadata.metadata.task=geometry problem solving", "--n", "50",
            "--name-a", "base", "--name-b", "pr1", "-o", str(out)]  # fmt: skip
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 0, res.output
    assert "12 items; base only: 0, pr1 only: 10; p = 0.001953" in res.stdout
    data = json.loads((out / "perception_analysis.json").read_text())
    assert data["mcnemar"]["p_value"] == pytest.approx(2 / 2**10)
    assert sorted(data["discordant"]["pr1 only"]) == sorted(f"g{i}" for i in range(2, 12))
    assert "## Perception correct for pr1 only (10)" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--judge-backend", "oracle"], "unknown judge backend 'oracle'"),  # unknown judge lists known ones
        (["--judge", "rule"], "No such option: --judge"),  # the old option name is gone (no deprecated aliases)
        (["--judge-timeout-s", "0"], "timeout_s must be > 0"),  # the shared judge options are validated here too
        (["--where", "nokey"], "FIELD=VALUE"),  # malformed filter
        (["--where", "metadata.task=none"], "no item has annotations"),  # filter leaves nothing
        (["--name-b", "A"], "must differ"),  # same labels
    ],
)
def test_perception_errors(tmp_path, extra: list[str], match: str) -> None:
    _jsonl(tmp_path / "ann.jsonl", [{"id": 1, "annotations": ["AB = 5"]}])
    _jsonl(tmp_path / "a.jsonl", [{"id": 1, "response": RIGHT}])
    args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl"), "--annotations",
            str(tmp_path / "ann.jsonl"), "-o", str(tmp_path / "o"), *extra]  # fmt: skip
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 2
    assert match in res.output


def test_perception_command_with_llm_judge(tmp_path) -> None:
    # A real HTTP judge endpoint on 127.0.0.1 (the project's fake server) answering like a truthful judge:
    # a fact counts when its text appears verbatim in the response.
    from support.fake_judge import truthful_judge
    from support.fake_openai_server import FakeOpenAIServer

    _jsonl(tmp_path / "ann.jsonl", [{"id": i, "annotations": ["AB = 5", "CD = 2"]} for i in range(4)])
    _jsonl(tmp_path / "a.jsonl", [{"id": i, "response": "AB = 5 and CD = 2"} for i in range(4)])
    _jsonl(tmp_path / "b.jsonl", [{"id": i, "response": "AB = 5" if i < 3 else "AB = 5, CD = 2"} for i in range(4)])
    with FakeOpenAIServer(responder=truthful_judge) as srv:
        args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--annotations",
                str(tmp_path / "ann.jsonl"), "--judge-backend", "openai", "--judge-base-url", srv.base_url,
                "-o", str(tmp_path / "o")]  # fmt: skip
        res = runner.invoke(build_app(), args)
        assert res.exit_code == 0, res.output
        assert len(srv.requests) == 3  # identical cases are sent once: 1 distinct for A, 2 for B
        # every verdict is cached in the output folder as it arrives: running the analysis again asks nothing
        assert (tmp_path / "o" / "judge_cache.sqlite").is_file()
        assert runner.invoke(build_app(), args).exit_code == 0 and len(srv.requests) == 3
    data = json.loads((tmp_path / "o" / "perception_analysis.json").read_text())
    assert (data["mcnemar"]["b"], data["mcnemar"]["c"]) == (3, 0)  # A reflects both facts on 0-2, B only one
    assert data["labels"]["B"]["0"]["verdicts"] == [1, 0]


def test_perception_duplicate_response_id_is_an_error(tmp_path) -> None:
    # Two responses under one id: labelling either would be a silent choice.
    _jsonl(tmp_path / "ann.jsonl", [{"id": 1, "annotations": ["AB = 5"]}])
    _jsonl(tmp_path / "a.jsonl", [{"id": 1, "response": RIGHT}, {"id": 1, "response": HALF}])
    args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl"), "--annotations",
            str(tmp_path / "ann.jsonl"), "-o", str(tmp_path / "o")]  # fmt: skip
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 2
    assert "a.jsonl:2: duplicate id '1'" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--counts", "-1", "-1"], "discordant count b must be a non-negative integer, got -1"),  # not "0 file(s)"
        (["--counts", "3", "-2"], "discordant count c must be a non-negative integer, got -2"),  # one negative
    ],
)
def test_negative_counts_are_named(args, message) -> None:
    result = runner.invoke(build_app(), ["analyze", "mcnemar", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_exact_counts_at_ten_million_are_instant() -> None:
    import time

    start = time.monotonic()
    result = runner.invoke(build_app(), ["analyze", "mcnemar", "--counts", "10000000", "10000000", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["p_value"] == 1.0
    assert time.monotonic() - start < 5


def test_null_values_are_skipped_and_counted(tmp_path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in [{"id": 1, "correct": True}, {"id": 2, "correct": None}]))
    b.write_text("".join(json.dumps(r) + "\n" for r in [{"id": 1, "correct": False}, {"id": 2, "correct": True}]))
    result = runner.invoke(build_app(), ["analyze", "mcnemar", str(a), str(b), "--key", "correct", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["b"], out["c"], out["n_pairs"], out["null_a"], out["null_b"]) == (1, 0, 1, 1, 0)


@pytest.mark.parametrize(
    ("annotations", "extra", "match"),
    [
        ([{"id": 1, "annotations": ["AB = 5"]}], ["--n", "-3"], "--n must be >= 0"),  # negative subset size
        ([{"id": 1, "annotations": "AB = 5"}], [], "'annotations' must be a list of strings, got one string"),
        ([{"id": 1, "annotations": []}], [], "left out: no annotations: 1"),  # counted, not dropped silently
    ],
)
def test_perception_input_errors_are_named(tmp_path, annotations, extra, match) -> None:
    _jsonl(tmp_path / "ann.jsonl", annotations)
    _jsonl(tmp_path / "a.jsonl", [{"id": 1, "response": RIGHT}])
    args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl"), "--annotations",
            str(tmp_path / "ann.jsonl"), "-o", str(tmp_path / "o"), "--name-b", "B2", *extra]  # fmt: skip
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 2
    assert match in res.output


def test_perception_against_a_dead_judge_exits_non_zero_without_a_p_value(tmp_path) -> None:
    from support.fake_openai_server import free_port

    _jsonl(tmp_path / "ann.jsonl", [{"id": i, "annotations": ["AB = 5"]} for i in range(3)])
    _jsonl(tmp_path / "a.jsonl", [{"id": i, "response": RIGHT} for i in range(3)])
    args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl"), "--annotations",
            str(tmp_path / "ann.jsonl"), "-o", str(tmp_path / "o"), "--name-b", "B2", "--judge-backend", "openai",
            "--judge-base-url", f"http://127.0.0.1:{free_port()}/v1"]  # fmt: skip
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 2
    assert "no item could be judged" in res.output and "connection" in res.output
    assert "p =" not in res.output and not (tmp_path / "o" / "perception_analysis.json").exists()


@pytest.mark.parametrize(
    ("extra", "said", "selection"),
    [
        # --n 50 on a file with 3 eligible items: all 3 are analysed, and the output says why not 50
        (["--n", "50"], "analysed 3 items, not the 50 asked for: only 3 items have annotations and a response from "
         "both models (left out: no annotations: 1, no response b: 1)", (50, 3, 3)),
        # a seeded sample smaller than the pool
        (["--n", "2"], "analysed a seeded sample of 2 of the 3 eligible items", (2, 3, 2)),
        # --n 0: every eligible item
        (["--n", "0"], "analysed all 3 eligible items", (None, 3, 3)),
        # a filter on model A's records narrows the pool, and is named as a reason
        (["--n", "50", "--where", "metadata.task=geometry"], "only 2 items have annotations and a response from "
         "both models and match --where (left out: no annotations: 1, no response b: 1, not matching where: 1)",
         (50, 2, 2)),
    ],
)  # fmt: skip
def test_perception_says_how_many_items_were_analysed_and_why_fewer(tmp_path, extra, said, selection) -> None:
    ids = ["g0", "g1", "c0", "x0", "y0"]  # x0 has no annotations, y0 no response from B
    _jsonl(tmp_path / "ann.jsonl", [{"id": i, "annotations": [] if i == "x0" else ["AB = 5"]} for i in ids])
    task = {"g0": "geometry", "g1": "geometry", "c0": "chart", "x0": "geometry", "y0": "geometry"}
    _jsonl(tmp_path / "a.jsonl", [{"id": i, "response": RIGHT, "metadata": {"task": task[i]}} for i in ids])
    _jsonl(tmp_path / "b.jsonl", [{"id": i, "response": HALF} for i in ids if i != "y0"])
    out = tmp_path / "o"
    args = ["analyze", "perception", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--annotations",
            str(tmp_path / "ann.jsonl"), "-o", str(out), *extra]  # fmt: skip
    res = runner.invoke(build_app(), args)
    assert res.exit_code == 0, res.output
    assert said in res.stdout
    data = json.loads((out / "perception_analysis.json").read_text())
    sel = data["selection"]
    assert (sel["requested"], sel["eligible"], sel["selected"]) == selection
    assert data["n_selected"] == selection[2]
    assert said.split(" (")[0] in (out / "report.md").read_text()
