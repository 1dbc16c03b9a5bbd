"""A scripted OpenAI/OpenRouter chat-completions server on 127.0.0.1, for tests.

A real HTTP server (threads, HTTP/1.1, chunked streams) with byte-level control over what it sends:
chunks as JSON, raw bytes (to split UTF-8 characters), pauses, SSE comments, mid-stream errors, and
connections cut without warning. It records every request so tests can assert on what the proxy sent
and on how many upstream calls one client turn caused.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CUT = object()  # close the connection at this point, without ending the chunked body


@dataclass
class Pause:
    seconds: float


@dataclass
class Reply:
    """One scripted answer. `items` for a stream: dict (a `data:` chunk), bytes (raw), str (raw text),
    Pause, or CUT. `body` for a JSON answer. `match` picks requests this reply is for."""

    status: int = 200
    items: list = field(default_factory=list)
    body: object = None
    headers: dict = field(default_factory=dict)
    done: bool = True
    match: Callable[[dict], bool] | None = None
    repeat: bool = False


@dataclass
class Received:
    path: str
    headers: dict
    body: dict


def chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None,
          **extra) -> dict:
    """One OpenAI stream chunk."""
    data: dict = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "fake/model",
                  "choices": []}
    if delta is not None or finish is not None:
        data["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    if usage is not None:
        data["usage"] = usage
    data.update(extra)
    return data


USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
         "prompt_tokens_details": {"cached_tokens": 100}, "cost": 0.000321}


def text_stream(text: str, piece: int = 5, usage: dict | None = USAGE) -> list:
    items: list = [": OPENROUTER PROCESSING", chunk({"role": "assistant", "content": ""})]
    items += [chunk({"content": text[i:i + piece]}) for i in range(0, len(text), piece)]
    items.append(chunk({}, "stop"))
    if usage:
        items.append(chunk(usage=usage))
    return items


def tool_stream(calls: list[tuple[str, str, dict | str]], piece: int = 4, text: str = "",
                usage: dict | None = USAGE) -> list:
    """Tool calls (id, name, arguments) streamed one after another, arguments in `piece`-char parts."""
    items: list = [chunk({"role": "assistant"})]
    if text:
        items.append(chunk({"content": text}))
    for index, (call_id, name, args) in enumerate(calls):
        raw = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        items.append(chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                            "function": {"name": name, "arguments": ""}}]}))
        for i in range(0, len(raw), piece):
            items.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": raw[i:i + piece]}}]}))
    items.append(chunk({}, "tool_calls"))
    if usage:
        items.append(chunk(usage=usage))
    return items


def completion(content: str | None = "", tool_calls: list | None = None, finish: str = "stop",
               usage: dict | None = USAGE, **message_extra) -> dict:
    message: dict = {"role": "assistant", "content": content, **message_extra}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "gen-2", "object": "chat.completion", "model": "fake/model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage or {}}


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 512

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeUpstream:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.default: Reply | None = None
        self.disconnects = 0
        self._lock = threading.Lock()
        self.catalogue: dict | None = None
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies = list(replies)
            self.received = []

    def chat_requests(self) -> list[Received]:
        return [r for r in self.received if r.path.endswith("/chat/completions")]

    def _next(self, body: dict) -> Reply:
        with self._lock:
            for i, reply in enumerate(self.replies):
                if reply.match is None or reply.match(body):
                    if not reply.repeat:
                        self.replies.pop(i)
                    return reply
        return self.default or Reply(status=500, body={"error": {"message": "fake upstream: no reply "
                                                                             "scripted", "code": 500}})

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models") and fake.catalogue is not None:
                    self._json(200, fake.catalogue, {})
                elif self.path.rstrip("/").endswith("/key"):
                    ok = self.headers.get("authorization") == "Bearer sk-or-good"
                    self._json(200 if ok else 401, {"data": {"label": "test"}} if ok else
                               {"error": {"message": "User not found.", "code": 401}}, {})
                else:
                    self._json(404, {"error": {"message": "not found"}}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with fake._lock:
                    fake.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                  body))
                reply = fake._next(body)
                if reply.items and reply.status == 200 and reply.body is None:
                    self._stream(reply)
                else:
                    for item in reply.items:
                        if isinstance(item, Pause) and self._client_left_during(item.seconds):
                            with fake._lock:
                                fake.disconnects += 1
                            self.close_connection = True
                            return
                    self._json(reply.status, reply.body, reply.headers)

            def _client_left_during(self, seconds: float) -> bool:
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
                    if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                return False

            def _json(self, status: int, body: object, headers: dict) -> None:
                data = body if isinstance(body, bytes) else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("content-type", headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    if k != "content-type":
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _write(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    for item in reply.items:
                        if item is CUT:
                            self.close_connection = True
                            self.wfile.flush()
                            self.connection.shutdown(2)
                            return
                        if isinstance(item, Pause):
                            time.sleep(item.seconds)
                        elif isinstance(item, dict):
                            self._write(b"data: " + json.dumps(item, ensure_ascii=False).encode() + b"\n\n")
                        elif isinstance(item, bytes):
                            self._write(item)
                        elif isinstance(item, str):
                            text = item if item.endswith("\n") else item + "\n\n"
                            self._write(text.encode())
                    if reply.done:
                        self._write(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with fake._lock:
                        fake.disconnects += 1
                    self.close_connection = True

        return Handler


def anthropic_sse(text: str, model: str = "claude-x", thinking: tuple[str, str] | None = None) -> bytes:
    """A complete Anthropic Messages stream, as an Anthropic-format upstream would send it."""
    events: list[dict] = [{"type": "message_start", "message": {
        "id": "msg_up_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}}]
    index = 0
    if thinking:
        events += [{"type": "content_block_start", "index": 0,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
                   {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta",
                                                                       "thinking": thinking[0]}},
                   {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta",
                                                                       "signature": thinking[1]}},
                   {"type": "content_block_stop", "index": 0}]
        index = 1
    events += [{"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
               {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}},
               {"type": "content_block_stop", "index": index},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9}},
               {"type": "message_stop"}]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
