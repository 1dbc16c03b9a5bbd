"""Server-sent events: incremental decoding of upstream bytes and encoding of Anthropic events.

Decoding splits on line ends at the byte level and decodes whole lines only, so a UTF-8 character cut
across network chunks is never turned into U+FFFD.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    """One decoded event; `comment` is set for keep-alive lines such as `: OPENROUTER PROCESSING`."""

    data: str | None = None
    event: str | None = None
    comment: bool = False


class SSEDecoder:
    """Feed raw bytes as they arrive; get complete events back."""

    __slots__ = ("_buf", "_data", "_event")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = buf[start:nl]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            ev = self._line(line.decode("utf-8", "replace"))
            if ev is not None:
                yield ev
        self._buf = buf[start:]

    def close(self) -> Iterator[SSEEvent]:
        """Flush what is left when the stream ends without a final blank line."""
        if self._buf:
            ev = self._line(self._buf.decode("utf-8", "replace"))
            self._buf = b""
            if ev is not None:
                yield ev
        ev = self._line("")
        if ev is not None:
            yield ev

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            ev = SSEEvent(data="\n".join(self._data), event=self._event)
            self._data = []
            self._event = None
            return ev
        if line[0] == ":":
            return SSEEvent(comment=True)
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode(event: dict) -> bytes:
    """One Anthropic event as SSE bytes; the `event:` line repeats the payload's `type`."""
    return f"event: {event['type']}\ndata: {_dumps(event)}\n\n".encode()


def dumps(obj: object) -> str:
    """Compact JSON, UTF-8 kept as is (shared by the SSE encoder and JSON responses)."""
    return _dumps(obj)
