"""What leaves the proxy: keys masked however an upstream spells them, unexpected failures in the Anthropic
envelope (one traceback, one log line), cancellations logged, hostile client headers refused cleanly."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest

from orbridge.proxy.app import create_app
from orbridge.proxy.redaction import Redactor, safe_url
from orbridge.proxy.server import ProxyServer, bind
from orbridge.proxy.settings import Upstream

from .conftest import TOKEN, Proxy, make_settings
from .fake_upstream import Pause, Reply, chunk
from .sse_validator import parse_sse

KEY = "sk-or-test"  # make_settings' key
MIN = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def escaped(key: str) -> str:
    """The key as a hostile upstream could spell it inside JSON text."""
    return "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(key)).replace("-", "\\u002D")


def test_redactor_spellings():
    r = Redactor(["sk-or-v1/abcdef123456", None, "short"])
    for text in ("sk-or-v1/abcdef123456", "sk-or-v1\\/abcdef123456", escaped("sk-or-v1/abcdef123456")):
        out = r(f"bad key: {text}!")
        assert "abcdef" not in out and "sk-o…3456" in out, out
    assert r("short is not masked") == "short is not masked"
    assert r("see https://user:pa55word@gw.example/v1 now") == "see https://gw.example/v1 now"
    assert safe_url("http://u:p@127.0.0.1:8/v1") == "http://127.0.0.1:8/v1"
    assert safe_url("http://127.0.0.1:8/v1") == "http://127.0.0.1:8/v1"


def records(tmp_path) -> list[dict]:
    time.sleep(0.05)
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("reply", [
    Reply(status=401, body={"error": {"message": "bad key " + escaped(KEY)}}),
    Reply(status=400, body="plain text quoting sk-or-test as is"),
    Reply(status=200, body="not json at all: sk-or-test", headers={"content-type": "application/json"}),
    Reply(status=200, items=[chunk({"content": "x"}), {"error": {"message": "died, key " + escaped(KEY)}}]),
])
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_quoting_the_key(proxy, upstream, tmp_path, reply, stream):
    upstream.script(reply)
    if stream:
        resp, raw = proxy.stream(MIN)
        text = raw.decode()
    else:
        resp = proxy.post("/v1/messages", MIN)
        text = resp.text
    assert resp.status_code >= 400 or "event: error" in text
    assert KEY not in text and KEY not in json.dumps(records(tmp_path))
    assert KEY not in text.encode().decode("unicode_escape")  # nor any escaped spelling of it


class Raising:
    """A transport whose failure is a bug of ours, not an upstream error."""

    def __init__(self, after_chunk: bool = False) -> None:
        self.after_chunk = after_chunk

    async def open_stream(self, body):
        if not self.after_chunk:
            raise RuntimeError("boom")
        return self

    async def __aiter__(self):
        yield chunk({"role": "assistant", "content": "partial"})
        raise RuntimeError("boom mid-stream")

    async def complete(self, body):
        raise RuntimeError("boom")

    async def aclose(self):
        pass


def serve(settings, transport) -> Proxy:
    return Proxy(ProxyServer(settings, bind(), app=create_app(settings, transport)).start())


def test_unexpected_exception_is_an_anthropic_error(upstream, tmp_path, caplog):
    settings = make_settings(upstream, tmp_path, check_upstream=False)
    p = serve(settings, Raising())
    try:
        with caplog.at_level(logging.ERROR):
            for resp in (p.post("/v1/messages", MIN), p.stream(MIN)[0]):
                assert resp.status_code == 500
                assert resp.json() == {"type": "error", "error": {
                    "type": "api_error", "message": "orbridge internal error: RuntimeError"}}
        traces = [r for r in caplog.records if r.exc_info]
        assert len(traces) == 2  # one per request, not two
        assert [r["status"] for r in records(tmp_path)] == [500, 500]
    finally:
        p.http.close()
        p.server.stop()


def test_unexpected_exception_mid_stream_ends_in_an_error_event(upstream, tmp_path):
    settings = make_settings(upstream, tmp_path, check_upstream=False)
    p = serve(settings, Raising(after_chunk=True))
    try:
        resp, raw = p.stream(MIN)
        events = [e for e, _ in parse_sse(raw)]
        assert resp.status_code == 200 and events[-1] == "error"
        assert records(tmp_path)[-1]["error_type"] == "api_error"  # status stays the 200 the client got
    finally:
        p.http.close()
        p.server.stop()


def test_client_cancel_is_logged(proxy, upstream, tmp_path):
    upstream.script(Reply(items=[chunk({"role": "assistant", "content": "one"}),
                                 chunk({"content": "two"}, usage={"prompt_tokens": 7, "completion_tokens": 2}),
                                 Pause(5), chunk({}, "stop")]))
    with proxy.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        for line in resp.iter_lines():
            if "two" in line:
                break
    deadline = time.time() + 5
    while time.time() < deadline and not (tmp_path / "requests.jsonl").exists():
        time.sleep(0.05)
    rec = records(tmp_path)[-1]
    assert rec["status"] == 499 and rec["error_type"] == "cancelled"
    assert rec["input_tokens"] == 7


def test_passthrough_refuses_non_ascii_beta_header(proxy_factory, upstream):
    p = proxy_factory(upstream=Upstream(base_url=upstream.base_url, provider="anthropic", kind="anthropic",
                                        api_key="sk-ant-test-123"))
    resp = p.http.post("/v1/messages", json=MIN, headers={"anthropic-beta": "caf\xe9".encode("latin-1")})
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"
    assert "anthropic-beta" in resp.json()["error"]["message"]


def test_health_hides_url_userinfo(proxy_factory, upstream):
    url = upstream.base_url.replace("http://", "http://user:s3cretpass@")
    p = proxy_factory(upstream=Upstream(base_url=url, provider="custom"))
    assert httpx.get(p.url + "/health").json() == {"status": "ok"}
    health = p.http.get("/health", headers={"x-api-key": TOKEN}).json()
    assert "s3cretpass" not in json.dumps(health) and health["upstream"]["base_url"] == upstream.base_url


PT_KEY = "sk-ant-passthrough-key-0042"


def passthrough(proxy_factory, upstream):
    return proxy_factory(upstream=Upstream(base_url=upstream.base_url.replace("/api/v1", ""), provider="anthropic",
                                           kind="anthropic", api_key=PT_KEY))


@pytest.mark.parametrize("items", [
    # the key JSON-escaped inside an error event
    [b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":1}}}\n\n',
     b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"bad key '
     + escaped(PT_KEY).encode() + b'"}}\n\n'],
    # the key cut across two network chunks
    [b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"bad key ' + PT_KEY[:9].encode(),
     Pause(0.2), PT_KEY[9:].encode() + b'"}}\n\n'],
    # the JSON-escaped key cut between its backslash and its `u`
    [b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"bad key \\',
     Pause(0.2), b"u0073" + PT_KEY[1:].encode() + b'"}}\n\n'],
])
def test_passthrough_stream_never_relays_the_key(proxy_factory, upstream, items):
    p = passthrough(proxy_factory, upstream)
    upstream.script(Reply(items=items, done=False))
    with p.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        raw = resp.read()
    text = raw.decode()
    assert PT_KEY not in text and PT_KEY not in text.encode().decode("unicode_escape"), text  # nor escaped
    assert "event: error" in text  # the event itself still reaches the client


def test_passthrough_whole_answer_never_relays_the_key(proxy_factory, upstream):
    p = passthrough(proxy_factory, upstream)
    for quoted in (PT_KEY, escaped(PT_KEY)):
        upstream.script(Reply(body={"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                                    "content": [{"type": "text", "text": f"your key is {quoted}"}],
                                    "stop_reason": "end_turn", "stop_sequence": None,
                                    "usage": {"input_tokens": 3, "output_tokens": 1}}))
        resp = p.post("/v1/messages", MIN)
        assert resp.status_code == 200 and resp.json()["type"] == "message"
        assert PT_KEY not in resp.text and PT_KEY not in resp.text.encode().decode("unicode_escape"), resp.text


def test_passthrough_malformed_event_ends_with_an_error_event(proxy_factory, upstream, tmp_path):
    p = passthrough(proxy_factory, upstream)
    upstream.script(Reply(items=[b"event: message_start\ndata: []\n\n",
                                 b'event: message_delta\ndata: {"delta": "x", "usage": 5}\n\n'], done=False))
    with p.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        raw = resp.read()
    assert resp.status_code == 200 and b"event: error" in raw  # cut short of message_delta's stop reason
    assert records(tmp_path)[-1]["status"] == 200 and records(tmp_path)[-1]["error_type"] == "api_error"


def test_passthrough_malformed_error_body_is_the_upstreams_status(proxy_factory, upstream):
    p = passthrough(proxy_factory, upstream)
    upstream.script(Reply(status=400, body={"type": "error", "error": "boom"}))
    resp = p.post("/v1/messages", MIN)
    assert resp.status_code == 400 and resp.headers["x-should-retry"] == "false"
    assert "boom" in resp.json()["error"]["message"]


def test_serve_log_handlers_survive_uvicorn_and_redact(upstream, tmp_path, capfd):
    from orbridge.cli.serve import _redact_logs
    from orbridge.proxy.server import build_config

    settings = make_settings(upstream, tmp_path, extra_secrets=("AIzaGeminiKeyFromTheEnv123",))
    _redact_logs(settings)
    build_config(create_app(settings), log_config=None).configure_logging()  # what run_forever does
    for name in ("uvicorn.error", "orbridge.proxy"):
        logging.getLogger(name).error("boom with %s and AIzaGeminiKeyFromTheEnv123 and %s", KEY, TOKEN)
    err = capfd.readouterr().err
    assert err.count("boom with") == 2
    assert KEY not in err and TOKEN not in err and "AIzaGeminiKeyFromTheEnv123" not in err


def test_the_redactor_knows_every_key_orbridge_can_see(monkeypatch, tmp_path):
    from orbridge.cli.child_env import held_keys

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaGeminiKeyFromTheEnv123")
    monkeypatch.setenv("SHLVL", "1")
    held = held_keys("sk-in-use-0000000")
    assert {"AIzaGeminiKeyFromTheEnv123", "sk-in-use-0000000"} <= held and "1" not in held
