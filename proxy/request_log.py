"""One JSON line per request in the request log, rotated by size. Never a key, never a body."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024
KEEP = 3
# Every finished request's record is also emitted here (attribute `record` on the LogRecord) at INFO, so
# `orbridge serve` can print a line per request; with no handler at INFO this costs one level check.
records = logging.getLogger("orbridge.requests")


class RequestLog:
    def __init__(self, path: Path | None, max_bytes: int = MAX_BYTES, emit: bool = True) -> None:
        self.path = path
        self.emit = emit
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        if self.emit and records.isEnabledFor(logging.INFO):
            records.info("request", extra={"record": record})
        if self.path is None:
            return
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                    self._rotate()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError:
                pass  # a full disk or a removed folder must never fail a request

    def _rotate(self) -> None:
        for i in range(KEEP - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
