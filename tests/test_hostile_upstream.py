"""An upstream that misbehaves on purpose: huge error bodies, huge completions, an SSE line that never ends,
cookies. Each read is bounded and fails with a 502 (or an `error` event once streaming) naming the limit;
no cookie is ever sent back. Both the OpenAI-compatible transport and the Anthropic pass-through."""

from __future__ import annotations

import time

import pytest

from orbridge.proxy.settings import ModelMap, Upstream

from .fake_upstream import Pause, Reply, anthropic_sse, chunk, completion
from .sse_validator import parse_sse

MB = 1024 * 1024
MIN = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
# Over 16 MB of one `data:` line in 1 MB writes, then silence: only a line cap answers before the pause ends.
ENDLESS_LINE = [b"data: {\"x\": \"" + b"x" * MB] + [b"x" * MB] * 17 + [Pause(30)]


def passthrough(proxy_factory, upstream):
    return proxy_factory(upstream=Upstream(base_url=upstream.base_url.replace("/api/v1", "/api"),
                                           provider="openrouter", kind="anthropic", api_key="sk-or-pass"),
                         models=ModelMap(default="anthropic/claude-sonnet-4.5"), model_info={})


def anthropic_message(text: str) -> dict:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [
        {"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1}}


def assert_502_naming(r, limit: str) -> None:
    assert r.status_code == 502, r.text[:300]
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert limit in body["error"]["message"] and "limit" in body["error"]["message"]


@pytest.mark.parametrize("kind", ["openai", "passthrough"])
def test_upstream_cookies_are_never_sent_back(proxy_factory, upstream, kind):
    if kind == "openai":
        p = proxy_factory()
        first, second = completion("one"), completion("two")
    else:
        p = passthrough(proxy_factory, upstream)
        first, second = anthropic_message("one"), anthropic_message("two")
    upstream.script(Reply(body=first, headers={"set-cookie": "session=upstream-s3cret; Path=/"}),
                    Reply(body=second))
    assert p.post("/v1/messages", MIN).status_code == 200
    assert p.post("/v1/messages", MIN).status_code == 200
    assert len(upstream.received) == 2
    assert "cookie" not in upstream.received[1].headers


@pytest.mark.parametrize("kind", ["openai", "passthrough"])
def test_oversized_error_body_is_a_502_naming_the_limit(proxy_factory, upstream, kind):
    p = proxy_factory() if kind == "openai" else passthrough(proxy_factory, upstream)
    upstream.script(Reply(status=500, body={"error": {"message": "x" * (MB + 10)}}))
    r = p.post("/v1/messages", MIN)
    assert_502_naming(r, "1 MB")
    assert "500" in r.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["openai", "passthrough"])
def test_oversized_completion_body_is_a_502_naming_the_limit(proxy_factory, upstream, kind):
    p = proxy_factory() if kind == "openai" else passthrough(proxy_factory, upstream)
    huge = "y" * (64 * MB + 10)
    upstream.script(Reply(body=completion(huge) if kind == "openai" else anthropic_message(huge)))
    assert_502_naming(p.post("/v1/messages", MIN), "64 MB")


def test_endless_sse_line_before_the_first_chunk_is_a_502(proxy, upstream):
    upstream.script(Reply(items=ENDLESS_LINE, done=False))
    started = time.monotonic()
    r = proxy.post("/v1/messages", {**MIN, "stream": True})
    assert_502_naming(r, "16 MB")
    assert time.monotonic() - started < 20  # the upstream pauses 30 s after the line: it was not waited for


def test_endless_sse_line_mid_stream_ends_in_an_error_event(proxy, upstream):
    upstream.script(Reply(items=[chunk({"role": "assistant", "content": "Hello"}), Pause(0.5), *ENDLESS_LINE],
                          done=False))
    started = time.monotonic()
    resp, raw = proxy.stream(MIN)
    assert resp.status_code == 200
    events = parse_sse(raw)
    assert events[-1][0] == "error"
    assert "16 MB" in events[-1][1]["error"]["message"]
    assert time.monotonic() - started < 20


def test_endless_sse_line_through_the_passthrough_ends_in_an_error_event(proxy_factory, upstream):
    p = passthrough(proxy_factory, upstream)
    start = anthropic_sse("x")
    start = start[: start.index(b"event: content_block_start")]
    upstream.script(Reply(items=[start, *ENDLESS_LINE], done=False))
    started = time.monotonic()
    with p.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        raw = resp.read()
    assert raw.startswith(start)
    tail = raw[-2000:].decode("utf-8", "replace")
    assert "event: error" in tail and "16 MB" in tail
    assert time.monotonic() - started < 20

