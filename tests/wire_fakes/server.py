"""The threaded HTTP server every wire fake stands on: records requests, hands them to the provider's `answer`.

A provider module subclasses `WireFake` and implements `answer(req) -> Reply`; the base keeps the script (one
Turn or Fail per model call, in order), the received requests and the provider-rule violations.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .script import Fail, Thinking, Turn


@dataclass
class Received:
    method: str
    path: str
    query: dict
    headers: dict  # lower-case names
    body: object  # parsed JSON, or None
    raw: bytes = b""


@dataclass
class Reply:
    """`body` bytes for a whole answer; `stream` pieces for a chunked one (each written and flushed)."""

    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    stream: Iterable[bytes] | None = None


def json_reply(status: int, body: object, headers: dict | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"content-type": "application/json", **(headers or {})})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class WireFake:
    """Base of one provider's fake. Subclasses set `credentials` and implement `answer`."""

    name = "base"
    thinking = True  # the provider's API shows reasoning; False: scripting a Thinking part is refused

    def __init__(self) -> None:
        self.credentials: dict = {}
        self.requests: list[Received] = []
        self.violations: list[str] = []
        self._script: list[Turn | Fail] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name=f"fake-{self.name}")

    # -- script and records -------------------------------------------------------------------------------
    def script(self, items: list[Turn | Fail]) -> None:
        """Replace the script: the next model calls get these, in order."""
        if not self.thinking and any(isinstance(p, Thinking) for t in items if isinstance(t, Turn) for p in t.parts):
            raise ValueError(f"{self.name}'s API has no visible thinking to script")
        with self._lock:
            self._script = list(items)

    def next_item(self) -> Turn | Fail | None:
        with self._lock:
            return self._script.pop(0) if self._script else None

    def violate(self, rules: list[str]) -> list[str]:
        with self._lock:
            self.violations.extend(rules)
        return rules

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> WireFake:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WireFake:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self, req: Received) -> Reply:  # pragma: no cover - each provider implements it
        raise NotImplementedError


def _handler(fake: WireFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            url = urlsplit(self.path)
            req = Received(method, url.path, dict(parse_qsl(url.query)),
                           {k.lower(): v for k, v in self.headers.items()}, body, raw)
            with fake._lock:
                fake.requests.append(req)
            try:
                reply = fake.answer(req)
            except Exception as exc:  # a bug in the fake: loud in violations, a plain 500 on the wire
                fake.violate([f"wire fake crashed: {exc!r}"])
                reply = json_reply(500, {"wire_fake_error": repr(exc)})
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.stream is None:
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for piece in reply.stream:
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
