"""JSON on the request path at msgspec's speed, with the stdlib json as the fallback for what msgspec refuses.

For what orbridge itself writes and parses (request bodies, upstream chunks, the request log), where only
valid JSON with the same values is owed, not json.dumps's exact bytes: a Claude Code turn is a 50-200 KB
body parsed once and re-encoded once per upstream call, and the json module spends about a millisecond on
each at that size. What the client receives as Anthropic events keeps json's bytes (sse.py).
"""

from __future__ import annotations

import json

import msgspec

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes, constants: bool = True) -> object:
    """json.loads at a fifth of the cost (msgspec keeps integers of any size exact, unlike orjson). What
    msgspec refuses goes to json, so 1e400 and lone surrogates parse as before, and errors stay json's (ValueError,
    also for nesting too deep to parse).
    `constants=False`: NaN and Infinity are refused, as strict JSON parsers (Anthropic's API) refuse them."""
    try:
        try:
            return _decode(text)
        except ValueError:  # msgspec.DecodeError, or UnicodeEncodeError for a str holding a lone surrogate
            return json.loads(text) if constants else json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # hostile nesting is bad input like any other
        raise ValueError("nested too deeply") from None


def dumpb(obj: object) -> bytes:
    """Compact UTF-8 JSON bytes (a NaN, which only a lenient parse lets in, is written as null). What msgspec
    cannot encode goes to json, which writes it as before or raises as before (a lone surrogate)."""
    try:
        return _encode(obj)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
