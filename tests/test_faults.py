"""Upstream and client faults: each ends in one correct Anthropic outcome, in bounded time, leaking nothing."""

from __future__ import annotations

import concurrent.futures
import json
import random
import time

import httpx
import psutil
import pytest

from orbridge.proxy.settings import Upstream

from .fake_upstream import CUT, Pause, Reply, chunk, text_stream
from .sse_validator import check

MIN = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def upstream_connections(port: int) -> int:
    return sum(1 for c in psutil.Process().net_connections("tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


def test_read_timeout_is_504_not_a_hang(proxy_factory, upstream):
    p = proxy_factory(upstream=Upstream(base_url=upstream.base_url, provider="openrouter", timeout=1.0))
    upstream.script(Reply(body={"choices": []}, items=[Pause(3)]))
    t = time.monotonic()
    r = p.post("/v1/messages", MIN)
    assert r.status_code == 504 and r.json()["error"]["type"] == "api_error"
    assert time.monotonic() - t < 2.5


def test_read_timeout_mid_stream_ends_in_error_event(proxy_factory, upstream):
    p = proxy_factory(upstream=Upstream(base_url=upstream.base_url, provider="openrouter", timeout=1.0),
                      ping_interval=0.3)
    upstream.script(Reply(items=[chunk({"content": "part"}), Pause(2.5), chunk({}, "stop")]))
    resp, raw = p.stream(MIN)
    s = check(raw)
    assert s["error"] is not None and "part" in s["blocks"][0]["text"]


def test_garbage_sse_lines_are_skipped(proxy, upstream):
    upstream.script(Reply(items=[b"data: {not json\n\n", b"event: weird\n\n", b"retry: 10\n\n",
                                 b"data: [1, 2]\n\n"] + text_stream("still fine")))
    resp, raw = proxy.stream(MIN)
    assert check(raw)["blocks"][0]["text"] == "still fine"


def test_cut_inside_a_utf8_character(proxy, upstream):
    data = b"data: " + json.dumps(chunk({"content": "abc 東京"}), ensure_ascii=False).encode() + b"\n\n"
    cut = data.index("京".encode()) + 1
    upstream.script(Reply(items=[chunk({"content": "start "}), Pause(0.4), data[:cut], CUT]))
    resp, raw = proxy.stream(MIN)
    s = check(raw)  # also asserts no U+FFFD reached the client
    assert s["error"] is not None and s["blocks"][0]["text"] == "start "


def test_fifty_megabyte_answer_streams_through_in_bounded_memory(proxy, upstream):
    piece = "x" * 65536
    n = 50 * 1024 * 1024 // len(piece)
    upstream.script(Reply(items=[chunk({"content": piece}) for _ in range(n)] + [chunk({}, "stop")]))
    rss_before = psutil.Process().memory_info().rss
    total = 0
    stopped = False
    with proxy.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}, timeout=120) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event["type"] == "content_block_delta":
                    total += len(event["delta"]["text"])
                stopped = stopped or event["type"] == "message_stop"
    assert total == n * len(piece) and stopped
    assert psutil.Process().memory_info().rss - rss_before < 200 * 1024 * 1024


def test_fifty_megabyte_non_stream_answer(proxy, upstream):
    content = "y" * (50 * 1024 * 1024)
    upstream.script(Reply(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                             "finish_reason": "stop"}]}))
    r = proxy.post("/v1/messages", MIN, timeout=120)
    assert r.status_code == 200 and len(r.json()["content"][0]["text"]) == len(content)


def test_failed_streams_do_not_leak_upstream_connections(proxy, upstream):
    for _ in range(15):
        upstream.script(Reply(items=[chunk({"content": "a"}), Pause(0.05), CUT]))
        proxy.stream(MIN)
        upstream.script(Reply(status=500, body={"error": {"message": "x"}}))
        proxy.stream(MIN)
    time.sleep(0.3)
    assert upstream_connections(upstream.port) <= 2


def test_disconnect_cancels_upstream_within_one_second(proxy, upstream):
    items = [chunk({"content": "t "})] + [x for _ in range(100) for x in (Pause(0.05), chunk({"content": "t "}))]
    upstream.script(Reply(items=items + [chunk({}, "stop")]))
    before = upstream.disconnects
    with proxy.http.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
        next(resp.iter_bytes())
    left = time.monotonic()
    while upstream.disconnects == before and time.monotonic() - left < 3:
        time.sleep(0.01)
    assert upstream.disconnects == before + 1
    assert time.monotonic() - left < 1.0


@pytest.mark.soak
def test_200_concurrent_clients_with_random_disconnects(upstream, tmp_path):
    """Against `orbridge serve` in its own process, so its memory is measured alone."""
    import os
    import socket
    import subprocess
    import sys

    items = [chunk({"content": "tok "}) if i % 2 == 0 else Pause(0.01) for i in range(80)] + [chunk({}, "stop")]
    upstream.default = Reply(items=items, repeat=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "orbridge.cli", "serve", "--port", str(port), "--token",
                               "tok-concurrency-1", "--base-url", upstream.base_url, "--model", "fake/m"],
                              env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.get(url + "/health")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        rnd = random.Random(7)

        def one(_i: int) -> str:
            with httpx.Client(base_url=url, headers={"x-api-key": "tok-concurrency-1"}, timeout=30) as c:
                with c.stream("POST", "/v1/messages", json={**MIN, "stream": True}) as resp:
                    if rnd.random() < 0.5:
                        for _ in resp.iter_bytes():
                            break
                        return "left"
                    check(resp.read())
                    return "done"

        def round_() -> list[str]:
            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                return list(pool.map(one, range(200)))

        proc = psutil.Process(server.pid)
        round_()  # warm-up: pools, buffers, lazy imports
        time.sleep(1)
        baseline = proc.memory_info().rss
        for _ in range(2):
            results = round_()
            assert results.count("done") + results.count("left") == 200
        time.sleep(1)
        assert httpx.get(url + "/health").status_code == 200
        assert proc.memory_info().rss - baseline < 15 * 1024 * 1024
        assert proc.num_threads() < 20
        assert len([c for c in proc.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED]) <= 64
    finally:
        server.terminate()
        server.wait(10)


def test_connect_timeout_is_quick_and_final_before_any_answer(proxy_factory, upstream):
    import socket

    # A listener whose accept backlog is full: the kernel drops further SYNs, so connecting times out.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    port = blackhole.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        p = proxy_factory(upstream=Upstream(base_url=f"http://127.0.0.1:{port}/v1", provider="openrouter",
                                            connect_timeout=0.5))
        t = time.monotonic()
        resp, _ = p.stream(MIN)
        # No connection at all before the upstream ever answered: final, naming the URL (reachability.py).
        assert resp.status_code == 502 and resp.headers["x-should-retry"] == "false"
        assert f"nothing answers at http://127.0.0.1:{port}/v1" in resp.json()["error"]["message"]
        assert time.monotonic() - t < 3
    finally:
        filler.close()
        blackhole.close()


def test_plain_text_instead_of_a_stream_keeps_its_wording(proxy, upstream):
    upstream.script(Reply(items=[b"upstream maintenance: back at 10:00 UTC\n"], done=False,
                          headers={"content-type": "text/plain"}))
    resp, _ = proxy.stream(MIN)
    assert resp.status_code == 502
    assert "upstream maintenance: back at 10:00 UTC" in resp.json()["error"]["message"]
