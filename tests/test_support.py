"""The test doubles in tests/support: importable by tests, and runnable as a separate server process."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from support.fake_openai_server import free_port, standalone_env


@pytest.mark.parametrize(
    "responder",
    [
        "judge",  # the default: imports support.fake_judge inside the child process
        "echo",  # the plain echo responder
    ],
)
def test_standalone_server_runs_from_any_folder(tmp_path, responder):
    # Benchmarks start the fake server as `python -m support.fake_openai_server`; standalone_env must let the child
    # find tests/support although neither the package nor the current folder (tmp_path here) holds it.
    port = free_port()
    cmd = [sys.executable, "-m", "support.fake_openai_server", "--port", str(port), "--responder", responder]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=standalone_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline().decode(), proc.stderr.read().decode() if proc.stderr else ""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as reply:
            assert json.loads(reply.read())["object"] == "list"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_child_without_the_path_cannot_import_the_doubles(tmp_path):
    # The doubles are not installed with the package: without standalone_env a child process does not see them.
    env = {k: v for k, v in standalone_env().items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", "import support.fake_openai_server"], cwd=tmp_path, env=env, capture_output=True
    )
    assert done.returncode != 0 and b"ModuleNotFoundError" in done.stderr


def test_401_echo_quotes_the_key_back_verbatim():
    # The fault the secret tests rely on: without redaction the key would reach every error text.
    import urllib.error

    from support.fake_openai_server import FakeOpenAIServer
    from support.hostile import SECRET_KEY

    with FakeOpenAIServer(script=["401_echo"]) as server:
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"Authorization": f"Bearer {SECRET_KEY}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=10)
    assert failure.value.code == 401
    message = json.loads(failure.value.read())["error"]["message"]
    assert message == f"Incorrect API key provided: {SECRET_KEY} (header 'Authorization: Bearer {SECRET_KEY}')"


def test_bomb_png_declares_its_size_in_few_bytes():
    import io

    from PIL import Image

    from support.hostile import bomb_png

    png = bomb_png(3000, 2000)
    with Image.open(io.BytesIO(png)) as image:  # 6 megapixels: under PIL's own limit, so it opens
        assert image.size == (3000, 2000) and image.mode == "L"
        image.load()
        assert image.getextrema() == (0, 0)
    assert len(png) < 20_000
