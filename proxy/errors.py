"""Every failure as an Anthropic error: status, type, message and the retry headers Claude Code obeys.

Claude Code retries most statuses on its own (401 forever, 5xx and 429 ten times), so whether a failure
is final is said explicitly with `x-should-retry`. Upstream wording is kept: Claude Code's own recovery
(auto-compaction on "prompt is too long", thinking-signature fallbacks) matches on it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from starlette.responses import Response

from .sse import dumps


@dataclass
class ProxyError(Exception):
    """An error to send to the client, before or during a stream."""

    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict:
        return {"type": "error", "error": {"type": self.type, "message": self.message}}

    def body_bytes(self) -> bytes:
        return dumps(self.body()).encode()

    def event(self) -> dict:
        """The same error as the payload of an SSE `error` event."""
        return self.body()


def error_response(err: ProxyError) -> Response:
    """The error as Anthropic sends it: JSON envelope, status, request-id and retry headers."""
    headers = {"request-id": "req_" + str(time.time_ns())[-12:], **err.headers}
    return Response(err.body_bytes(), status_code=err.status, media_type="application/json", headers=headers)


def final(status: int, type_: str, message: str) -> ProxyError:
    """An error Claude Code must not retry."""
    return ProxyError(status, type_, message, {"x-should-retry": "false"})


def bad_request(message: str) -> ProxyError:
    return final(400, "invalid_request_error", message)


class TransportError(Exception):
    """What a transport raises; `as_proxy_error` (or `from_upstream`) maps it for the client."""


@dataclass
class UpstreamError(TransportError):
    """The upstream refused a request (or could not be reached): its HTTP status (0 when unreachable), body
    text, headers. Raised before anything was sent to the client, so the handler may retry or fall back."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    provider: str = "upstream"
    missing_credentials: bool = False  # nothing was sent: the transport found no key to send

    def __post_init__(self) -> None:
        super().__init__(f"{self.provider} {self.status}: {self.body[:200]}")


