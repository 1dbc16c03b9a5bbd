"""Anthropic-format upstreams (Anthropic, OpenRouter's /api/v1/messages, DeepSeek's, Moonshot's, MiniMax's
Anthropic endpoints): the body goes through untranslated and the answer comes back byte for byte.

Two changes only: the model name (routing still applies), and thinking blocks that orbridge minted from
another provider's reasoning are removed, since an Anthropic-format upstream would reject their signature
("Invalid signature in thinking block").
"""

from __future__ import annotations

import json
import logging
import time

import anyio
import httpx
from starlette.responses import Response, StreamingResponse

from . import __version__, sse
from .anthropic_openai import reasoning
from .errors import ProxyError, UpstreamError, bad_request, from_upstream
from .reachability import Reachability
from .request_log import Call, CallLog
from .routing import choose_model
from .settings import Settings
from .upstreams.http import COMPLETION_LIMIT, ERROR_BODY_LIMIT, BodyTooLarge, make_client, read_limited, transport_error

log = logging.getLogger("orbridge.proxy")
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def prepare(body: dict, upstream_model: str) -> dict:
    """The body to forward: the upstream's model name, and no thinking blocks of our own minting."""
    out = dict(body)
    out["model"] = upstream_model
    messages = []
    for msg in body["messages"]:
        content = msg.get("content")
        if msg.get("role") == "assistant" and isinstance(content, list):
            kept = [b for b in content if not _minted(b)]
            if len(kept) != len(content):
                msg = {**msg, "content": kept or [{"type": "text", "text": "(earlier reasoning omitted)"}]}
        messages.append(msg)
    out["messages"] = messages
    return out


def _minted(block: dict) -> bool:
    if block.get("type") == "thinking":
        return reasoning.is_ours(block.get("signature")) or not block.get("signature")
    if block.get("type") == "redacted_thinking":
        return reasoning.is_ours(block.get("data"))
    return False


def _usage_from(events: list[sse.SSEEvent], call: Call) -> None:
    """Usage and stop reason for the log, from whatever the upstream sent (any shape: it is not ours)."""
    for ev in events:
        if ev.event not in ("message_start", "message_delta") or not ev.data:
            continue
        try:
            data = json.loads(ev.data)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        inner = data.get("message") if ev.event == "message_start" else data
        usage = inner.get("usage") if isinstance(inner, dict) else None
        if isinstance(usage, dict):
            call.usage.update({k: v for k, v in usage.items() if isinstance(v, int)})
        delta = data.get("delta")
        if ev.event == "message_delta" and isinstance(delta, dict):
            call.stop_reason = delta.get("stop_reason")


def _partial_secret(data: bytes, secret: bytes) -> int:
    """How many bytes at the end of `data` could be the start of `secret` (held until the next chunk)."""
    if not data or data[-1:] not in secret:
        return 0
    for k in range(min(len(secret) - 1, len(data)), 0, -1):
        if data.endswith(secret[:k]):
            return k
    return 0


async def _read(response: httpx.Response, limit: int, what: str) -> bytes:
    try:
        return await read_limited(response, limit, what)
    finally:
        await response.aclose()


