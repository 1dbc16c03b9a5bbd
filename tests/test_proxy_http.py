"""The real app under uvicorn, the fake upstream over HTTP, the official SDK or raw httpx as client."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import pytest

from . import claude_code_requests as cc
from .conftest import TOKEN, leave_while_the_upstream_thinks
from .fake_upstream import CUT, USAGE, Pause, Reply, chunk, completion, text_stream, tool_stream
from .sse_validator import check, parse_sse

MIN = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def sdk(proxy, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=TOKEN, max_retries=0, **kw)


def test_claude_code_v332_turn_one_upstream_call(proxy, upstream):
    upstream.script(Reply(items=text_stream("Hi! How can I help?")))
    resp, raw = proxy.stream(cc.turn1_v332(), params={"beta": "true"})
    assert resp.status_code == 200
    s = check(raw)
    assert s["blocks"] == [{"type": "text", "text": "Hi! How can I help?"}]
    assert len(upstream.chat_requests()) == 1
    sent = upstream.chat_requests()[0]
    assert sent.body["model"] == "fake/opus"
    assert sent.body["max_tokens"] == 32000  # clamped to fake/opus's known output cap
    assert sent.headers["authorization"] == "Bearer sk-or-test"
    assert sent.headers["x-title"] == "orbridge"


def test_bash_round_trip_with_sdk(proxy, upstream):
    upstream.script(Reply(items=tool_stream([("call_1", "Bash", {"command": "echo hello"})], text="Run:")),
                    Reply(items=text_stream("It printed hello.")))
    client = sdk(proxy)
    body = cc.turn1_v197("run echo hello")
    del body["stream"]
    extra = {k: body.pop(k) for k in ("context_management", "output_config", "messages")}
    body["messages"] = [m for m in extra.pop("messages") if m["role"] != "system"]
    body["extra_body"] = extra
    with client.messages.stream(**body) as s:
        first = s.get_final_message()
    assert first.stop_reason == "tool_use"
    use = first.content[1]
    assert (use.type, use.name, use.input) == ("tool_use", "Bash", {"command": "echo hello"})
    body["messages"] += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                                       "content": "hello"}]}]
    with client.messages.stream(**body) as s:
        second = s.get_final_message()
    assert second.content[0].text == "It printed hello."
    reqs = upstream.chat_requests()
    assert len(reqs) == 2
    assert reqs[1].body["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "hello"}


def test_non_streaming_create(proxy, upstream):
    upstream.script(Reply(body=completion("Plain answer.")))
    raw = sdk(proxy).messages.with_raw_response.create(**MIN)
    msg = raw.parse()
    assert msg.content[0].text == "Plain answer." and msg.stop_reason == "end_turn"
    assert msg.id.startswith("msg_")
    assert raw.headers["request-id"] == "req_" + msg.id[4:]  # as on every Anthropic answer (the SDK reads it)
    assert "stream" not in upstream.chat_requests()[0].body


def test_count_tokens_locally(proxy, upstream):
    n = sdk(proxy).messages.count_tokens(model="claude-opus-4-8", messages=[{"role": "user", "content": "foo"}])
    assert 0 < n.input_tokens < 20
    big = cc.turn1_v197()
    for key in ("metadata", "max_tokens", "thinking", "context_management", "output_config", "stream"):
        big.pop(key)
    r = proxy.post("/v1/messages/count_tokens?beta=true", big)
    assert r.status_code == 200 and r.json()["input_tokens"] > n.input_tokens + 200
    assert upstream.chat_requests() == []


def test_auth_both_headers_and_rejections(proxy, upstream):
    upstream.script(Reply(body=completion("ok"), repeat=True))
    bearer = httpx.post(proxy.url + "/v1/messages", json=MIN, headers={"authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
        r = httpx.post(proxy.url + "/v1/messages?beta=true", json=MIN, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"
        assert r.headers["x-should-retry"] == "false"


def test_probes_models_health(proxy):
    assert httpx.head(proxy.url + "/").status_code == 200
    assert httpx.get(proxy.url + "/api/hello").status_code == 200
    assert httpx.get(proxy.url + "/health").json() == {"status": "ok"}  # nothing about the setup without the token
    assert httpx.get(proxy.url + "/health", headers={"x-api-key": "wrong"}).json() == {"status": "ok"}
    health = proxy.http.get("/health").json()
    assert health["upstream"]["provider"] == "openrouter" and health["models"]["opus"] == "fake/opus"
    assert "sk-or-test" not in json.dumps(health)
    models = proxy.http.get("/v1/models").json()["data"]
    assert all("claude" in m["id"] for m in models) and len(models) == 4
    assert proxy.http.get("/nope").json()["error"]["type"] == "not_found_error"


def test_foreign_host_and_origin_refused(proxy):
    r = proxy.http.post("/v1/messages", json=MIN, headers={"host": "evil.example"})
    assert r.status_code == 403
    r = proxy.http.post("/v1/messages", json=MIN, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["type"] == "error"


ERRORS = [
    (400, {}, 400, "invalid_request_error", "false"),
    (402, {}, 400, "invalid_request_error", "false"),
    (404, {}, 404, "not_found_error", "false"),
    (413, {}, 413, "request_too_large", "false"),
    (422, {}, 400, "invalid_request_error", "false"),
    (429, {"retry-after": "7"}, 429, "rate_limit_error", None),
    (429, {}, 429, "rate_limit_error", None),
    (500, {}, 500, "api_error", None),
    (502, {}, 502, "api_error", None),
    (503, {}, 529, "overloaded_error", None),
    (529, {}, 529, "overloaded_error", None),
]


@pytest.mark.parametrize("status,headers,want_status,want_type,should_retry", ERRORS)
@pytest.mark.parametrize("stream", [True, False])
def test_upstream_errors_mapped(proxy, upstream, status, headers, want_status, want_type, should_retry,
                                stream):
    upstream.script(Reply(status=status, headers=headers,
                          body={"error": {"message": f"upstream says {status}", "code": status}}))
    if stream:
        resp, _ = proxy.stream(MIN)
    else:
        resp = proxy.post("/v1/messages", MIN)
    assert resp.status_code == want_status
    err = resp.json()
    assert err["type"] == "error" and err["error"]["type"] == want_type
    assert f"upstream says {status}" in err["error"]["message"]
    assert resp.headers.get("x-should-retry") == should_retry
    assert resp.headers.get("retry-after") == headers.get("retry-after")


def test_upstream_key_rejected_is_final_and_names_the_fix(proxy, upstream):
    upstream.script(Reply(status=401, body={"error": {"message": "User not found.", "code": 401}}))
    resp, _ = proxy.stream(MIN)
    assert resp.status_code != 401
    assert resp.headers["x-should-retry"] == "false"
    message = resp.json()["error"]["message"]
    assert "orbridge keys set openrouter" in message and "User not found." in message


def test_context_overflow_uses_anthropic_wording(proxy, upstream):
    text = ("This endpoint's maximum context length is 131072 tokens. However, you requested about "
            "140000 tokens.")
    upstream.script(Reply(status=400, body={"error": {"message": text, "code": 400}}))
    resp, _ = proxy.stream(MIN)
    message = resp.json()["error"]["message"]
    assert message.startswith("prompt is too long: 140000 tokens > 131072 maximum")
    assert text in message


def test_html_error_page(proxy, upstream):
    upstream.script(Reply(status=502, body="<html><title>502 Bad Gateway</title></html>",
                          headers={"content-type": "text/html"}))
    resp, _ = proxy.stream(MIN)
    assert resp.status_code == 502 and "502 Bad Gateway" in resp.json()["error"]["message"]


def test_mid_stream_error_event(proxy, upstream):
    upstream.script(Reply(items=[chunk({"content": "partial "}), Pause(0.4),
                                 {"error": {"message": "Provider returned error", "code": 502}}]))
    resp, raw = proxy.stream(MIN)
    s = check(raw)
    assert resp.status_code == 200
    assert s["error"]["type"] == "api_error" and "Provider returned error" in s["error"]["message"]


def test_error_chunk_before_content_gets_a_real_status(proxy, upstream):
    upstream.script(Reply(items=[": OPENROUTER PROCESSING", {"error": {"message": "Rate limited", "code": 429}}]))
    resp, _ = proxy.stream(MIN)
    assert resp.status_code == 429 and resp.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("where", ["mid_text", "mid_tool_args"])
def test_cut_connection_ends_in_error_event(proxy, upstream, where):
    if where == "mid_text":
        items = [chunk({"content": "Hello "}), Pause(0.4), chunk({"content": "wor"}), CUT]
    else:
        items = tool_stream([("c1", "Write", {"file_path": "/x", "content": "y" * 50})])[:6] + [Pause(0.4), CUT]
    upstream.script(Reply(items=items))
    resp, raw = proxy.stream(MIN)
    s = check(raw)
    assert s["error"] is not None and s["stop_reason"] is None


def test_cut_before_any_chunk_is_502(proxy, upstream):
    upstream.script(Reply(items=[": OPENROUTER PROCESSING", CUT]))
    resp, _ = proxy.stream(MIN)
    assert resp.status_code == 502 and resp.json()["error"]["type"] == "api_error"


def test_unreachable_upstream(proxy_factory, upstream):
    from orbridge.proxy.settings import Upstream

    p = proxy_factory(upstream=Upstream(base_url="http://127.0.0.1:9/v1", provider="openrouter"))
    for stream in (True, False):
        resp = p.stream(MIN)[0] if stream else p.post("/v1/messages", MIN)
        # Never answered in this run: a configuration problem, final, naming the URL and the next step.
        assert resp.status_code == 502 and resp.headers["x-should-retry"] == "false"
        message = resp.json()["error"]["message"]
        assert "nothing answers at http://127.0.0.1:9/v1 — is the server running?" in message
        assert "orbridge doctor" in message


def test_a_connection_that_is_accepted_then_dropped_is_retryable(proxy_factory):
    """Something listens there: a dropped connection is a blip, not "nothing answers"."""
    import socket
    import threading

    from orbridge.proxy.settings import Upstream

    listener = socket.create_server(("127.0.0.1", 0))

    def drop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    threading.Thread(target=drop, daemon=True).start()
    try:
        p = proxy_factory(upstream=Upstream(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1",
                                            provider="openrouter"), check_upstream=False)
        resp = p.post("/v1/messages", MIN)
        assert resp.status_code == 502 and "x-should-retry" not in resp.headers, resp.text
        assert "nothing answers" not in resp.json()["error"]["message"]
    finally:
        listener.close()


def test_unreachable_after_answering_is_retryable(proxy_factory):
    import http.server
    import threading

    from orbridge.proxy.settings import Upstream

    class Once(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps(completion("hi")).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Once)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    p = proxy_factory(upstream=Upstream(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                                        provider="openrouter"))
    assert p.post("/v1/messages", MIN).status_code == 200
    server.shutdown()
    server.server_close()  # the upstream goes away after having answered: a blip, Claude Code's retries are right
    resp = p.post("/v1/messages", MIN)
    assert resp.status_code == 502 and "x-should-retry" not in resp.headers, resp.text
    assert "nothing answers at" in resp.json()["error"]["message"]


def test_utf8_split_across_network_chunks(proxy, upstream):
    text = "日本語のテキスト 🎉🚀 émoji"
    data = b"data: " + json.dumps(chunk({"content": text}), ensure_ascii=False).encode() + b"\n\n"
    cjk = data.index("本".encode())
    emoji = data.index("🎉".encode())
    pieces = [data[:cjk + 1], data[cjk + 1:emoji + 2], data[emoji + 2:]]
    items: list = [chunk({"role": "assistant"})]
    for p in pieces:
        items += [p, Pause(0.05)]
    items += [b"".join(bytes([x]) for x in b"data: ") + b'{"choices":[{"index":0,"delta":{"content":"\xc3',
              b'\xa9"},"finish_reason":null}]}\n\n', chunk({}, "stop")]
    upstream.script(Reply(items=items))
    resp, raw = proxy.stream(MIN)
    s = check(raw)
    assert s["blocks"][0]["text"] == text + "é"


def test_silent_upstream_gets_pings_then_answer(proxy, upstream):
    upstream.script(Reply(items=[": OPENROUTER PROCESSING", Pause(2.0)] + text_stream("late answer")))
    resp, raw = proxy.stream(MIN)
    names = [n for n, _ in parse_sse(raw)]
    assert names.count("ping") >= 3  # ping_interval is 0.5 s in tests
    assert check(raw)["blocks"][0]["text"] == "late answer"


def test_client_disconnect_cancels_upstream(proxy, upstream):
    items = [chunk({"content": "tick "})]
    for _ in range(60):
        items += [Pause(0.1), chunk({"content": "tick "})]
    upstream.script(Reply(items=items + [chunk({}, "stop")]))
    before = upstream.disconnects
    with proxy.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        for _ in resp.iter_bytes():
            break
    deadline = time.time() + 3
    while upstream.disconnects == before and time.time() < deadline:
        time.sleep(0.05)
    assert upstream.disconnects == before + 1


BAD = [
    (b"{not json", "invalid JSON"),
    # Strict JSON, as Anthropic's API reads it (Python's json would take NaN and pass it on):
    (b'{"model": "m", "max_tokens": 5, "temperature": NaN, "messages": [{"role": "user", "content": "x"}]}',
     "NaN is not valid JSON"),
    (b'{"model": "m", "max_tokens": 5, "top_p": -Infinity, "messages": [{"role": "user", "content": "x"}]}',
     "-Infinity is not valid JSON"),
    (b'{"model": "m", "max_tokens": 5, "temperature": 1e400, "messages": [{"role": "user", "content": "x"}]}',
     "1e400 is out of range"),
    (b"[" * 100_000, "invalid JSON (nested too deeply)"),
    (b"", "empty body"),
    (b"[]", "expected a JSON object"),
    (json.dumps({"max_tokens": 5, "messages": []}).encode(), "model: field required"),
    (json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}).encode(),
     "max_tokens: field required"),
    (json.dumps({"model": "m", "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]}).encode(),
     "max_tokens: expected an integer"),
    (json.dumps({"model": "m", "max_tokens": 5}).encode(), "messages: field required"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]}).encode(),
     "messages.0.role"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "hologram"}]}]}).encode(), "messages.0.content.0.type"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "@@@"}}]}]}).encode(),
     "invalid base64"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]}).encode(), "tool_use_id"),
    # Found by the fuzz suite (a list where a string belongs crashed validation with a 500):
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": ["user"], "content": "x"}]}).encode(),
     "messages.0.role"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": ["text"], "text": "x"}]}]}).encode(), "messages.0.content.0.type"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": {}, "data": "AA=="}}]}]}).encode(),
     "media_type"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                 "tool_choice": {"type": "tool", "name": ["x"]}}).encode(), "tool_choice.name"),
    (json.dumps({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": "no result"}]}).encode(), "without `tool_result`"),
]


@pytest.mark.parametrize("raw,fragment", BAD)
def test_bad_input_is_named_400(proxy, upstream, raw, fragment):
    r = proxy.http.post("/v1/messages", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert fragment in err["error"]["message"]
    assert upstream.chat_requests() == []


def test_body_over_limit_is_413(proxy_factory):
    p = proxy_factory(max_body_bytes=1000)
    r = p.post("/v1/messages", {**MIN, "messages": [{"role": "user", "content": "x" * 2000}]})
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"


def test_request_log_line_without_secrets(proxy, upstream, tmp_path):
    upstream.script(Reply(items=text_stream("logged")))
    proxy.stream(MIN, headers={"x-claude-code-session-id": "sess-42"})
    time.sleep(0.1)
    lines = (tmp_path / "requests.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    assert rec["session"] == "sess-42" and rec["model"] == "claude-sonnet-5"
    assert rec["upstream_model"] == "fake/sonnet" and rec["status"] == 200 and rec["stream"] is True
    assert rec["cache_read_input_tokens"] == 100 and rec["cost"] == USAGE["cost"]
    assert rec["ttft_ms"] is not None
    text = "\n".join(lines)
    assert "sk-or-test" not in text and TOKEN not in text and '"hi"' not in text


def test_client_disconnect_cancels_non_stream_upstream(proxy, upstream):
    upstream.script(Reply(items=[Pause(3)], body=completion("too late")))
    leave_while_the_upstream_thinks(proxy, upstream, MIN)


def test_log_bodies_is_opt_in_and_private(proxy_factory, upstream, tmp_path):
    import stat

    path = tmp_path / "bodies.jsonl"
    p = proxy_factory(log_bodies_path=path)
    upstream.script(Reply(body=completion("ok")))
    assert p.post("/v1/messages", MIN, headers={"x-claude-code-session-id": "s-9"}).status_code == 200
    rec = json.loads(path.read_text().splitlines()[-1])
    assert rec["session"] == "s-9" and rec["body"]["messages"] == MIN["messages"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "messages" not in (tmp_path / "requests.jsonl").read_text()


def test_other_methods_on_the_messages_route_are_405_in_the_envelope(proxy):
    """POST /v1/messages is dispatched past Starlette's router; the rest still goes through it."""
    for method in ("GET", "PUT", "DELETE"):
        r = proxy.http.request(method, "/v1/messages")
        assert r.status_code == 405, method
        assert r.json()["error"] == {"type": "invalid_request_error", "message": "Method not allowed"}


def test_a_lone_surrogate_from_the_client_reaches_the_upstream_escaped(proxy, upstream):
    """JavaScript's JSON.stringify writes an emoji cut in half as a lone \\ud83d escape: valid JSON that
    Python reads into a str UTF-8 cannot encode. It goes on escaped, never as an internal error."""
    upstream.script(Reply(body=completion("ok")))
    raw = b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "cut \\ud83d here"}]}'
    r = proxy.http.post("/v1/messages", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert upstream.chat_requests()[0].body["messages"][-1]["content"] == "cut \ud83d here"
