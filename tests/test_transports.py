"""Each transport against fake servers on 127.0.0.1: LiteLLM (openai/ and openrouter/ model strings with
api_base), the Anthropic-format pass-through, and parity between the httpx and LiteLLM paths."""

from __future__ import annotations

import json
import sys
import time

import anthropic
import pytest

from orbridge.proxy.anthropic_openai import reasoning
from orbridge.proxy.settings import ModelMap, Upstream

from . import claude_code_requests as cc
from .conftest import TOKEN, add_profile, leave_while_the_upstream_thinks
from .fake_upstream import CUT, Pause, Reply, anthropic_sse, completion, text_stream, tool_stream
from .sse_validator import check, parse_sse

MIN = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def litellm_proxy(proxy_factory, upstream, model: str):
    return proxy_factory(upstream=Upstream(base_url=upstream.base_url, provider="litellm", kind="litellm",
                                           api_key="sk-lite-test"),
                         models=ModelMap(default=model), model_info={})


def shape(raw: bytes) -> list:
    """Events with ids removed, for comparing two paths."""
    out = []
    for name, data in parse_sse(raw):
        if name == "ping":
            continue
        data = json.loads(json.dumps(data))
        if name == "message_start":
            data["message"].pop("id")
            data["message"]["usage"].pop("input_tokens")
        out.append(data)
    return out


SCRIPT = [
    lambda: Reply(items=text_stream("Hello parity, 你好 🎉", piece=3)),
    lambda: Reply(items=tool_stream([("call_p1", "Bash", {"command": "ls -la"}),
                                     ("call_p2", "Read", {"file_path": "/tmp/x"})], piece=3, text="Both:")),
]


@pytest.mark.parametrize("prefix", ["openai/", "openrouter/"])
def test_litellm_parity_with_the_httpx_path(proxy_factory, upstream, prefix):
    direct = proxy_factory(models=ModelMap(default="fake/model"), model_info={})
    lite = litellm_proxy(proxy_factory, upstream, f"{prefix}fake/model")
    for make in SCRIPT:
        upstream.script(make())
        _, raw_direct = direct.stream(MIN)
        upstream.script(make())
        _, raw_lite = lite.stream(MIN)
        assert shape(raw_lite) == shape(raw_direct)
        sent = upstream.chat_requests()[-1]
        assert sent.path.endswith("/chat/completions") and sent.body["model"] == "fake/model"
        assert sent.headers["authorization"] == "Bearer sk-lite-test"
        assert "usage" not in sent.body or prefix == "openrouter/"


def test_litellm_non_stream_and_errors(proxy_factory, upstream):
    p = litellm_proxy(proxy_factory, upstream, "openai/fake/model")
    upstream.script(Reply(body=completion("lite answer")))
    msg = anthropic.Anthropic(base_url=p.url, api_key=TOKEN, max_retries=0).messages.create(**MIN)
    assert msg.content[0].text == "lite answer"
    for status, want, kind in ((429, 429, "rate_limit_error"), (400, 400, "invalid_request_error"),
                               (401, 403, "permission_error"), (503, 529, "overloaded_error")):
        upstream.script(Reply(status=status, body={"error": {"message": f"lite says {status}"}}))
        resp, _ = p.stream(MIN)
        assert resp.status_code == want and resp.json()["error"]["type"] == kind
        assert f"lite says {status}" in resp.json()["error"]["message"]
        assert "sk-lite-test" not in resp.text


def passthrough_proxy(proxy_factory, upstream):
    return proxy_factory(upstream=Upstream(base_url=upstream.base_url.replace("/api/v1", "/api"),
                                           provider="openrouter", kind="anthropic", api_key="sk-or-pass"),
                         models=ModelMap(default="anthropic/claude-sonnet-4.5"), model_info={})


