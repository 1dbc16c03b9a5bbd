"""Model routing, model-aware limits, and upstreams that ignore the `stream` flag."""

from __future__ import annotations

import concurrent.futures
import json

import pytest

from orbridge.proxy.routing import resolve_model
from orbridge.proxy.settings import ModelInfo, ModelMap

from .fake_upstream import Pause, Reply, chunk, completion, text_stream
from .sse_validator import check

MAP = ModelMap(default="d/default", opus="o/opus", sonnet="s/sonnet", haiku="h/haiku", fable=None)


@pytest.mark.parametrize("requested,expected", [
    ("claude-opus-4-8", "o/opus"), ("claude-opus-4-8[1m]", "o/opus"), ("claude-opus-5-5", "o/opus"),
    ("claude-sonnet-5", "s/sonnet"), ("claude-3-5-sonnet-20241022", "s/sonnet"),
    ("claude-haiku-4-5-20251001", "h/haiku"), ("claude-3-5-haiku-latest", "h/haiku"),
    ("claude-fable-1", "o/opus"), ("haiku", "h/haiku"), ("opus", "o/opus"), ("claude-unknown", "d/default"),
    ("deepseek/deepseek-chat", "deepseek/deepseek-chat"), ("gpt-4o-mini", "d/default"), ("s/sonnet", "s/sonnet"),
])
def test_model_mapping(requested, expected):
    assert resolve_model(requested, MAP) == expected


MIN = {"model": "claude-sonnet-5", "max_tokens": 64000, "messages": [{"role": "user", "content": "hi"}]}
PNG = "iVBORw0KGgo="


def test_image_to_model_without_vision_is_named_400(proxy_factory, upstream):
    p = proxy_factory(model_info={"fake/sonnet": ModelInfo(vision=False)})
    body = {**MIN, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}
    r = p.post("/v1/messages", body)
    assert r.status_code == 400 and "fake/sonnet does not accept images" in r.json()["error"]["message"]
    assert upstream.chat_requests() == []


def test_max_tokens_clamped_to_context_minus_input(proxy_factory, upstream):
    p = proxy_factory(model_info={"fake/sonnet": ModelInfo(context_length=40_000, max_output=100_000)})
    upstream.script(Reply(body=completion("ok")))
    big = {**MIN, "messages": [{"role": "user", "content": "word " * 20_000}]}
    assert p.post("/v1/messages", big).status_code == 200
    sent = upstream.chat_requests()[0].body["max_tokens"]
    assert 1024 <= sent <= 21_000


def test_upstream_answering_json_to_a_stream_request(proxy, upstream):
    upstream.script(Reply(body=completion("not streamed", tool_calls=[
        {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}],
        finish="tool_calls")))
    resp, raw = proxy.stream(MIN)
    s = check(raw)
    assert [b["type"] for b in s["blocks"]] == ["text", "tool_use"]
    assert s["blocks"][1]["input"] == {"command": "ls"} and s["stop_reason"] == "tool_use"


def test_upstream_answering_sse_to_a_non_stream_request(proxy, upstream):
    upstream.script(Reply(items=[chunk({"role": "assistant", "reasoning": "hm"})] + text_stream("streamed anyway")))
    r = proxy.post("/v1/messages", MIN)
    msg = r.json()
    assert r.status_code == 200
    assert [b["type"] for b in msg["content"]] == ["thinking", "text"]
    assert msg["content"][1]["text"] == "streamed anyway" and msg["usage"]["cache_read_input_tokens"] == 100


def test_utf8_one_byte_per_network_chunk(proxy, upstream):
    text = "Zürich 東京 🚀 ok"
    args = json.dumps({"content": text}, ensure_ascii=False)
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "Write", "arguments": args}}
    raw = b"".join(b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\n\n"
                   for c in [chunk({"content": text}), chunk({"tool_calls": [call]}), chunk({}, "tool_calls")])
    items: list = []
    for i in range(len(raw)):
        items.append(raw[i:i + 1])
        if i % 40 == 0:
            items.append(Pause(0.001))
    upstream.script(Reply(items=items))
    resp, body = proxy.stream(MIN)
    s = check(body)
    assert s["blocks"][0]["text"] == text
    assert s["blocks"][1]["input"] == {"content": text}


def test_count_tokens_burst_of_50(proxy, upstream):
    body = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "count me " * 200}],
            "system": "sys", "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: proxy.post("/v1/messages/count_tokens?beta=true", body), range(50)))
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["input_tokens"] for r in results}) == 1
    assert upstream.chat_requests() == []


def test_count_tokens_counts_system_tools_tool_results_and_images(proxy):
    def count(body):
        return proxy.post("/v1/messages/count_tokens", {"model": "claude-opus-4-8", **body}).json()["input_tokens"]

    base = count({"messages": [{"role": "user", "content": "x"}]})
    assert count({"messages": [{"role": "user", "content": "x"}], "system": "long system " * 100}) > base + 150
    assert count({"messages": [{"role": "user", "content": "x"}], "tools": [
        {"name": "T", "description": "d " * 100, "input_schema": {"type": "object"}}]}) > base + 90
    assert count({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}) > base + 1000
    tool_round = [{"role": "user", "content": "x"},
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Read", "input": {}}]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r " * 300}]}]
    assert count({"messages": tool_round}) > base + 250
