"""The listening socket without a token: slow or endless request heads, idle connections beyond the cap,
and an open-file limit that idle connections must not exhaust. Real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from orbridge.proxy.server import Limits, ProxyServer, bind

from .conftest import ORBRIDGE, TOKEN, Proxy, add_profile, make_settings
from .fake_upstream import Pause, Reply, text_stream

MIN = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
PARTIAL_HEAD = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@pytest.fixture
def guarded(upstream, tmp_path):
    started: list[Proxy] = []

    def start(**limits) -> Proxy:
        server = ProxyServer(make_settings(upstream, tmp_path), bind(), quiet=True,
                             limits=Limits(**{"head_timeout": 1.0, **limits})).start()
        started.append(Proxy(server))
        return started[-1]

    yield start
    for p in started:
        p.http.close()
        p.server.stop()


def connect(proxy: Proxy) -> socket.socket:
    return socket.create_connection((proxy.server.host, proxy.server.port), timeout=10)


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True when the server closes (EOF or reset) within `timeout`; any bytes it sends first are skipped."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_a_head_that_never_ends_is_closed_within_the_timeout(guarded):
    p = guarded(head_timeout=1.0)
    silent, slow = connect(p), connect(p)
    slow.sendall(PARTIAL_HEAD)
    started = time.monotonic()
    for _ in range(4):  # a byte now and then does not extend the deadline
        time.sleep(0.2)
        slow.sendall(b"a")
    assert closed_by_server(slow, 6)
    assert closed_by_server(silent, 6)
    assert time.monotonic() - started < 6
    assert p.http.get("/v1/models").status_code == 200
    silent.close()
    slow.close()


def test_a_slow_but_complete_head_and_body_are_served(guarded):
    p = guarded(head_timeout=1.0)
    s = connect(p)
    body = b'{"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}'
    s.sendall(f"POST /v1/messages/count_tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {TOKEN}\r\n"
              f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode())
    time.sleep(1.5)  # the head is complete: the body may take longer than the head timeout
    s.sendall(body)
    s.settimeout(10)
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    s.close()


def test_an_oversized_head_gets_431_or_is_closed_and_memory_stays_flat(guarded):
    p = guarded()
    s = connect(p)
    s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n")
    s.settimeout(10)
    try:
        answer = s.recv(65536)
    except ConnectionResetError:
        answer = b""
    if answer:
        assert answer.startswith(b"HTTP/1.1 431")
        assert b'"type":"error"' in answer and b"64 KB" in answer
    s.close()
    assert p.http.get("/v1/models").status_code == 200

    # An endless header: the connection is cut long before it is all sent, and nothing is kept.
    rss = psutil.Process().memory_info().rss
    s = connect(p)
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
    sent = 0
    piece = b"c" * 65536
    try:
        while sent < 200 * 1024 * 1024:
            s.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    assert sent < 32 * 1024 * 1024  # the socket buffers take a few MB; the server stopped reading at 64 KB
    assert psutil.Process().memory_info().rss - rss < 64 * 1024 * 1024
    assert p.http.get("/v1/models").status_code == 200


def _refused_as_too_large(s: socket.socket) -> bool:
    """The server answered 431 (and closed), or closed without a word; never served the head."""
    s.settimeout(10)
    try:
        answer = s.recv(65536)
    except ConnectionResetError:
        return True
    return answer == b"" or answer.startswith(b"HTTP/1.1 431")


def test_a_head_sent_in_pieces_is_capped_like_one_sent_at_once(guarded):
    """The cap counts every piece of a head, the first included (its count was once reset by the parser's
    message-begin callback, so a 100 KB head in two pieces was served), on a connection's first request and
    on a later one."""
    p = guarded()
    head = b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n"
    s = connect(p)
    s.sendall(head[:60_000])
    time.sleep(0.2)
    s.sendall(head[60_000:])
    assert _refused_as_too_large(s)
    s.close()

    s = connect(p)  # a kept-alive connection: one small request answered, then the oversized head
    s.sendall(f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {TOKEN}\r\n\r\n".encode())
    s.settimeout(10)
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    s.sendall(head[:60_000])
    time.sleep(0.2)
    s.sendall(head[60_000:])
    assert _refused_as_too_large(s)
    s.close()
    assert p.http.get("/v1/models").status_code == 200


def _answers(s: socket.socket, until: bytes, timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    got = b""
    try:
        while until not in got:
            data = s.recv(65536)
            if not data:
                break
            got += data
    except (ConnectionResetError, TimeoutError):
        pass
    return got


def test_a_pipelined_head_is_capped_too(guarded):
    """A request and the start of an oversized next head in one write: the bytes after the first message are
    charged to the next head (all but at most one 16 KB parser slice), so it is refused, not served."""
    p = guarded()
    small = f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {TOKEN}\r\n\r\n".encode()
    big = b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n"
    s = connect(p)
    s.sendall(small + big[:60_000])
    time.sleep(0.2)
    try:
        s.sendall(big[60_000:])
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = _answers(s, b"431")
    assert got.startswith(b"HTTP/1.1 200")  # the first request is answered
    assert got.count(b"HTTP/1.1 200") == 1 and (b"HTTP/1.1 431" in got or got.endswith(b"}"))
    s.close()


def test_a_legitimate_pipelined_pair_at_the_cap_is_served(guarded, upstream):
    """A body that ends near the head budget, with a small second request right behind it in the same
    write: both are answered (the second head was once taken for an oversized first one)."""
    p = guarded()
    def post_of(pad: int) -> bytes:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}], "pad": "p" * pad})
        return (f"POST /v1/messages/count_tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {TOKEN}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n{body}").encode()

    post = post_of(65_000)
    post = post_of(65_000 + 65_511 - len(post))  # the second head straddles the first 64 KB of the write
    assert len(post) == 65_511
    get = f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {TOKEN}\r\n\r\n".encode()
    s = connect(p)
    s.sendall(post + get)
    got = _answers(s, b"claude-haiku-orbridge")
    assert got.count(b"HTTP/1.1 200") == 2, got[:300]
    s.close()


def test_stray_line_ends_on_a_kept_alive_connection_start_the_head_clock(guarded):
    p = guarded(keep_alive=30)
    s = connect(p)
    s.sendall(f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {TOKEN}\r\n\r\n".encode())
    assert _answers(s, b"claude-haiku-orbridge").startswith(b"HTTP/1.1 200")
    s.sendall(b"\r\n")  # the parser skips it without starting a message
    assert closed_by_server(s, 5)  # head_timeout is 1 s here; the keep-alive 30 s
    s.close()


def test_idle_connections_beyond_the_cap_do_not_stop_a_real_request(guarded, upstream):
    p = guarded(max_connections=8, head_timeout=30)
    upstream.script(Reply(items=[*text_stream("streamed through", piece=4)[:3], Pause(1.5),
                                 *text_stream("streamed through", piece=4)[3:]]))
    with p.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as streaming:
        idle = [connect(p) for _ in range(20)]
        for s in idle[::2]:
            s.sendall(PARTIAL_HEAD)
        time.sleep(0.2)
        assert p.http.get("/v1/models").status_code == 200
        upstream.script(Reply(items=text_stream("second")))
        r = p.post("/v1/messages", MIN)
        assert r.status_code == 200 and r.json()["content"][0]["text"] == "second"
        raw = streaming.read()
    assert streaming.status_code == 200 and b"streamed through"[:4] in raw and b"message_stop" in raw
    assert sum(closed_by_server(s, 0.5) for s in idle) >= 10  # the oldest idle ones made room
    for s in idle:
        s.close()


def test_a_connection_over_the_cap_with_none_idle_is_closed_fast(guarded, upstream):
    p = guarded(max_connections=2, head_timeout=30)
    upstream.script(Reply(items=[text_stream("a")[0], Pause(2)] + text_stream("a")[1:], repeat=True))
    clients = [httpx.Client(base_url=p.url, timeout=20, headers={"x-api-key": TOKEN}) for _ in range(2)]
    streams = [c.stream("POST", "/v1/messages", json={**MIN, "stream": True}) for c in clients]
    responses = [s.__enter__() for s in streams]
    extra = connect(p)
    started = time.monotonic()
    assert closed_by_server(extra, 5)
    assert time.monotonic() - started < 5
    for s, r in zip(streams, responses, strict=True):
        assert r.status_code == 200 and b"message_stop" in r.read()
        s.__exit__(None, None, None)
    for c in clients:
        c.close()
    extra.close()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_idle_connections_cannot_exhaust_the_file_limit_of_orbridge_serve(home):
    """Soft limit 256, hard 512: the soft one is raised, and 600 idle connections leave room for a request."""
    add_profile(home)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def low_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))

    proc = subprocess.Popen([*ORBRIDGE, "serve", "--port", str(port), "--token", TOKEN], env=home.env,
                            cwd=home.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=low_file_limit)
    idle: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:  # the port is bound before the server starts: wait for an answer
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.1)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        assert re.search(r"Max open files\s+512\s+512", limits), limits  # the soft limit was raised
        for _ in range(600):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)
        r = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"x-api-key": TOKEN}, timeout=10)
        assert r.status_code == 200
    finally:
        for s in idle:
            s.close()
        proc.terminate()
        proc.wait(10)