class StreamFailed(TransportError):
    """The upstream reported an error inside an open stream (or a 200 body); carries the mapped ProxyError."""

    def __init__(self, error: ProxyError, chunk: dict | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.chunk = chunk  # the chunk that carried the error (it may also carry the usage)


class UpstreamEOF(TransportError):
    """The upstream closed the connection before finishing its answer."""


def as_proxy_error(exc: BaseException, provider: str) -> ProxyError:
    """A failure of an open stream (or of our own translation) as the error the client sees."""
    if isinstance(exc, StreamFailed):
        return exc.error
    if isinstance(exc, ProxyError):
        return exc
    return ProxyError(502, "api_error", f"{provider} stream was cut off: {exc}")


# "prompt is too long" makes Claude Code compact the conversation: said only when the upstream says the
# prompt (input, context) overflowed, never for an output limit ("Token limit reached" after a length stop).
_CONTEXT_SURE = re.compile(r"context[ _-]?length|context window|maximum context|prompt is too long|prompt too long"
                           r"|input is too long|context_length_exceeded|longer than the model"
                           r"|reduce the length of the (?:messages|prompt|input)", re.I)
_CONTEXT_MAYBE = re.compile(r"too many tokens|tokens? (?:limit|exceed)|exceeds? the (?:maximum|limit)", re.I)
_ABOUT_INPUT = re.compile(r"prompt|input|context|messages?\b", re.I)
_ABOUT_OUTPUT = re.compile(r"max_tokens|max_completion_tokens|output|completion tokens|generat", re.I)


def _is_overflow(message: str) -> bool:
    if _CONTEXT_SURE.search(message):
        return True
    return bool(_CONTEXT_MAYBE.search(message) and _ABOUT_INPUT.search(message)
                and not _ABOUT_OUTPUT.search(message))
_NUMBERS = re.compile(r"\d[\d,]*")


def upstream_message(body: str) -> str:
    """The upstream's own error wording, out of whatever JSON shape it used (or the raw text)."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        if text.lstrip().startswith("<"):
            title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
            return (title.group(1).strip() if title else "HTML error page") + " (non-JSON response)"
        return text[:2000] or "no error message"
    return _find_message(data) or text[:2000]


def _find_message(data: object) -> str | None:
    if isinstance(data, str):
        return data
    if isinstance(data, list) and data:
        return _find_message(data[0])
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    if err is not None:
        msg = _find_message(err)
        raw = err.get("metadata", {}).get("raw") if isinstance(err, dict) else None
        if msg and isinstance(raw, str) and raw and raw not in msg:
            msg = f"{msg}: {raw[:1000]}"
        if msg:
            return msg
    for key in ("message", "detail", "error_message", "msg"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, (dict, list)):
            found = _find_message(value)
            if found:
                return found
    return None


def context_overflow(message: str) -> str | None:
    """Anthropic's `prompt is too long: N tokens > M maximum` wording for a context-length failure."""
    if not _is_overflow(message):
        return None
    if message.startswith("prompt is too long"):
        return message
    numbers = sorted({int(n.replace(",", "")) for n in _NUMBERS.findall(message)} - {0})
    big = [n for n in numbers if n >= 1000]
    if len(big) >= 2:
        return f"prompt is too long: {big[-1]} tokens > {big[-2]} maximum ({message})"
    return f"prompt is too long: {message}"


_UNKNOWN_MODEL = re.compile(r"not a valid model|model.{0,80}(?:not found|does not exist|not exist|unknown"
                            r"|not supported|not available)|(?:unknown|invalid|no such) model", re.I)


def unknown_model(err: UpstreamError, model: str | None) -> ProxyError | None:
    """A final not_found_error when the upstream says it does not know the model."""
    if err.status not in (400, 404, 422) or not model:
        return None
    message = upstream_message(err.body)
    if not _UNKNOWN_MODEL.search(message) or "max_tokens" in message:
        return None
    return final(404, "not_found_error", f"model {model} is not known to {err.provider} ({message}). "
                 f"Find the right id with `orbridge models --search {model.split('/')[-1][:20]}`")


def from_upstream(err: UpstreamError, key_fix: str | None = None, model: str | None = None) -> ProxyError:
    """Map an upstream failure to the Anthropic status and type Claude Code handles best. `key_fix` says
    which key was sent (or that none was), for a rejected key; `model`, the upstream model asked for."""
    status, provider = err.status, err.provider
    if status == 0:
        return ProxyError(502, "api_error", f"Could not reach {provider}: {err.body}")
    message = upstream_message(err.body)
    if err.missing_credentials:
        return final(403, "permission_error", f"{provider}: {message}. {key_fix or ''}".strip())
    not_found = unknown_model(err, model)
    if not_found is not None:
        return not_found
    if status in (401, 403) and _is_key_problem(status, message):
        return final(
            403,
            "permission_error",
            f"{provider} rejected the API key ({status}: {message}). "
            f"{key_fix or f'Fix it with `orbridge keys set {provider}`'} and start again.",
        )
    if status == 403:
        return final(403, "permission_error", f"{provider}: {message}")
    if status == 402:
        return final(400, "invalid_request_error", f"{provider} (402 payment required): {message}")
    if status == 404:
        return final(404, "not_found_error", f"{provider}: {message}")
    if status == 413:
        overflow = context_overflow(message)
        return final(413 if overflow is None else 400, "request_too_large" if overflow is None
                     else "invalid_request_error", overflow or message)
    if status in (400, 422) or 400 <= status < 500 and status not in (408, 409, 429):
        overflow = context_overflow(message)
        return final(400, "invalid_request_error", overflow or message)
    if status == 429:
        headers = {}
        if "retry-after" in err.headers:
            headers["retry-after"] = err.headers["retry-after"]
        return ProxyError(429, "rate_limit_error", message, headers)
    if status in (503, 529):
        return ProxyError(529, "overloaded_error", message)
    if status in (408, 504):
        return ProxyError(504, "api_error", f"{provider} timed out: {message}")
    if status == 409:
        return ProxyError(409, "api_error", message)
    return ProxyError(status if 500 <= status < 600 else 502, "api_error", message)


def _is_key_problem(status: int, message: str) -> bool:
    if status == 401:
        return True
    return bool(re.search(r"key|auth|credential|token", message, re.I))


def from_stream_error(payload: dict, provider: str, key_fix: str | None = None) -> ProxyError:
    """An `error` object an upstream sent inside a 200 stream (OpenRouter does this mid-stream)."""
    err = payload.get("error", payload)
    code = err.get("code") if isinstance(err, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    return from_upstream(UpstreamError(status, dumps(payload), {}, provider), key_fix)
