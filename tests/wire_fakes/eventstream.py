"""AWS's binary event-stream framing (application/vnd.amazon.eventstream), as Bedrock's ConverseStream sends it:
each message = prelude (total length, headers length, prelude CRC32) + headers + payload + message CRC32."""

from __future__ import annotations

import json
import struct
import zlib

STRING = 7  # header value type: UTF-8 string


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + bytes([STRING]) + struct.pack(">H", len(v)) + v


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    head = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: dict) -> bytes:
    """One Converse stream event; the real service pads each payload with a `p` field of filler."""
    body = {**payload, "p": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"[: 8 + len(event_type)]}
    return frame({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                 json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
