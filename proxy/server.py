"""Serve the proxy with uvicorn on an already-bound loopback socket, in a background thread.

The socket is bound before anything slow happens, so the port is known (and reserved) at once; the
launcher can hand it to Claude Code, whose first request arrives 0.1 s after it starts.

The listening socket must hold up without a token: whoever can connect gets a bounded time and size to
finish a request head, and connections are capped well below the open-file limit. At the cap, the
connection idle longest (no request in flight) makes room; with none idle, a new connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .app import create_app
from .disconnect import EXTENSION
from .errors import ProxyError
from .listen import bind, connection_cap, raise_file_limit  # noqa: F401 - bind is re-exported for callers
from .settings import Settings

log = logging.getLogger("orbridge.proxy")


@dataclass(frozen=True)
class Limits:
    """What one client connection may hold. `max_connections` None: derived from the open-file limit."""

    head_timeout: float = 10.0  # seconds to send a complete request head
    max_head_bytes: int = 64 * 1024  # request line + headers
    max_connections: int | None = None
    keep_alive: float = 5.0  # idle seconds between requests on one connection


SLICE = 16 * 1024  # the parser is fed at most this much at a time (see GuardedHttpTools.data_received)


def _head_too_large(limit: int) -> bytes:
    body = ProxyError(431, "request_too_large", f"request head (request line and headers) is larger than "
                      f"{limit // 1024} KB").body_bytes()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)) + body


class HeadWithBody:
    """A connection's transport that holds a 2xx response head back until the body's first write, so both
    leave in one system call and one TCP segment: uvicorn writes the head as soon as the app starts the
    response, and a second write cost ~0.05 ms of every stream's time to first token (bench/). A head with
    no body in the same loop iteration goes out at the end of it, so nothing waits for a slow body."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is not None:
            head, self._held = self._held, None
            self._transport.write(head + data)
        elif type(data) is bytes and data.startswith(b"HTTP/1.1 2") and data.endswith(b"\r\n\r\n"):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None and not self._transport.is_closing():
            head, self._held = self._held, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol plus what httptools lacks: a deadline and a byte cap for the request
    head, and the connection cap. Subclassed per server by `protocol_for`, which sets the class fields."""

    limits: Limits = Limits()
    cap: int = 1000
    idle: dict[GuardedHttpTools, None] = {}  # connections without a request in flight, oldest first

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_room = self.limits.max_head_bytes
        self._messages_ended = 0
        self._on_lost: dict[int, Callable[[], None]] = {}
        self._watches = 0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = HeadWithBody(transport, self.loop)
        if len(self.connections) > self.cap and not self._make_room():
            transport.close()
            return
        self.idle[self] = None
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _make_room(self) -> bool:
        for victim in self.idle:
            del self.idle[victim]
            victim.transport.close()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.idle.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)
        callbacks, self._on_lost = list(self._on_lost.values()), {}
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - one request's failure must not keep the others running
                log.exception("a disconnect callback failed")

    def _watch_disconnect(self, callback: Callable[[], None]) -> Callable[[], None]:
        """proxy/disconnect.py's extension: `callback` runs once if the client goes away before the returned
        function is called."""
        if self.transport.is_closing():
            return self.loop.call_soon(callback).cancel
        self._watches += 1
        key = self._watches
        self._on_lost[key] = callback
        return lambda: self._on_lost.pop(key, None)

    def data_received(self, data: bytes) -> None:
        """Feed the parser in slices, charging each slice that starts inside a head to the head's budget. A
        message can end inside a slice and the next head begin there (pipelining): those bytes are not
        charged, so a head may exceed the cap by at most one slice, never by a whole read."""
        if len(data) <= SLICE and (not self._in_head or len(data) <= self._head_room):
            return self._feed(data)  # the usual case: one feed
        for start in range(0, len(data), SLICE):
            if not self._feed(data[start:start + SLICE]) or self.transport.is_closing():
                return

    def _feed(self, piece: bytes) -> bool:
        """One slice to the parser; False (and a 431) when it would take a head past its budget."""
        if self._in_head:
            if self._head_timer is None:  # bytes toward a head (even stray line ends) start its clock
                self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)
            if len(piece) > self._head_room:
                room, ended = self._head_room, self._messages_ended
                if room > 0:
                    super().data_received(piece[:room])
                if self.transport.is_closing():
                    return False
                if self._in_head and self._messages_ended == ended:  # the head did not end within the budget
                    self.transport.write(_head_too_large(self.limits.max_head_bytes))
                    self.transport.close()
                    return False
                super().data_received(piece[room:])  # a message ended in those bytes: go on
                return True
            self._head_room -= len(piece)
        super().data_received(piece)
        return True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope.setdefault("extensions", {})[EXTENSION] = self._watch_disconnect
        # The head's byte budget is not reset here: the parser calls this while feeding the chunk that
        # data_received has already counted (resetting it forgot that chunk, and a 100 KB head sent in two
        # pieces got through). It is reset when the previous message ends.
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.idle.pop(self, None)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._messages_ended += 1
        self._in_head = True  # what follows on this connection is the next request's head
        self._head_room = self.limits.max_head_bytes

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle.response_complete and not self.transport.is_closing():  # no pipelined request started
            self.idle[self] = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()


def protocol_for(limits: Limits, cap: int) -> type[GuardedHttpTools]:
    """A protocol class for one server: its limits, and its own registry of idle connections."""
    return type("OrbridgeHttpProtocol", (GuardedHttpTools,), {"limits": limits, "cap": cap, "idle": {}})


def build_config(app, limits: Limits | None = None, log_config=uvicorn.config.LOGGING_CONFIG) -> uvicorn.Config:
    """The one uvicorn configuration, for `orbridge run` (ProxyServer) and `orbridge serve` (run_forever)."""
    limits = limits or Limits()
    file_limit = raise_file_limit()
    cap = limits.max_connections or connection_cap(file_limit)
    return uvicorn.Config(app, log_level="warning", access_log=False, log_config=log_config, lifespan="on",
                          timeout_graceful_shutdown=2, loop=_loop_name(), http=protocol_for(limits, cap),
                          ws="none", timeout_keep_alive=limits.keep_alive,
                          # No X-Forwarded-* rewriting: nothing here uses the client's address, and a layer
                          # less on every request.
                          proxy_headers=False)


class ProxyServer:
    """A uvicorn server in a daemon thread; `start()` returns once it accepts connections."""

    def __init__(self, settings: Settings, sock: socket.socket, app=None, quiet: bool = False,
                 limits: Limits | None = None) -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.host = sock.getsockname()[0]
        self.app = app or create_app(settings)
        config = build_config(self.app, limits,
                              log_config=None if quiet else uvicorn.config.LOGGING_CONFIG)
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # the launcher owns the signals
        self.thread = threading.Thread(target=self._run, name="orbridge-proxy", daemon=True)
        self.error: BaseException | None = None
        self._serving_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve(self) -> None:
        """Serve in the calling thread until `stop()`."""
        self._serving_thread = threading.current_thread()
        self.server.run(sockets=[self.sock])

    def _run(self) -> None:
        try:
            self.serve()
        except BaseException as exc:  # noqa: BLE001 - reported to the launcher through `alive`
            self.error = exc

    def start(self, timeout: float = 15.0) -> ProxyServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the proxy failed to start: {self.error!r}")
            time.sleep(0.005)
        return self

    @property
    def alive(self) -> bool:
        return self.thread.is_alive() and not self.server.should_exit

    def stop(self, timeout: float = 5.0, grace: float = 0.0) -> None:
        """Stop serving. `grace`: first wait up to that long for calls still open, so a client that just went
        away (Ctrl-C mid-answer) is logged as cancelled once the proxy sees its connection close. `timeout`:
        how long to wait for the serving thread; 0, not at all (a launcher that exits right after)."""
        calls = getattr(self.app.state, "calls", None)
        deadline = time.monotonic() + grace
        while calls is not None and calls.open > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.server.should_exit = True
        thread = self._serving_thread or self.thread
        if timeout > 0 and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                self.server.force_exit = True
                thread.join(timeout)
        try:
            self.sock.close()
        except OSError:
            pass


def _loop_name() -> str:
    import importlib.util

    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def run_forever(settings: Settings, sock: socket.socket, limits: Limits | None = None,
                log_config=uvicorn.config.LOGGING_CONFIG) -> None:
    """Foreground serving (`orbridge serve`): uvicorn handles Ctrl-C itself. `log_config=None` when the
    caller has set up (redacting) log handlers of its own."""
    uvicorn.Server(build_config(create_app(settings), limits, log_config=log_config)).run(sockets=[sock])
