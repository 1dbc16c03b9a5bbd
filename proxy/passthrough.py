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
from .disconnect import Client, ClientGone, unless_disconnected
from .errors import ProxyError, StreamFailed, UpstreamEOF, UpstreamError
from .reachability import Reachability
from .request_log import Call, CallLog
from .routing import choose_model
from .settings import Settings
from .upstreams.anthropic import Answer, AnthropicTransport

log = logging.getLogger("orbridge.proxy")
HOLD_LIMIT = 64 * 1024  # an unfinished line held back while it may be spelling the key


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
                     route: str | None = None, client: Client | None = None) -> Response:
        call = self.calls.begin(session, body["model"], bool(body.get("stream")))
        call.upstream_model, call.route = choose_model(body, self.settings)
        call.route = route or call.route
        try:
            headers = self.transport.headers(client_headers)
            sending = self.transport.send(pair.request(body, call.upstream_model), headers, query, call.stream)
            answer = await (sending if call.stream else unless_disconnected(sending, client))
        except ClientGone:
            self.calls.cancelled(call)
            return Response(status_code=499)
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
            return Response(self._scrubbed(answer.body), status_code=answer.status, headers=answer.headers)
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

    def _scrubbed(self, data: bytes) -> bytes:
        """`data` with the key masked wherever it is quoted, plainly or JSON-escaped (`\\u`, `\\/`); the bytes
        untouched when there is nothing to mask."""
        if self.secret is None or not (self.secret in data or b"\\u" in data or b"\\/" in data):
            return data
        return self.calls.redact(data.decode("utf-8", "replace")).encode()

    def _scrub(self, data: bytes) -> tuple[bytes, bytes]:
        """(bytes to relay now, bytes held back). Complete lines go through (masked when they quote the key);
        an unfinished last line is held for the next chunk while it could still be spelling the key (it has
        an escape, the key, or the key's start at its end), so no way of cutting the key across chunks gets
        it through. A held line past HOLD_LIMIT goes on masked as it is."""
        if self.secret is None:
            return data, b""
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if tail and len(tail) <= HOLD_LIMIT and (b"\\" in tail or self.secret in tail
                                                  or _partial_secret(tail, self.secret)):
            return self._scrubbed(data[:cut]), tail
        return self._scrubbed(data), b""

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
                yield self._scrubbed(held)
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
