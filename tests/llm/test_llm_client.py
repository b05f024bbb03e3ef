"""LLM client layer against the fault-injecting fake server: faults, retries, concurrency, cache, de-dup, secrets."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import pickle
import random
import socket
import time

import pytest

from perception_r1.llm.cache import ResponseCache
from perception_r1.llm.client import ChatRequest, LLMClient, build_client, image_data_url, user_message
from perception_r1.llm.config import LLMConfig
from perception_r1.llm.openai_backend import OpenAIBackend
from support.fake_openai_server import FakeOpenAIServer


def fast_cfg(server: FakeOpenAIServer, **kw) -> LLMConfig:
    base = dict(base_url=server.base_url, timeout_s=0.5, max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05)
    base.update(kw)
    return LLMConfig(**base)


def run(client: LLMClient, requests, **kw):
    async def go():
        try:
            return await client.agenerate(requests, **kw)
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.fixture
def server():
    with FakeOpenAIServer(hang_s=5.0, slow_s=0.1) as srv:
        yield srv


@pytest.mark.parametrize(
    ("script", "max_retries", "ok", "error", "attempts"),
    [
        ([], 3, True, None, 1),  # healthy server: one attempt
        (["slow"], 3, True, None, 1),  # slow but within the timeout: no retry
        (["hang"], 3, True, None, 2),  # timed out once, then answered
        (["429"], 3, True, None, 2),  # rate limited: retried (Retry-After: 0)
        (["500", "503"], 3, True, None, 3),  # 5xx twice: retried twice
        (["reset"], 3, True, None, 2),  # connection reset without a reply: retried
        (["invalid_json"], 3, True, None, 2),  # 200 with a truncated body: retried
        (["500"] * 4, 3, False, "HTTP 500", 4),  # persistent 5xx: fails after 1 + 3 attempts, no exception
        (["hang", "hang"], 1, False, "timeout", 2),  # persistent timeout: fails with the reason
        (["400"], 3, False, "HTTP 400: injected 400", 1),  # client error: not retried
        (["401"], 3, False, "HTTP 401: injected 401", 1),  # auth error: not retried
    ],
)
@pytest.mark.parametrize(
    "transport",
    [
        "auto",  # our lean transport (the default for http://)
        "sdk",  # the SDK's default httpx pool
        pytest.param(  # the SDK's aiohttp client (optional dependency)
            "aiohttp", marks=pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="no aiohttp")
        ),
    ],
)
def test_fault_outcomes(server, script, max_retries, ok, error, attempts, transport):
    server.script.extend(script)
    client = build_client(fast_cfg(server, max_retries=max_retries, http_transport=transport))
    (result,) = run(client, [ChatRequest.user("ping")])
    assert result.ok is ok
    assert result.error == error
    assert result.attempts == attempts
    assert result.text == ("ping" if ok else None)


def test_unreachable_server_fails_without_raising():
    cfg = LLMConfig(base_url="http://127.0.0.1:9/v1", max_retries=1, backoff_base_s=0.01, timeout_s=1)
    (result,) = run(build_client(cfg), [ChatRequest.user("x")])
    assert (result.ok, result.error, result.attempts) == (False, "connection error", 2)


def test_concurrency_is_bounded_and_used(server):
    server.latency_s = 0.05
    client = build_client(fast_cfg(server, max_concurrency=4, timeout_s=5))
    results = run(client, [ChatRequest.user(f"m{i}") for i in range(24)])
    assert [r.text for r in results] == [f"m{i}" for i in range(24)]
    assert server.max_in_flight == 4  # never more than the limit, and the limit is reached


def test_duplicates_in_a_batch_are_sent_once(server):
    client = build_client(fast_cfg(server))
    requests = [ChatRequest.user("a"), ChatRequest.user("b"), ChatRequest.user("a"), ChatRequest.user("a")]
    results = run(client, requests)
    assert [r.text for r in results] == ["a", "b", "a", "a"]
    assert len(server.requests) == 2
    assert (client.stats.requests, client.stats.unique, client.stats.sent) == (4, 2, 2)


def test_cache_persists_across_clients_and_keys_on_model_and_prompt_version(server, tmp_path):
    cfg = fast_cfg(server, cache_path=str(tmp_path / "cache.sqlite"))
    first = run(build_client(cfg), [ChatRequest.user("hello", prompt_version="v1")])
    assert not first[0].cached and len(server.requests) == 1
    again = run(build_client(cfg), [ChatRequest.user("hello", prompt_version="v1")])
    assert again[0].cached and again[0].text == "hello" and len(server.requests) == 1  # served from disk
    run(build_client(cfg), [ChatRequest.user("hello", prompt_version="v2")])  # new prompt version: a miss
    other_model = LLMConfig(**{**cfg.__dict__, "model": "other"})
    run(build_client(other_model), [ChatRequest.user("hello", prompt_version="v1")])  # new model: a miss
    assert len(server.requests) == 3


def test_rejected_replies_are_reasked_and_never_cached(server, tmp_path):
    # The echo server repeats the prompt; we reject "bad" replies. The retry temperature is sent on re-asks.
    cfg = fast_cfg(server, cache_path=str(tmp_path / "c.sqlite"))
    client = build_client(cfg)
    results = run(
        client,
        [ChatRequest.user("bad"), ChatRequest.user("good")],
        accept=lambda req, text: "bad reply" if text == "bad" else None,
        invalid_retries=2,
        retry_temperature=0.7,
    )
    assert results[0].error == "rejected: bad reply" and results[0].attempts == 3
    assert results[1].ok
    assert [r["temperature"] for r in server.requests if r["messages"][0]["content"] == "bad"] == [0.0, 0.7, 0.7]
    assert (
        list(
            ResponseCache(tmp_path / "c.sqlite").get_many(
                [r for r in [ChatRequest.user("bad").cache_key("openai|default")]]
            )
        )
        == []
    )  # a rejected reply must never be served again from the cache
    assert len(ResponseCache(tmp_path / "c.sqlite")) == 1


def _reject_bad(request, text):
    return "bad reply" if text == "bad" else None


@pytest.mark.parametrize(
    ("first_retries", "second_retries", "second_accept", "new_calls", "error", "temperatures"),
    [
        (0, 0, _reject_bad, 0, "rejected: bad reply", []),  # its one round spent: stays rejected without a call
        (1, 1, _reject_bad, 0, "rejected: bad reply", []),  # both rounds spent in the first run
        (0, 2, _reject_bad, 2, "rejected: bad reply", [0.7, 0.7]),  # two more rounds: only those, as re-asks
        (1, 1, None, 1, None, [0.0]),  # the validator changed (accepts all): stale records, asked afresh
    ],
)
def test_a_rejected_reply_is_recorded_so_a_rerun_resumes_its_rounds(
    server, tmp_path, first_retries, second_retries, second_accept, new_calls, error, temperatures
):
    cfg = fast_cfg(server, cache_path=str(tmp_path / "c.sqlite"))
    kwargs = dict(retry_temperature=0.7)
    first = run(
        build_client(cfg), [ChatRequest.user("bad")], accept=_reject_bad, invalid_retries=first_retries, **kwargs
    )
    assert first[0].error == "rejected: bad reply" and len(server.requests) == first_retries + 1
    sent = len(server.requests)
    again = run(
        build_client(cfg), [ChatRequest.user("bad")], accept=second_accept, invalid_retries=second_retries, **kwargs
    )
    assert len(server.requests) - sent == new_calls
    assert [r["temperature"] for r in server.requests[sent:]] == temperatures
    assert again[0].error == error and again[0].text == "bad"


def test_structured_output_request_shape(server):
    schema = {"type": "object"}
    run(build_client(fast_cfg(server)), [ChatRequest.user("x", json_schema=schema)])
    run(
        build_client(fast_cfg(server, structured_output_type="json_object")),
        [ChatRequest.user("y", json_schema=schema)],
    )
    assert server.requests[0]["response_format"]["type"] == "json_schema"
    assert server.requests[0]["response_format"]["json_schema"]["schema"] == schema
    assert server.requests[1]["response_format"] == {"type": "json_object", "schema": schema}


def test_api_key_never_logged_written_or_pickled(server, tmp_path, monkeypatch, caplog):
    secret = "sk-test-SECRET-4242"
    monkeypatch.setenv("MY_JUDGE_KEY", secret)
    server.script.extend(["500", "401"])
    caplog.set_level(logging.DEBUG)
    cfg = fast_cfg(server, api_key_env="MY_JUDGE_KEY", cache_path=str(tmp_path / "k.sqlite"), max_retries=1)
    client = build_client(cfg)

    async def go():
        results = await client.agenerate([ChatRequest.user("x")])
        results += await client.agenerate([ChatRequest.user("y")])
        blob = pickle.dumps(client.backend)  # while the SDK client (holding the key) is alive
        await client.aclose()
        return results, blob

    results, blob = asyncio.run(go())
    assert results[0].error == "HTTP 401: injected 401" and results[1].ok
    assert secret not in caplog.text
    assert secret not in repr(client.backend) and secret not in repr(cfg)
    assert secret.encode() not in blob
    assert secret.encode() not in (tmp_path / "k.sqlite").read_bytes()
    assert all(secret not in str(r) for r in results)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [
        (1, None, 0.0, 0.5),  # first retry: jitter in [0, base]
        (3, None, 0.0, 2.0),  # doubles per attempt
        (10, None, 0.0, 8.0),  # capped at backoff_max_s
        (1, 3.0, 3.0, 3.0),  # a server's Retry-After is honoured ...
        (1, 100.0, 8.0, 8.0),  # ... but never beyond the cap
    ],
)
def test_backoff_bounds(attempt, retry_after, low, high):
    backend = OpenAIBackend(LLMConfig(backoff_base_s=0.5, backoff_max_s=8.0), rng=random.Random(0))
    delays = [backend.backoff(attempt, retry_after) for _ in range(200)]
    assert low <= min(delays) and max(delays) <= high


@pytest.mark.parametrize(
    ("image", "prefix"),
    [
        (b"\x89PNG\r\n\x1a\nxx", "data:image/png;base64,"),  # PNG bytes
        (b"\xff\xd8\xff\xe0xx", "data:image/jpeg;base64,"),  # JPEG magic detected
    ],
)
def test_image_data_urls(image, prefix):
    assert image_data_url(image).startswith(prefix)
    message = user_message("what is AB?", [image])
    assert message["content"][0]["image_url"]["url"].startswith(prefix)
    assert message["content"][-1] == {"type": "text", "text": "what is AB?"}


def test_image_data_url_from_pil_and_path(tmp_path):
    from PIL import Image

    img = Image.new("RGB", (4, 4))
    assert image_data_url(img).startswith("data:image/png;base64,")
    img.save(tmp_path / "fig.jpg")
    assert image_data_url(tmp_path / "fig.jpg").startswith("data:image/jpeg;base64,")
    with pytest.raises(TypeError, match="cannot encode"):
        image_data_url(3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),  # would deadlock
        ({"timeout_s": 0}, "timeout_s"),  # would fail every request
        ({"max_retries": -1}, "max_retries"),
        ({"structured_output_type": "grammar"}, "structured_output_type"),
        ({"http_transport": "h2"}, "http_transport"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LLMConfig(**kwargs)


def test_fake_server_on_a_taken_port_fails_at_once():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RuntimeError, match="did not start: "):
            FakeOpenAIServer(port=taken.getsockname()[1]).start()


def test_each_reply_is_cached_as_it_arrives_so_an_interrupted_batch_repeats_only_the_calls_in_flight(tmp_path):
    # Nine requests answer at once; the tenth hangs. The batch is cancelled (Ctrl-C, a killed step) while the tenth
    # is in flight: the nine replies must already be in the cache, and a rerun sends only the tenth again.
    requests = [ChatRequest.user(f"q{i}") for i in range(9)] + [ChatRequest.user("q9 FAULT:hangx1")]
    with FakeOpenAIServer(hang_s=20.0) as srv:
        cfg = LLMConfig(base_url=srv.base_url, timeout_s=30, max_retries=0, cache_path=str(tmp_path / "c.db"))

        async def interrupted():
            client = build_client(cfg)
            task = asyncio.create_task(client.agenerate(requests))
            probe, deadline = ResponseCache(tmp_path / "c.db"), time.monotonic() + 30
            # wait for the nine answers to be stored while the batch is still running (before the fix, nothing
            # was stored until the whole batch had finished, so this waits in vain)
            while len(probe) < 9 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await client.aclose()

        asyncio.run(interrupted())
        assert len(ResponseCache(tmp_path / "c.db")) == 9
        sent_before = len(srv.requests)
        results = run(build_client(cfg), requests)
        assert [r.ok for r in results] == [True] * 10
        assert len(srv.requests) - sent_before == 1  # only the call that was in flight is repeated


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database, just text" * 100, "not a usable reply cache"),  # a random file
        (b"SQLite format 3\x00" + b"\xff" * 4000, "not a usable reply cache"),  # a corrupt database header
    ],
)
def test_corrupt_cache_file_is_a_clear_error(tmp_path, content, message):
    from perception_r1.llm.cache import CacheError

    path = tmp_path / "cache.db"
    path.write_bytes(content)
    with pytest.raises(CacheError, match=f"cache.db: {message}"):
        ResponseCache(path).get_many(["k"])


def test_cache_path_that_is_a_folder_is_a_clear_error(tmp_path):
    from perception_r1.llm.cache import CacheError

    with pytest.raises(CacheError, match="is a folder"):
        ResponseCache(tmp_path)


def test_concurrently_created_cache_waits_instead_of_database_is_locked(tmp_path):
    # Many threads with their own connections create the same new cache file at once, then write to it.
    import threading

    path = tmp_path / "new.db"
    errors: list[BaseException] = []

    def create_and_write(i: int) -> None:
        try:
            cache = ResponseCache(path)
            cache.put_many({f"k{i}": "v"})
            cache.close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create_and_write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(ResponseCache(path)) == 8