class PassthroughHandler:
    def __init__(self, settings: Settings, calls: CallLog, client: httpx.AsyncClient | None = None,
                 reach: Reachability | None = None) -> None:
        self.settings = settings
        self.calls = calls
        self.redact = calls.redact
        self.reach = reach or Reachability(settings.upstream.base_url)
        up = settings.upstream
        self.url = up.base_url.rstrip("/") + ("/messages" if up.base_url.rstrip("/").endswith("/v1")
                                              else "/v1/messages")
        self.client = client or make_client(up)
        self.headers = {"content-type": "application/json", "user-agent": f"orbridge/{__version__}",
                        **up.headers}
        if up.api_key:
            self.headers["x-api-key"] = up.api_key
            self.headers["authorization"] = f"Bearer {up.api_key}"

    async def aclose(self) -> None:
        await self.client.aclose()

    def _headers(self, client_headers) -> dict[str, str]:
        """Ours, plus the client's Anthropic version and beta flags (printable ASCII only: they go upstream)."""
        headers = dict(self.headers)
        for name in FORWARDED_HEADERS:
            value = client_headers.get(name)
            if value:
                if not (value.isascii() and value.isprintable()):
                    raise bad_request(f"{name} header: only printable ASCII is accepted")
                headers[name] = value
        headers.setdefault("anthropic-version", "2023-06-01")
        return headers

    async def handle(self, body: dict, session: str | None, client_headers, query: str,
                     route: str | None = None) -> Response:
        call = self.calls.begin(session, body["model"], bool(body.get("stream")))
        call.upstream_model, call.route = choose_model(body, self.settings)
        call.route = route or call.route
        try:
            headers = self._headers(client_headers)
        except ProxyError as exc:
            return self.calls.fail(call, exc)
        url = f"{self.url}?{query}" if query else self.url
        content = json.dumps(prepare(body, call.upstream_model), ensure_ascii=False).encode()
        provider = self.settings.upstream.provider
        try:
            response = await self.client.send(self.client.build_request("POST", url, content=content,
                                                                        headers=headers), stream=True)
        except httpx.HTTPError as exc:
            failure = transport_error(exc, provider)
            return self.calls.fail(call, self.reach.error(failure) if failure.status == 0 else from_upstream(failure))
        self.reach.saw_answer()
        try:
            if response.status_code >= 400:
                raw = await _read(response, ERROR_BODY_LIMIT, "its error body")
            elif not call.stream:
                raw = await _read(response, COMPLETION_LIMIT, "the answer body")
        except (BodyTooLarge, httpx.HTTPError) as exc:
            return self.calls.fail(call, ProxyError(502, "api_error", f"{provider} answered {response.status_code}, "
                                               f"and {exc}"))
        if response.status_code >= 400:
            return self.calls.fail(call, self._error(response, raw))
        kept = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "request-id")}
        if not call.stream:
            try:
                call.usage = {k: v for k, v in json.loads(raw).get("usage", {}).items() if isinstance(v, int)}
            except (ValueError, AttributeError):
                pass
            self.calls.done(call)
            return Response(raw, status_code=response.status_code, headers=kept)
        return StreamingResponse(self._relay(response, call), status_code=response.status_code, headers=kept)

    async def count_tokens(self, body: dict, client_headers) -> dict | None:
        """The upstream's own count when it has the endpoint (Anthropic does), else None for the local one."""
        model, _route = choose_model(body, self.settings)
        headers = self._headers(client_headers)
        content = json.dumps(prepare(body, model), ensure_ascii=False).encode()
        try:
            response = await self.client.send(self.client.build_request(
                "POST", self.url + "/count_tokens", content=content, headers=headers, timeout=5.0), stream=True)
            raw = await _read(response, ERROR_BODY_LIMIT, "the count")
            data = json.loads(raw) if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, BodyTooLarge):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("input_tokens"), int) else None

    def _error(self, response: httpx.Response, raw: bytes) -> ProxyError:
        text = raw.decode("utf-8", "replace")
        mapped = from_upstream(UpstreamError(response.status_code, text, dict(response.headers),
                                             self.settings.upstream.provider), self.settings.upstream.key_fix)
        try:
            data = json.loads(text)
            native = data.get("error") if data.get("type") == "error" else None
        except (ValueError, AttributeError):
            native = None
        if isinstance(native, dict) and response.status_code not in (401, 403) and isinstance(native.get("type"), str):
            # Already an Anthropic error: keep its status, type and wording exactly.
            return ProxyError(response.status_code, native["type"], str(native.get("message", "")), mapped.headers)
        return mapped

    def _scrub(self, data: bytes, secret: bytes | None) -> tuple[bytes, bytes]:
        """(bytes to relay now, bytes held back). The upstream's bytes go through untouched unless they quote
        the key: plainly, JSON-escaped (`\\u`, `\\/`: redacted line by line), or cut across two chunks (the
        possible start of the key is held back for the next chunk)."""
        if secret is None:
            return data, b""
        if secret in data or b"\\u" in data or b"\\/" in data:
            cut = data.rfind(b"\n") + 1
            head = data[:cut]
            return (self.redact(head.decode("utf-8", "replace")).encode() if head else b""), data[cut:]
        keep = _partial_secret(data, secret)
        return (data[:-keep], data[-keep:]) if keep else (data, b"")

    async def _relay(self, response: httpx.Response, call: Call):
        decoder = sse.SSEDecoder()
        err = None
        ended = False
        secret = (self.settings.upstream.api_key or "").encode() or None
        held = b""
        try:
            async for raw in response.aiter_bytes():
                if call.first_token is None:
                    call.first_token = time.time()
                _usage_from(list(decoder.feed(raw)), call)
                out, held = self._scrub(held + raw, secret)
                if out:
                    yield out
            if held:
                yield self.redact(held.decode("utf-8", "replace")).encode()
            if call.stop_reason is None and "event-stream" in response.headers.get("content-type", ""):
                raise httpx.RemoteProtocolError("stream ended before message_delta")
            ended = True
        except (httpx.HTTPError, sse.SSETooLarge) as exc:
            ended = True
            err = self.calls.done(call, ProxyError(502, "api_error",
                                                   f"{self.settings.upstream.provider} stream was cut off: {exc}"))
            yield b"\n\n" + sse.encode(err.body())
        except Exception:  # noqa: BLE001 - a bug of ours must still end the stream with an error event
            log.exception("unexpected error relaying a stream")
            ended = True
            err = self.calls.done(call, ProxyError(500, "api_error", "orbridge internal error while streaming"))
            yield b"\n\n" + sse.encode(err.body())
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
            if ended:
                self.calls.done(call, err)
            else:  # the client left mid-answer
                self.calls.cancelled(call)
