"""The `requests` of a batch body, one at a time, from a file: a 100,000-request batch is never a list of
100,000 dicts in memory (json.loads of the whole body would be).

A small reader over `json.JSONDecoder.raw_decode`: the body's structure is read by hand (`{`, keys, `[`,
commas), each request is decoded by the standard library. A request cut by the read window makes the window
grow (doubling), so each byte is decoded a bounded number of times.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import bad_request

WINDOW = 1 << 16
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _Reader:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.eof = "", 0, False

    def _more(self, size: int) -> None:
        data = self.fh.read(size)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise bad_request("request body: not UTF-8 text") from None
        self.buf, self.pos, self.eof = self.buf[self.pos:] + text, 0, not data

    def peek(self) -> str:
        """The next non-space character ('' at the end of the body)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos:self.pos + 1]
            self._more(WINDOW)

    def take(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise bad_request(f"request body: invalid JSON (expected {what})")
        self.pos += 1

    def comma(self, end: str) -> None:
        """Past the `,` between two values, or at the `end` that closes them (a trailing comma is invalid)."""
        if self.peek() == ",":
            self.pos += 1
            if self.peek() == end:
                raise bad_request(f"request body: invalid JSON (a ',' before '{end}')")
        elif self.peek() != end:
            raise bad_request(f"request body: invalid JSON (expected ',' or '{end}')")

    def value(self) -> object:
        self.peek()
        size = WINDOW
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
                # a number cut by the window ("1" of "12", "0." of "0.5") decodes: it must be followed by more
                if self.eof or (end < len(self.buf) and self.buf[end] not in "0123456789.eE+-"):
                    self.pos = end
                    return value
            except (ValueError, RecursionError) as exc:
                if self.eof:
                    raise bad_request(f"request body: invalid JSON ({exc})"[:300]) from None
            self._more(size)
            size *= 2


def requests_of(fh: BinaryIO) -> Iterator[object]:
    """Each item of the body's `requests` array, in order; a 400 for a body that is not such an object."""
    reader = _Reader(fh)
    reader.take("{", "a JSON object")
    found = False
    while reader.peek() != "}":
        key = reader.value()
        reader.take(":", "':'")
        if key == "requests" and not found:
            found = True
            if reader.peek() != "[":
                raise bad_request("requests: expected an array")
            reader.take("[", "'['")
            while reader.peek() != "]":
                yield reader.value()
                reader.comma("]")
            reader.pos += 1
        else:
            reader.value()
        reader.comma("}")
    reader.pos += 1
    if reader.peek():
        raise bad_request("request body: invalid JSON (data after the object)")
    if not found:
        raise bad_request("requests: field required")
