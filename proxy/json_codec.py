"""JSON on the request path at msgspec's speed, with the stdlib json as the fallback for what msgspec refuses.

For what orbridge itself writes and parses (request bodies, upstream bodies and chunks, the request log), where only
valid JSON with the same values is owed, not json.dumps's exact bytes: a Claude Code turn is a 50-200 KB
body parsed once and re-encoded once per upstream call, and the json module spends about a millisecond on
each at that size. What the client receives as Anthropic events keeps json's bytes (sse.py).
"""

from __future__ import annotations

import json
import math

import msgspec


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


_decode = msgspec.json.Decoder().decode
_strict_decode = msgspec.json.Decoder(float_hook=_finite).decode
_encode = msgspec.json.Encoder().encode


def loads(text: str | bytes, strict: bool = False) -> object:
    """json.loads at a fifth of the cost (msgspec keeps integers of any size exact, unlike orjson). What
    msgspec refuses goes to json, so lone surrogates parse as before, and errors stay json's (ValueError,
    also for nesting too deep to parse). `strict`: NaN, Infinity and numbers past a float's range (1e400)
    are refused, as Anthropic's API refuses them; otherwise they parse as json parses them."""
    try:
        try:
            return (_strict_decode if strict else _decode)(text)
        except ValueError:  # msgspec.DecodeError, or UnicodeEncodeError for a str holding a lone surrogate
            if strict:
                return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
            return json.loads(text)
    except RecursionError:  # hostile nesting is bad input like any other
        raise ValueError("nested too deeply") from None


def dumpb(obj: object) -> bytes:
    """Compact UTF-8 JSON bytes (a NaN or infinity, which only a lenient parse lets in, is written as null).
    What msgspec cannot encode goes to json with ASCII escapes, so a lone surrogate (JavaScript's
    JSON.stringify sends one for an emoji cut in half) is written escaped, as the client sent it."""
    try:
        return _encode(obj)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(obj, separators=(",", ":")).encode()
