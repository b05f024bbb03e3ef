"""Secrets never leave: :mod:`perception_r1.redact` itself, then every command against a server on 127.0.0.1 whose
401 quotes the API key back (``401_echo``), with the key in the environment: nothing printed or written holds it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perception_r1.cli.main import build_app
from perception_r1.llm.config import LLMConfig
from perception_r1.redact import REDACTED, install, redact, redact_obj
from support.fake_openai_server import FakeOpenAIServer
from support.hostile import SECRET_KEY

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
# Every variable a config of the project names by default (judge, evaluation/curation client, recipe teacher and
# annotator), plus one odd name that only a config's registration makes secret.
KEY_VARS = (
    "PERCEPTION_R1_JUDGE_API_KEY",
    "PERCEPTION_R1_LLM_API_KEY",
    "PERCEPTION_R1_TEACHER_API_KEY",
    "PERCEPTION_R1_ANNOTATOR_API_KEY",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTTP 401: Authorization: Bearer abc.DEF-123456", f"HTTP 401: Authorization: {REDACTED}"),  # header line
        ('{"authorization": "Basic dXNlcjpwYXNz"}', f'{{"authorization": "{REDACTED}"}}'),  # JSON, other scheme
        ("got bearer xyz0123456789 from you", f"got Bearer {REDACTED} from you"),  # a bare bearer token
        ("x-api-key: s3cr3t-value; retry", f"x-api-key: {REDACTED}; retry"),  # Anthropic-style header
        ("api-key=0123456789abcdef", f"api-key={REDACTED}"),  # Azure-style, = form
        ("'api_key': 'abcdefgh12'", f"'api_key': '{REDACTED}'"),  # a Python repr of a config dict
        ("key sk-proj-0123456789abcdefgh rejected", f"key {REDACTED} rejected"),  # OpenAI key shape
        ("the task-manager asked", "the task-manager asked"),  # "sk-" inside a word is not a key
        ("HTTP 500", "HTTP 500"),  # nothing to hide: unchanged
        ("", ""),  # empty stays empty
    ],
)
def test_patterns(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("name", "value", "register", "hidden"),
    [
        ("PR_TEST_JUDGE_API_KEY", "plain-value-1234", False, True),  # a credential-looking name: always secret
        ("PR_TEST_SERVICE_TOKEN", "plain-value-1234", False, True),  # *_TOKEN too
        ("PR_TEST_ODD_NAME", "plain-value-1234", True, True),  # an odd name is secret once a config names it
        ("PR_TEST_UNRELATED", "plain-value-1234", False, False),  # any other variable is not
        ("PR_TEST_SHORT_API_KEY", "abc", False, False),  # too short to search for without mangling text
    ],
)
def test_values_of_secret_variables(monkeypatch, name, value, register, hidden):
    monkeypatch.setenv(name, value)
    if register:
        LLMConfig(api_key_env=name)  # building a config registers its api_key_env
    text = f"Incorrect API key provided: {value}"
    assert (redact(text) == f"Incorrect API key provided: {REDACTED}") is hidden


def test_json_escaped_value_and_records(monkeypatch):
    monkeypatch.setenv("PR_TEST_QUOTED_API_KEY", 'abc"def\\ghij')
    dumped = json.dumps({"error": 'provided abc"def\\ghij'})  # the value as it appears inside a JSON string
    assert "abc" not in redact(dumped) and json.loads(redact(dumped)) == {"error": f"provided {REDACTED}"}
    record = {"error": "Bearer abcdefghijkl", "n": 3, "list": ["ok", ("sk-" + "a" * 20,)], "none": None}
    assert redact_obj(record) == {"error": f"Bearer {REDACTED}", "n": 3, "list": ["ok", (REDACTED,)], "none": None}


def test_install_redacts_log_messages_and_tracebacks(monkeypatch, capsys, caplog):
    monkeypatch.setenv("PERCEPTION_R1_JUDGE_API_KEY", SECRET_KEY)
    factory, hook = logging.getLogRecordFactory(), sys.excepthook
    try:
        install()
        wrapped = logging.getLogRecordFactory()
        install()  # a second call adds no second layer
        assert logging.getLogRecordFactory() is wrapped
        with caplog.at_level(logging.WARNING):
            logging.getLogger("perception_r1.test").warning("server said: %s", f"bad key {SECRET_KEY}")
        try:
            raise RuntimeError(f"gateway quoted {SECRET_KEY}")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        logging.setLogRecordFactory(factory)
        sys.excepthook = hook
    assert caplog.records[-1].getMessage() == f"server said: bad key {REDACTED}"
    err = capsys.readouterr().err
    assert f"RuntimeError: gateway quoted {REDACTED}" in err and SECRET_KEY not in err


# --------------------------------------------------------------------------- every command, end to end
@pytest.fixture
def echo_server(monkeypatch):
    """A server failing every chat request with a 401 quoting the key; the key in every configured variable."""
    for name in (*KEY_VARS, "PR_E2E_ODD_CRED"):
        monkeypatch.setenv(name, SECRET_KEY)
    with FakeOpenAIServer(fault_rate=1.0, fault_kinds=("401_echo",)) as server:
        yield server
    assert server.faults["401_echo"] >= 1  # the key really was sent back: the assertions below mean something


def _leaks(result, *folders: Path) -> list[str]:
    """Where the key appears: the command's stdout/stderr, or files under ``folders``."""
    found = [name for name, text in (("stdout", result.stdout), ("stderr", result.stderr)) if SECRET_KEY in text]
    for folder in folders:
        found += [str(p) for p in folder.rglob("*") if p.is_file() and SECRET_KEY.encode() in p.read_bytes()]
    return found


