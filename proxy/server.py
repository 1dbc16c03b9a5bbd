"""Serve the proxy with uvicorn on an already-bound loopback socket, in a background thread.

The socket is bound before anything slow happens, so the port is known (and reserved) at once; the
launcher can hand it to Claude Code, whose first request arrives 0.1 s after it starts.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from .app import create_app
from .listen import bind  # noqa: F401 - re-exported for callers
from .settings import Settings


class ProxyServer:
    """A uvicorn server in a daemon thread; `start()` returns once it accepts connections."""

    def __init__(self, settings: Settings, sock: socket.socket, app=None, quiet: bool = False) -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.host = sock.getsockname()[0]
        config = uvicorn.Config(app or create_app(settings), log_level="warning", access_log=False,
                                log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
                                lifespan="on", timeout_graceful_shutdown=2, loop=_loop_name(),
                                http="httptools" if _has("httptools") else "h11")
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

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        thread = self._serving_thread or self.thread
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                self.server.force_exit = True
                thread.join(timeout)
        try:
            self.sock.close()
        except OSError:
            pass


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _loop_name() -> str:
    return "uvloop" if _has("uvloop") else "asyncio"


def run_forever(settings: Settings, sock: socket.socket) -> None:
    """Foreground serving (`orbridge serve`): uvicorn handles Ctrl-C itself."""
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False, lifespan="on",
                            loop=_loop_name(), timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
