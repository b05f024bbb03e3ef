"""Curation steps against a fake OpenAI-compatible teacher/annotator on 127.0.0.1 (no model, no hub)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time

import pytest
import yaml
from PIL import Image

from perception_r1.data.curate.annotate import annotate, clean_annotations, parse_annotation_reply
from perception_r1.data.curate.distill import DistillOptions, distill
from perception_r1.data.curate.filtering import filter_trajectories
from perception_r1.data.curate.recipe import build, load_recipe
from perception_r1.data.io import load_examples
from perception_r1.llm.cache import ResponseCache
from perception_r1.llm.config import LLMConfig
from perception_r1.rewards.accuracy import AccuracyReward
from support.fake_openai_server import FakeOpenAIServer, last_user_text

# Problem tag -> (gold answer, what the fake teacher answers; None = no boxed answer).
PROBLEMS = {
    "p0": ("3", "3"),
    "p1": ("2\\sqrt{3}", "2\\sqrt{3}"),  # radical gold: must verify, not read as 2 (math-verify on an unwrapped gold)
    "p2": ("12", "13"),  # teacher wrong: filtered out
    "p3": ("5", None),  # teacher never boxes an answer: distill rejects
    "p4": ("40", "40"),  # annotator replies with garbage: annotate rejects
}


def responder(body: dict) -> str:
    text = last_user_text(body)
    tag = re.search(r"\[(p\d)\]", text).group(1)
    if text.startswith("You extract visual facts"):
        if tag == "p4":
            return "I cannot help with that."
        return (
            f"Facts:\n<info1>AB = {tag[1]}</info1>\n<info2>angle ABC = 40°</info2>\n<info3>AB = {tag[1]}</info3>\n"
            "<info4>Therefore x = 3</info4>\n<info5> </info5>"
        )
    gold, said = PROBLEMS[tag]
    if said is None:
        return "<think>\nhmm\n</think>\n<answer>\nno idea\n</answer>"
    return f"<think>\nFrom the figure, AB = {tag[1]}. [{tag}]\n</think>\n<answer>\nSo \\boxed{{{said}}}\n</answer>"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def fixture_dir(tmp_path):
    """A Geometry3K-shaped JSONL: images/problem/answer/id/choices/ground_truth, plus two bad rows."""
    (tmp_path / "img.png").write_bytes(_png())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    rows = [
        {"id": tag, "images": ["img.png"], "problem": f"<image>Find x. [{tag}]", "answer": gold, "choices": None,
         "ground_truth": gold}
        for tag, (gold, _) in PROBLEMS.items()
    ]  # fmt: skip
    rows.append({"id": "bad-image", "images": ["broken.png"], "problem": "<image>x [p0]", "answer": "1"})
    rows.append({"id": "no-answer", "images": ["img.png"], "problem": "<image>x [p0]", "answer": ""})
    (tmp_path / "g3k.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


@pytest.fixture
def server():
    with FakeOpenAIServer(responder=responder) as srv:
        yield srv


def _llm(server, tmp_path, name: str) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, model=name, cache_path=str(tmp_path / f"{name}.sqlite"), max_retries=0)


ACCURACY = AccuracyReward(isolation="inline")


def test_steps_reject_with_reasons_and_keep_the_rest(fixture_dir, server, tmp_path) -> None:
    load_rejects: list = []
    rows = load_examples(fixture_dir / "g3k.jsonl", check_images=True, rejects=load_rejects)
    assert sorted(r["id"] for r in load_rejects) == ["bad-image", "no-answer"]
    distilled = distill(rows, _llm(server, tmp_path, "teacher"), DistillOptions(k=2, invalid_retries=1))
    assert [r["id"] for r in distilled.rows] == ["p0", "p1", "p2", "p4"]
    assert (
        distilled.rejects
        == [
            {"id": "p3", "stage": "distill", "reason": distilled.rejects[0]["reason"]},
        ]
        and "no final answer" in distilled.rejects[0]["reason"]
    )
    # Images travel to the teacher as data URLs, before the text.
    parts = server.requests[0]["messages"][0]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,") and parts[-1]["type"] == "text"

    filtered = filter_trajectories(distilled.rows, accuracy=ACCURACY)
    assert [r["id"] for r in filtered.rows] == ["p0", "p1", "p4"]  # p2's answer 13 != 12
    assert filtered.rejects[0]["id"] == "p2" and "no trajectory matches" in filtered.rejects[0]["reason"]
    assert all("trajectories" not in r and r["cot"].startswith("<think>") for r in filtered.rows)

    annotated = annotate(filtered.rows, _llm(server, tmp_path, "annotator"))
    assert {r["id"]: r["visual_annotations"] for r in annotated.rows} == {
        "p0": ["AB = 0", "angle ABC = 40°"],
        "p1": ["AB = 1", "angle ABC = 40°"],
    }
    item_drops = sorted(r["reason"] for r in annotated.rejects if r["stage"] == "annotate-item")
    assert item_drops == ["duplicate", "duplicate", "empty", "empty"] + ["non-visual (reasoning or not atomic)"] * 2
    assert [r["id"] for r in annotated.rejects if r["stage"] == "annotate"] == ["p4"]
    assert annotated.summary["annotations_per_item"] == {"2": 2}


def test_rerun_is_served_from_the_cache(fixture_dir, server, tmp_path) -> None:
    rows = load_examples(fixture_dir / "g3k.jsonl", rejects=[])
    first = distill(rows, _llm(server, tmp_path, "teacher"), DistillOptions(k=2, invalid_retries=0))
    sent = len(server.requests)
    second = distill(rows, _llm(server, tmp_path, "teacher"), DistillOptions(k=2, invalid_retries=0))
    # p3's two rejected replies spent their one round: the rerun repeats no call and writes the same output
    assert len(server.requests) == sent
    assert second.rows == first.rows and second.rejects == first.rejects
    assert second.summary["llm"]["cache_hits"] == 8
    # one more round allowed: only p3's two requests are asked again (the server still gives no boxed answer)
    third = distill(rows, _llm(server, tmp_path, "teacher"), DistillOptions(k=2, invalid_retries=1))
    assert len(server.requests) == sent + 2 and third.rows == first.rows


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<info2>b</info2> text <info1>a</info1>", ["a", "b"]),  # prose ignored, number order
        ("- AB = 5\n- AB ∥ CD\n", ["AB = 5", "AB ∥ CD"]),  # bulleted list fallback
        ("1. AB = 5\n2) BC = 3", ["AB = 5", "BC = 3"]),  # numbered list fallback
    ],
)
def test_parse_annotation_reply(reply, expected) -> None:
    assert parse_annotation_reply(reply) == expected


def test_parse_annotation_reply_rejects_prose_and_cleaning_reasons() -> None:
    with pytest.raises(ValueError, match="no <infoN> tags"):
        parse_annotation_reply("The figure shows a triangle.")
    kept, dropped = clean_annotations(["AB = 5", "ab = 5", "", "So AC = 3", "D is the midpoint of AC"])
    assert kept == ["AB = 5", "D is the midpoint of AC"]
    assert [why for _, why in dropped] == ["duplicate", "empty", "non-visual (reasoning or not atomic)"]


def _recipe(tmp_path, fixture_dir, server, out: str) -> str:
    recipe = {
        "output_dir": str(tmp_path / out),
        "source": {"path": str(fixture_dir / "g3k.jsonl"), "split": None},
        "teacher": {"base_url": server.base_url, "model": "t", "cache_path": str(tmp_path / out / "t.sqlite")},
        "distill": {"k": 2, "batch_size": 2, "invalid_retries": 0},
        "annotator": {"base_url": server.base_url, "model": "a", "cache_path": str(tmp_path / out / "a.sqlite")},
        "annotate": {"batch_size": 2, "invalid_retries": 0},
        "write": {"format": "parquet"},
    }
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def test_build_runs_the_recipe(fixture_dir, server, tmp_path) -> None:
    summary = build(load_recipe(_recipe(tmp_path, fixture_dir, server, "run")), accuracy=ACCURACY)
    assert summary["counts"] == {"source": 7, "loaded": 5, "distilled": 4, "filtered": 3, "annotated": 2}
    assert summary["retention"] == round(2 / 7, 4)
    final = load_examples(tmp_path / "run" / "train.parquet")
    reference = load_examples(tmp_path / "run" / "reference.parquet")
    assert [r["visual_annotations"] for r in final] == [r["visual_annotations"] for r in reference]
    for step in ("distill", "filter", "annotate"):
        assert (tmp_path / "run" / step / "summary.json").exists()
    load_rejects = [
        json.loads(line) for line in (tmp_path / "run" / "load" / "rejects.jsonl").read_text().splitlines()
    ]
    assert sorted(r["id"] for r in load_rejects) == ["bad-image", "no-answer"]


def test_wrong_column_fails_before_any_llm_call(fixture_dir, server, tmp_path) -> None:
    recipe = load_recipe(_recipe(tmp_path, fixture_dir, server, "bad"), {"source.columns": {"problem": "question"}})
    with pytest.raises(ValueError, match="mapped column\\(s\\) not found: problem <- 'question'"):
        build(recipe, accuracy=ACCURACY)
    assert server.requests == []


@pytest.mark.integration
def test_kill_and_resume_gives_identical_output(fixture_dir, tmp_path) -> None:
    # The teacher is slow (0.4 s a request, one at a time); the build is killed mid-distillation, then rerun.
    with FakeOpenAIServer(responder=responder, latency_s=0.4) as slow:
        killed = _recipe(tmp_path, fixture_dir, slow, "killed")
        cmd = [sys.executable, "-m", "perception_r1.cli.main", "data", "build", killed, "teacher.max_concurrency=1"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while len(slow.requests) < 5 and time.time() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        cached = len(ResponseCache(tmp_path / "killed" / "t.sqlite"))
        before = len(slow.requests)
        assert 0 < cached < 10  # killed mid-way: some replies stored, not all
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        resumed_teacher = [b for b in slow.requests[before:] if b["model"] == "t"]
    # Completed calls are not repeated: 10 teacher requests in all (5 problems x 2), 2 of them rejected (p3).
    assert len(resumed_teacher) == 10 - cached
    with FakeOpenAIServer(responder=responder) as fresh:  # an uninterrupted run for comparison (in-process)
        build(load_recipe(_recipe(tmp_path, fixture_dir, fresh, "clean")), accuracy=ACCURACY)
    for name in ("train.parquet", "reference.parquet"):
        a, b = load_examples(tmp_path / "killed" / name), load_examples(tmp_path / "clean" / name)
        assert a == b and len(a) == 2


@pytest.mark.integration
def test_ctrl_c_keeps_every_finished_reply_and_prints_no_event_loop_traceback(fixture_dir, tmp_path) -> None:
    import signal

    # One request at a time, 0.8 s each (wide enough for a loaded CI machine); Ctrl-C arrives while the 5th of 10 is
    # in flight (the batch is 128).
    with FakeOpenAIServer(responder=responder, latency_s=0.8) as slow:
        cache = tmp_path / "t.sqlite"
        cmd = [sys.executable, "-m", "perception_r1.cli.main", "data", "distill", str(fixture_dir / "g3k.jsonl")]
        cmd += ["-o", str(tmp_path / "d"), "--base-url", slow.base_url, "--model", "t", "--cache-path", str(cache)]
        (tmp_path / "llm.yaml").write_text("max_concurrency: 1\nmax_retries: 0\n")
        cmd += ["--k", "2", "--limit", "5", "--llm-config", str(tmp_path / "llm.yaml")]
        env = {**__import__("os").environ, "PYTHONUNBUFFERED": "1"}
        # A job started in the background (nohup, `cmd &` in a script, some CI runners) inherits SIGINT as ignored,
        # and so would this child: restore the default so that it sees Ctrl-C as a user's terminal would send it.
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.time() + 90
        while len(slow.requests) < 5 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        finished = len(slow.requests) - slow.in_flight
    stderr = err.decode(errors="replace")
    assert proc.returncode != 0
    assert "Event loop is closed" not in stderr and "Traceback" not in stderr, stderr
    # every finished call was cached as it arrived (the batch of 128 never finished): p3's two replies are
    # rejected, never cached, and one reply may have been on the wire when Ctrl-C came
    assert finished >= 4
    assert len(ResponseCache(cache)) >= max(1, finished - 3)


# ----------------------------------------------------------------------------------------------------------------
# A killed step: a real `perception-r1 data ...` process, a standalone teacher server that counts requests, SIGKILL.


def _standalone_server(latency_ms: float):
    """The fake server in its own process with the curation responder (support.fake_curation); returns it and its
    port once it listens."""
    from support.fake_openai_server import free_port, standalone_env

    port = free_port()
    cmd = [sys.executable, "-m", "support.fake_openai_server", "--port", str(port), "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(
        [*cmd, "--responder", "curation"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=standalone_env()
    )
    assert "listening" in proc.stdout.readline().decode()
    return proc, port


def _served(port: int) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as reply:
        return json.loads(reply.read())["requests"]


def _step_rows(tmp_path, n: int) -> str:
    """n problems (one in three never answered right by the fake teacher/annotator) with a solution each."""
    (tmp_path / "img.png").write_bytes(_png())
    rows = [
        {"id": f"r{i}", "images": ["img.png"], "problem": f"<image>Find x. [p{i}]", "answer": str(i),
         "cot": f"<think>\nFrom the figure, AB = {i}. [p{i}]\n</think>\n<answer>\n\\boxed{{{i}}}\n</answer>"}
        for i in range(n)
    ]  # fmt: skip
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / "rows.jsonl")


def _step_outputs(folder) -> tuple[list, str, dict]:
    summary = json.loads((folder / "summary.json").read_text())
    summary.pop("llm")  # counters of this process's calls (cache hits differ by design)
    return load_examples(folder / "data.parquet"), (folder / "rejects.jsonl").read_text(), summary


@pytest.mark.integration
@pytest.mark.parametrize(
    ("step", "extra", "kill_after"),
    [
        # 60 problems, k=1, a re-ask for a reply without a boxed answer: 40 + 2 x 20 calls; killed in round one
        ("distill", ["--k", "1"], 30),
        # the same killed in the re-ask round (after the 60 first asks)
        ("distill", ["--k", "1"], 66),
        # annotation: 40 + 3 x 20 calls (two re-asks of a reply without facts); killed in round one
        ("annotate", [], 30),
    ],
)
def test_a_killed_step_repeats_only_the_calls_in_flight(tmp_path, step, extra, kill_after) -> None:
    # Before the fix a rejected reply was not recorded: a rerun asked again every rejected call finished before the
    # kill (about a third of them here), not only the <= max_concurrency calls in flight.
    max_concurrency = 4
    rows = _step_rows(tmp_path, 60)
    (tmp_path / "llm.yaml").write_text(f"max_concurrency: {max_concurrency}\nmax_retries: 0\n")
    server, port = _standalone_server(latency_ms=50)
    try:

        def command(out: str) -> list[str]:
            return [sys.executable, "-m", "perception_r1.cli.main", "data", step, rows, "-o", str(tmp_path / out),
                    "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m", "--llm-config",
                    str(tmp_path / "llm.yaml"), *extra]  # fmt: skip

        proc = subprocess.Popen(command("killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while _served(port) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the step finished before it could be killed"
        proc.kill()  # SIGKILL: no handler runs, nothing is flushed
        proc.wait()
        assert not (tmp_path / "killed" / "summary.json").exists()
        subprocess.run(
            command("killed"), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120
        )
        killed_and_rerun = _served(port)
        # the default reply cache lives in the output folder (no --cache-path given)
        assert (tmp_path / "killed" / "llm_cache.sqlite").is_file()
        subprocess.run(command("clean"), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        uninterrupted = _served(port) - killed_and_rerun
    finally:
        server.kill()
        server.wait()
    assert uninterrupted == {"distill": 80, "annotate": 100}[step]
    assert killed_and_rerun - uninterrupted <= max_concurrency + 2
    assert _step_outputs(tmp_path / "killed") == _step_outputs(tmp_path / "clean")
