"""The server sends a response head together with the body's first bytes (one write, one TCP segment), and
never holds a head back from a client when no body follows at once."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn

from orbridge.proxy.server import HeadWithBody, Limits, protocol_for

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"


class Recording:
    """A transport that records each write (what reaches the socket as one system call)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _run(steps) -> Recording:
    async def go() -> Recording:
        raw = Recording()
        await steps(HeadWithBody(raw, asyncio.get_running_loop()), raw)
        return raw

    return asyncio.run(go())


def test_the_head_leaves_with_the_first_body_bytes():
    async def steps(transport, raw):
        transport.write(HEAD)
        assert raw.writes == []  # held for the body
        transport.write(b"event: message_start\n\n")
        transport.write(b"event: ping\n\n")

    assert _run(steps).writes == [HEAD + b"event: message_start\n\n", b"event: ping\n\n"]


def test_a_head_without_a_body_goes_out_at_the_end_of_the_loop_iteration():
    async def steps(transport, raw):
        transport.write(HEAD)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert raw.writes == [HEAD]
        transport.write(b"late body")

    assert _run(steps).writes == [HEAD, b"late body"]


def test_other_writes_are_not_held_and_close_sends_what_is_held():
    async def steps(transport, raw):
        transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n")
        assert len(raw.writes) == 1
        transport.write(HEAD)
        transport.close()
        assert raw.closed and transport.is_closing()

    assert _run(steps).writes[1:] == [HEAD]


async def _slow_body(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await asyncio.sleep(1.0)
    await send({"type": "http.response.body", "body": b"late"})


def test_a_real_server_sends_the_head_before_a_slow_body():
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(_slow_body, http=protocol_for(Limits(), 100), lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    try:
        while not server.started:
            time.sleep(0.01)
        with socket.create_connection(sock.getsockname(), timeout=5) as client:
            sent = time.monotonic()
            client.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            first = client.recv(65536)
            took = time.monotonic() - sent
            assert first.startswith(b"HTTP/1.1 200 OK") and b"late" not in first
            assert took < 0.5  # the head did not wait for the body's second
            rest = b""
            while b"late" not in rest:
                rest += client.recv(65536)
    finally:
        server.should_exit = True


def test_only_a_whole_head_in_bytes_is_held():
    async def steps(transport, raw):
        transport.write(memoryview(b"HTTP/1.1 200 looks like a head\r\n\r\n"))  # a body chunk, not bytes
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n")  # not a whole head
        assert len(raw.writes) == 2

    _run(steps)
