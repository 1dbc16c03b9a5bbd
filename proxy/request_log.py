"""One JSON line per request in the request log, rotated by size. Never a key, never a body.

The file is opened through private_files (a checked folder, no symlink, ours): a log another account could
read or replace is refused (nothing written, one warning), never a failed request. `Call` is what one request
leaves there, and `CallLog` the one way every handler finishes a call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from starlette.responses import Response

from .errors import ProxyError, error_response
from .json_codec import dumpb
from .private_files import UnsafePath, make_private_dir, open_dir, open_in

MAX_BYTES = 10 * 1024 * 1024
KEEP = 3
# Every finished request's record is also emitted here (attribute `record` on the LogRecord) at INFO, so
# `orbridge serve` can print a line per request; with no handler at INFO this costs one level check.
records = logging.getLogger("orbridge.requests")
log = logging.getLogger("orbridge.proxy")


class RequestLog:
    def __init__(self, path: Path | None, max_bytes: int = MAX_BYTES, emit: bool = True) -> None:
        self.path = path
        self.emit = emit
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._warned = False
        self._fd: int | None = None
        self._dir_fd: int | None = None
        self._id = (0, 0)
        if path is not None:
            with contextlib.suppress(OSError):
                make_private_dir(path.parent)

    def write(self, record: dict) -> None:
        if self.emit and records.isEnabledFor(logging.INFO):
            records.info("request", extra={"record": record})
        if self.path is None:
            return
        line = dumpb(record) + b"\n"
        with self._lock:
            try:
                self._append(line)
            except UnsafePath as exc:  # someone else's file: log nothing rather than hand it our records
                if not self._warned:
                    self._warned = True
                    log.warning("not logging to %s: it %s (fix: %s)", exc.path, exc.problem, exc.fix)
            except OSError:
                self._let_go()  # a full disk or a removed folder must never fail a request

    def _append(self, line: bytes) -> None:
        """Append through descriptors held open (the folder's and the file's, checked when opened): two
        system calls a line instead of ten. The name is looked up again each time, so a file another
        orbridge rotated (renamed) or someone removed is let go and the new one opened, checked as ever."""
        st = None
        if self._fd is not None:
            try:
                st = os.stat(self.path.name, dir_fd=self._dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            if st is None or (st.st_ino, st.st_dev) != self._id:
                self._let_go()
        if self._fd is None:
            self._open()
            st = os.fstat(self._fd)
        if st.st_size and st.st_size + len(line) > self.max_bytes:
            self._let_go()
            self._rotate()
            self._open()
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view):]

    def _open(self) -> None:
        try:
            self._dir_fd = open_dir(self.path.parent)
            self._fd = open_in(self._dir_fd, self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except BaseException:
            self._let_go()
            raise
        st = os.fstat(self._fd)
        self._id = (st.st_ino, st.st_dev)

    def close(self) -> None:
        """Let the descriptors go (reopened by the next write)."""
        with self._lock:
            self._let_go()

    def _let_go(self) -> None:
        for fd in (self._fd, self._dir_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._dir_fd = None

    def __del__(self) -> None:
        self._let_go()

    def _rotate(self) -> None:
        """Rename by name inside the checked folder: a rename moves a symlink itself, never its target."""
        dir_fd = open_dir(self.path.parent)
        try:
            name = self.path.name
            for i in range(KEEP - 1, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{name}.{i}", f"{name}.{i + 1}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.replace(name, f"{name}.1", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        finally:
            os.close(dir_fd)


@dataclass
class Call:
    """What is known about one request, for the request log."""

    started: float
    session: str | None
    requested_model: str
    upstream_model: str = ""
    stream: bool = False
    status: int = 200
    first_token: float | None = None
    usage: dict = field(default_factory=dict)
    cost: float | None = None
    error_type: str | None = None
    error_message: str | None = None
    stop_reason: str | None = None
    route: str = "default"
    cost_source: str = "upstream"
    fallbacks: list[str] = field(default_factory=list)
    logged: bool = False
    counted: bool = False  # begun through CallLog.begin (it counts open calls)

    def record(self, profile: str, provider: str) -> dict:
        now = time.time()
        rec = {
            "time": round(self.started, 3),
            "session": self.session,
            "profile": profile,
            "provider": provider,
            "model": self.requested_model,
            "upstream_model": self.upstream_model,
            "stream": self.stream,
            "status": self.status,
            "duration_ms": round((now - self.started) * 1000, 1),
            "ttft_ms": round((self.first_token - self.started) * 1000, 1) if self.first_token else None,
            "stop_reason": self.stop_reason,
            "route": self.route,
            **{k: v for k, v in self.usage.items()},
        }
        if self.cost is not None:
            rec["cost"] = self.cost
            rec["cost_source"] = self.cost_source
        if self.fallbacks:
            rec["fallbacks"] = self.fallbacks
        if self.error_type:
            rec["error_type"] = self.error_type
            rec["error"] = (self.error_message or "")[:500]
        return rec


class CallLog:
    """The one way a handler finishes a call: its error redacted (as the client and the log see it), one
    request-log line however many paths reach the end, priced from the catalogue when the upstream gave none."""

    def __init__(self, log: RequestLog, settings, redact: Callable[[str], str] = str, budget=None) -> None:
        self.log = log
        self.settings = settings
        self.redact = redact
        self.budget = budget  # a budget.Budget when this run has a cap: every logged call adds its cost
        self.open = 0  # calls begun and not logged yet: the launcher waits for them before it exits

    def begin(self, session: str | None, model: str, stream: bool) -> Call:
        self.open += 1
        return Call(time.time(), session, model, stream=stream, counted=True)

    def redacted(self, err: ProxyError) -> ProxyError:
        return replace(err, message=self.redact(err.message))

    def done(self, call: Call, err: ProxyError | None = None) -> ProxyError | None:
        """Log the call once (a later call is a no-op); return the error as the client may see it."""
        if err is not None:
            err = self.redacted(err)
        if call.logged:
            return err
        call.logged = True
        if call.counted:
            self.open -= 1
        info = self.settings.model_info.get(call.upstream_model)
        if call.cost is None and info is not None and info.price_in is not None and info.price_out is not None:
            u = call.usage
            inputs = sum(u.get(k, 0) for k in ("input_tokens", "cache_read_input_tokens",
                                               "cache_creation_input_tokens"))
            call.cost = round((inputs * info.price_in + u.get("output_tokens", 0) * info.price_out) / 1e6, 8)
            call.cost_source = "catalogue"
        if err is not None:
            # After the first byte the client has its 200: the log keeps that status, with the error beside it.
            call.status = err.status if call.status == 200 and not call.first_token else call.status
            call.error_type, call.error_message = err.type, err.message
        record = call.record(self.settings.profile, self.settings.upstream.provider)
        if info is not None and info.context_length:
            record["window"] = info.context_length  # the serving model's real window, for `orbridge statusline`
        if self.budget is not None:
            self.budget.add(call.cost, answered=call.status == 200 or call.status == 499)
            record.update(self.budget.fields())
        self.log.write(record)
        return err

    def fail(self, call: Call, err: ProxyError) -> Response:
        return error_response(self.done(call, err))

    def cancelled(self, call: Call) -> None:
        """The client left (Esc or Ctrl-C in Claude Code): logged as 499 with the tokens seen so far."""
        if not call.logged:
            call.status = 499
            self.done(call, ProxyError(499, "cancelled", "the client closed the request"))
