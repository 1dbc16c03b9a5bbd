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



class _RawServer:
    """A loopback HTTP/1.1 server of a few lines: reads whole requests, then answers each one (`answer`
    True: 200 and the connection closed a moment later, as a keep-alive that timed out) or closes the
    connection without a word. Counts the POSTs it read."""

    def __init__(self, answer: bool) -> None:
        import socket
        import threading

        self.answer, self.posts = answer, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(
                b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            self.posts += 1
            if self.answer:
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
                time.sleep(0.2)
            conn.close()


def _post_twice(url: str) -> list:
    import asyncio

    from orbridge.proxy.errors import UpstreamError
    from orbridge.proxy.upstreams.http import Client

    async def go() -> list:
        client, out = Client(Upstream(base_url=url, provider="raw")), []
        for _ in range(2):
            try:
                response = await client.post(url + "/chat/completions", b'{"x": 1}', {"content-type": "text/plain"})
                out.append(await response.read(1000, "the body"))
                await response.aclose()
            except UpstreamError as exc:
                out.append(exc.status)
            await asyncio.sleep(0.5)  # the server closes the kept-alive connection meanwhile
        await client.aclose()
        return out

    return asyncio.run(go())


def test_a_post_is_sent_again_only_when_a_kept_alive_connection_had_closed():
    """A fresh connection that breaks after the request went out is not tried again: the upstream may be
    generating (and billing) the answer already. A pooled connection the upstream had closed is."""
    silent = _RawServer(answer=False)
    assert _post_twice(silent.url) == [502, 502]
    assert silent.posts == 2  # one each: never a second copy
    answering = _RawServer(answer=True)
    assert _post_twice(answering.url) == [b"{}", b"{}"]  # the second found its pooled connection closed


def test_waiting_for_a_pooled_connection_is_not_unreachable(upstream):
    """With every pooled connection busy, a request waits for one: past the connect timeout that is still
    no sign that nothing listens (status 0 would make the error final)."""
    import asyncio

    from orbridge.proxy.upstreams.http import Client

    upstream.script(Reply(items=[Pause(1.0), chunk({"content": "slow"})]), Reply(body=completion("second")))

    async def go() -> bytes:
        client = Client(Upstream(base_url=upstream.base_url, provider="fake", connect_timeout=0.2), max_connections=1)
        url, headers = upstream.base_url + "/chat/completions", {"content-type": "application/json"}
        first = await client.post(url, b'{"stream": true}', headers)
        reader = asyncio.ensure_future(first.read(10_000, "the stream"))
        second = await client.post(url, b"{}", headers)  # waits about a second for the only connection
        body = await second.read(10_000, "the body")
        await reader
        for response in (first, second):
            await response.aclose()
        await client.aclose()
        return body

    assert b"second" in asyncio.run(go())