def _invoke(*args: str):
    return CliRunner().invoke(build_app(), list(args))


@pytest.mark.parametrize(
    "config",
    [
        None,  # the default variable, PERCEPTION_R1_JUDGE_API_KEY
        "api_key_env: PR_E2E_ODD_CRED\n",  # a variable only the config says is secret
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_judge_check(echo_server, tmp_path, config, as_json):
    args = ["judge", "check", "--judge-base-url", echo_server.base_url, "--judge-max-retries", "0"]
    if config is not None:
        (tmp_path / "judge.yaml").write_text(config)
        args += ["--judge-config", str(tmp_path / "judge.yaml")]
    result = _invoke(*args, *(["--json"] if as_json else []))
    assert result.exit_code == 1, result.output
    assert _leaks(result) == [] and REDACTED in result.stdout and "HTTP 401" in result.stdout


def test_eval_generations_items_and_llm_grading(echo_server, tmp_path):
    out = tmp_path / "run"
    url = echo_server.base_url
    result = _invoke("eval", "--model", "m", "--backend", "openai", "--backend-opt", f"base_url={url}", "-b", "mmstar",
                     "--data-dir", str(FIXTURES), "-o", str(out), "--llm-grade", "--llm-base-url", url)  # fmt: skip
    assert result.exit_code == 0, result.output
    items = [json.loads(x) for x in (out / "items" / "mmstar.jsonl").read_text().splitlines()]
    assert items and all(r["error"].startswith("generation: HTTP 401") and REDACTED in r["error"] for r in items)
    assert _leaks(result, out) == []


def test_rewards_score(echo_server, tmp_path):
    rows = [{"response": "<answer>\\boxed{1}</answer>", "answer": "1", "visual_annotations": ["AB = 5"]}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _invoke("rewards", "score", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out" / "s.jsonl"),
                     "--judge-base-url", echo_server.base_url, "--judge-max-retries", "0")  # fmt: skip
    assert result.exit_code == 1 and "HTTP 401" in result.stderr, result.output  # nothing judged: a failure
    assert _leaks(result, tmp_path / "out") == []


def test_curation_steps(echo_server, tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "img.png")
    row = {"id": "p0", "images": ["img.png"], "problem": "<image>Find x.", "answer": "7", "cot": "AB = 7"}
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n")
    for step in ("distill", "annotate"):
        result = _invoke("data", step, str(tmp_path / "in.jsonl"), "-o", str(tmp_path / step),
                         "--base-url", echo_server.base_url)  # fmt: skip
        assert result.exit_code == 0, result.output
        rejects = [json.loads(x) for x in (tmp_path / step / "rejects.jsonl").read_text().splitlines()]
        assert len(rejects) == 1 and REDACTED in rejects[0]["reason"]
        assert _leaks(result, tmp_path / step) == []


@pytest.mark.integration
def test_training_samples_and_report(echo_server, tmp_path, monkeypatch):
    # One GRPO step of the tiny model whose perception judge gets the echoing 401 for every completion.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from perception_r1.config import from_dict
    from perception_r1.train.config import TrainConfig
    from perception_r1.train.trainer import run_training

    judge = {"backend": "openai", "base_url": echo_server.base_url, "max_retries": 0, "api_key_env": "PR_E2E_ODD_CRED"}
    cfg = from_dict(
        TrainConfig,
        {
            "model": {"path": "tiny"},
            "data": {"synth_n": 2},
            "rewards": [{"name": "format", "weight": 1.0}, {"name": "perception", "params": {"judge": judge}}],
            "grpo": {
                "num_generations": 2,
                "per_device_train_batch_size": 2,
                "max_completion_length": 8,
                "max_steps": 1,
                "seed": 3,
            },
            "logging": {"samples_per_step": 2},
            "output": {"dir": str(tmp_path / "train"), "save_final": False, "resume": "never"},
            # The start-up probe would (rightly) refuse this judge; here its failures must reach the samples.
            "judge_guard": {"probe": False},
        },
    )
    run_training(cfg)
    samples = [json.loads(x) for x in (tmp_path / "train" / "samples.jsonl").read_text().splitlines()]
    assert samples and all(REDACTED in s["perception_verdicts"] for s in samples)
    result = _invoke("report", str(tmp_path / "train"), "-o", str(tmp_path / "report.html"))
    assert result.exit_code == 0, result.output
    assert REDACTED in (tmp_path / "report.html").read_text()
    assert _leaks(result, tmp_path) == []