def test_passthrough_relays_bytes_and_rewrites_only_the_model(proxy_factory, upstream):
    p = passthrough_proxy(proxy_factory, upstream)
    body_bytes = anthropic_sse("Straight from Claude.", thinking=("hmm", "EqQBgenuineSig=="))
    upstream.script(Reply(items=[body_bytes], done=False, headers={"request-id": "req_up_9"}))
    ours = reasoning.make_signature("reasoning", "x", None, [])
    body = cc.bash_turn2(cc.turn1_v332(), thinking_signature=ours)
    body["messages"][-2]["content"].insert(0, {"type": "thinking", "thinking": "real", "signature": "EqQBreal=="})
    with p.http.stream("POST", "/v1/messages?beta=true", json=body,
                       headers={"anthropic-beta": "interleaved-thinking-2025-05-14"}) as resp:
        raw = resp.read()
    assert raw == body_bytes  # byte for byte
    assert resp.headers["request-id"] == "req_up_9"
    check(raw)
    sent = upstream.received[-1]
    assert sent.path == "/api/v1/messages?beta=true"
    assert sent.body["model"] == "anthropic/claude-sonnet-4.5"
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert sent.headers["x-api-key"] == "sk-or-pass"
    assistant = sent.body["messages"][-2]["content"]
    assert [b["type"] for b in assistant] == ["thinking", "text", "tool_use"]
    assert assistant[0]["signature"] == "EqQBreal=="  # genuine kept, ours dropped
    assert sent.body["tools"] == body["tools"] and sent.body["context_management"] == body["context_management"]


def test_passthrough_non_stream_and_errors(proxy_factory, upstream):
    p = passthrough_proxy(proxy_factory, upstream)
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [
        {"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1}}
    upstream.script(Reply(body=message))
    assert anthropic.Anthropic(base_url=p.url, api_key=TOKEN, max_retries=0).messages.create(**MIN).content[0].text \
        == "ok"
    upstream.script(Reply(status=529, body={"type": "error", "error": {"type": "overloaded_error",
                                                                       "message": "Overloaded"}}))
    r = p.post("/v1/messages", MIN)
    assert r.status_code == 529 and r.json() == {"type": "error", "error": {"type": "overloaded_error",
                                                                             "message": "Overloaded"}}
    upstream.script(Reply(status=401, body={"type": "error", "error": {"type": "authentication_error",
                                                                       "message": "invalid x-api-key"}}))
    r = p.post("/v1/messages", MIN)
    assert r.status_code == 403 and "orbridge keys set openrouter" in r.json()["error"]["message"]


def test_passthrough_cut_stream_ends_in_error_event(proxy_factory, upstream):
    p = passthrough_proxy(proxy_factory, upstream)
    full = anthropic_sse("never finished")
    upstream.script(Reply(items=[full[: full.index(b"event: content_block_stop")], CUT], done=False))
    with p.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        raw = resp.read()
    events = parse_sse(raw)
    assert events[-1][0] == "error"


def test_default_profile_never_imports_litellm(home):
    add_profile(home)
    child = ("import json, os, time, urllib.request\n"
             "for _ in range(100):\n"
             "    try:\n"
             "        req = urllib.request.Request(os.environ['ANTHROPIC_BASE_URL'] + '/health',\n"
             "                                     headers={'x-api-key': os.environ['ANTHROPIC_AUTH_TOKEN']})\n"
             "        h = json.load(urllib.request.urlopen(req))\n"
             "        break\n"
             "    except OSError:\n"
             "        time.sleep(0.05)\n"
             "print(h['litellm_loaded'], h['upstream']['kind'])")
    r = home("run", "--", sys.executable, "-c", child)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "openai"]


def test_litellm_prices_what_it_knows(proxy_factory, upstream, tmp_path):

    p = litellm_proxy(proxy_factory, upstream, "openai/gpt-4o-mini")
    upstream.script(Reply(body=completion("priced", usage={"prompt_tokens": 1000, "completion_tokens": 100})))
    assert p.post("/v1/messages", MIN).status_code == 200
    time.sleep(0.05)
    rec = json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[-1])
    assert rec["cost"] > 0


def test_passthrough_count_tokens_asks_the_upstream_then_falls_back(proxy_factory, upstream):
    p = passthrough_proxy(proxy_factory, upstream)
    upstream.script(Reply(body={"input_tokens": 4242}))
    body = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "count me"}]}
    assert p.post("/v1/messages/count_tokens?beta=true", body).json() == {"input_tokens": 4242}
    sent = upstream.received[-1]
    assert sent.path == "/api/v1/messages/count_tokens" and sent.body["model"] == "anthropic/claude-sonnet-4.5"
    upstream.script(Reply(status=404, body={"error": {"message": "no such endpoint"}}))
    local = p.post("/v1/messages/count_tokens", body).json()["input_tokens"]
    assert 0 < local < 50


def test_passthrough_whole_answer_is_given_up_when_the_client_leaves(proxy_factory, upstream):
    """A non-streamed pass-through call whose client left: the upstream connection is closed, so nothing
    goes on generating (and billing) for nobody."""
    p = passthrough_proxy(proxy_factory, upstream)
    upstream.script(Reply(items=[Pause(3)], body={"type": "message"}))
    leave_while_the_upstream_thinks(p, upstream, MIN)
