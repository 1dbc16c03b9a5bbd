"""The handler for Anthropic-format upstreams: route, forward (`anthropic_anthropic.request`), relay the
answer byte for byte through `upstreams/anthropic.py`, log.

The relayed bytes pass one check of ours: the upstream's key never reaches the client, however the
upstream quotes it (plainly, JSON-escaped, or cut across two network chunks).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

import anyio
from starlette.responses import Response, StreamingResponse

from . import anthropic_anthropic as pair
from . import sse
from .errors import ProxyError, StreamFailed, UpstreamEOF, UpstreamError
from .reachability import Reachability
from .request_log import Call, CallLog
from .routing import choose_model
from .settings import Settings
from .upstreams.anthropic import Answer, AnthropicTransport

log = logging.getLogger("orbridge.proxy")


def _partial_secret(data: bytes, secret: bytes) -> int:
    """How many bytes at the end of `data` could be the start of `secret` (held until the next chunk)."""
    if not data or data[-1:] not in secret:
        return 0
    for k in range(min(len(secret) - 1, len(data)), 0, -1):
        if data.endswith(secret[:k]):
            return k
    return 0


class PassthroughHandler:
    def __init__(self, settings: Settings, transport: AnthropicTransport, calls: CallLog, reach: Reachability) -> None:
        self.settings, self.transport, self.calls, self.reach = settings, transport, calls, reach
        self.secret = (settings.upstream.api_key or "").encode() or None

    async def handle(self, body: dict, session: str | None, client_headers: Mapping[str, str], query: str,
                     route: str | None = None) -> Response:
        call = self.calls.begin(session, body["model"], bool(body.get("stream")))
        call.upstream_model, call.route = choose_model(body, self.settings)
        call.route = route or call.route
        try:
            headers = self.transport.headers(client_headers)
            answer = await self.transport.send(pair.request(body, call.upstream_model), headers, query, call.stream)
        except UpstreamError as exc:
            if exc.status == 0:
                return self.calls.fail(call, self.reach.error(exc))
            self.reach.saw_answer()
            return self.calls.fail(call, pair.error(exc, self.settings.upstream.key_fix))
        except StreamFailed as exc:
            self.reach.saw_answer()
            return self.calls.fail(call, exc.error)
        except ProxyError as exc:
            return self.calls.fail(call, exc)
        self.reach.saw_answer()
        if answer.body is not None:
            call.usage = pair.usage_of(answer.body)
            self.calls.done(call)
            return Response(answer.body, status_code=answer.status, headers=answer.headers)
        return StreamingResponse(self._relay(answer, call), status_code=answer.status, headers=answer.headers)

    async def count_tokens(self, body: dict, client_headers: Mapping[str, str]) -> dict | None:
        """The upstream's own count when it has the endpoint (Anthropic does), else None for the local one."""
        model, _route = choose_model(body, self.settings)
        raw = await self.transport.count_tokens(pair.request(body, model), self.transport.headers(client_headers))
        try:
            data = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        return data if isinstance(data, dict) and isinstance(data.get("input_tokens"), int) else None

    def _scrub(self, data: bytes) -> tuple[bytes, bytes]:
        """(bytes to relay now, bytes held back). The upstream's bytes go through untouched unless they quote
        the key: plainly, JSON-escaped (`\\u`, `\\/`: redacted line by line), or cut across two chunks (the
        possible start of the key is held back for the next chunk)."""
        secret = self.secret
        if secret is None:
            return data, b""
        if secret in data or b"\\u" in data or b"\\/" in data:
            cut = data.rfind(b"\n") + 1
            head = data[:cut]
            return (self.calls.redact(head.decode("utf-8", "replace")).encode() if head else b""), data[cut:]
        keep = _partial_secret(data, secret)
        return (data[:-keep], data[-keep:]) if keep else (data, b"")

    async def _relay(self, answer: Answer, call: Call):
        decoder = sse.SSEDecoder()
        err = None
        ended = False
        held = b""
        try:
            async for raw in answer:
                if call.first_token is None:
                    call.first_token = time.time()
                call.stop_reason = pair.stream_facts(list(decoder.feed(raw)), call.usage, call.stop_reason)
                out, held = self._scrub(held + raw)
                if out:
                    yield out
            if held:
                yield self.calls.redact(held.decode("utf-8", "replace")).encode()
            if call.stop_reason is None and answer.is_event_stream:
                raise UpstreamEOF("stream ended before message_delta")
            ended = True
        except (UpstreamEOF, sse.SSETooLarge) as exc:
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
                await answer.aclose()
            if ended:
                self.calls.done(call, err)
            else:  # the client left mid-answer
                self.calls.cancelled(call)
