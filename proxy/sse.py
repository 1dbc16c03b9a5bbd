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


MAX_EVENT_BYTES = 16 * 1024 * 1024  # one SSE line, or one event's data lines together


class SSETooLarge(ValueError):
    """An upstream sent one SSE line or event longer than the cap (an endless line is never buffered whole)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an SSE line or event is larger than {limit // (1024 * 1024)} MB (orbridge's limit)")
        self.limit = limit


class SSEDecoder:
    """Feed raw bytes as they arrive; get complete events back. Raises SSETooLarge past `max_bytes`."""

    __slots__ = ("_buf", "_data", "_event", "_size", "max_bytes")

    def __init__(self, max_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buf = bytearray()  # an unfinished line: appended to, never re-copied per chunk
        self._data: list[str] = []
        self._event: str | None = None
        self._size = 0  # bytes of data lines in the current event
        self.max_bytes = max_bytes

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        start = 0
        if self._buf:
            nl = chunk.find(b"\n")
            if nl < 0:
                self._buf += chunk
                if len(self._buf) > self.max_bytes:
                    raise SSETooLarge(self.max_bytes)
                return
            self._buf += chunk[:nl]
            line = bytes(self._buf)
            self._buf.clear()
            start = nl + 1
            ev = self._line(line[:-1] if line.endswith(b"\r") else line)
            if ev is not None:
                yield ev
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                break
            line = chunk[start:nl]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            ev = self._line(line)
            if ev is not None:
                yield ev
        if start < len(chunk):
            if len(chunk) - start > self.max_bytes:
                raise SSETooLarge(self.max_bytes)
            self._buf += chunk[start:]

    def close(self) -> Iterator[SSEEvent]:
        """Flush what is left when the stream ends without a final blank line."""
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            ev = self._line(line)
            if ev is not None:
                yield ev
        ev = self._line(b"")
        if ev is not None:
            yield ev

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            if not self._data and self._event is None:
                return None
            ev = SSEEvent(data="\n".join(self._data), event=self._event)
            self._data = []
            self._event = None
            self._size = 0
            return ev
        if raw[0] == 58:  # b":"
            return SSEEvent(comment=True)
        self._size += len(raw)
        if self._size > self.max_bytes:
            raise SSETooLarge(self.max_bytes)
        field, _, value = raw.decode("utf-8", "replace").partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # what _dumps writes every str with: same bytes by construction

# The per-chunk event is written from a template: the general encoder cost ~3 µs of a ~15 µs chunk (bench/).
# Only the exact shape the translator builds takes this path; its bytes equal the general path's
# (tests/test_hot_path.py).
_DELTA_KEYS = ("type", "index", "delta")
_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_DELTA_FIELDS = {kind: (f',"delta":{{"type":"{kind}","{name}":'.encode(), name)
                 for kind, name in (("text_delta", "text"), ("thinking_delta", "thinking"),
                                    ("input_json_delta", "partial_json"), ("signature_delta", "signature"))}


def encode(event: dict) -> bytes:
    """One Anthropic event as SSE bytes; the `event:` line repeats the payload's `type`."""
    if tuple(event) == _DELTA_KEYS:
        delta, index = event["delta"], event["index"]
        if event["type"] == "content_block_delta" and type(index) is int and type(delta) is dict and len(delta) == 2:
            (first, kind), (name, value) = delta.items()
            field = _DELTA_FIELDS.get(kind) if type(kind) is str else None
            if field is not None and first == "type" and name == field[1] and type(value) is str:
                return b"%b%d%b%b}}\n\n" % (_DELTA_HEAD, index, field[0], _string(value).encode())
    return f"event: {event['type']}\ndata: {_dumps(event)}\n\n".encode()


def dumps(obj: object) -> str:
    """Compact JSON, UTF-8 kept as is (shared by the SSE encoder and JSON responses)."""
    return _dumps(obj)
