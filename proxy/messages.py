"""One `/v1/messages` call: route, translate, call the upstream, translate back, log.

Streaming: the upstream's first chunk is awaited for a short grace period so an upstream failure can still
be answered with a real HTTP status (which Claude Code retries correctly); after that the response is
committed, `ping` events keep a silent upstream's stream alive, and any later failure ends the stream
with an `error` event. A client that leaves ends the stream at once (`_EventStream` fails the pump with
ClientGone) and the upstream response is closed; a non-streamed call is cancelled (`unless_disconnected`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import anyio
from starlette.responses import Response

from . import sse
from .adapt import Adaptations
from .anthropic_openai.stream import StreamTranslator, usage_dict
from .anthropic_openai.translator import AnthropicToOpenAI
from .disconnect import Client, ClientGone, unless_disconnected
from .errors import ProxyError, StreamFailed, UpstreamEOF, UpstreamError, as_proxy_error, bad_request, from_upstream
from .pump import TIMEOUT, Pump
from .reachability import Reachability
from .request_log import Call, CallLog
from .routing import choose_model
from .settings import Settings
from .tokens import estimate_tokens
from .upstreams import ChunkStream, Transport

log = logging.getLogger("orbridge.proxy")
PING = sse.encode({"type": "ping"})
# Upstream answers that send a request on to the next fallback model (0: unreachable).
FALLBACK_STATUSES = {0, 408, 429, 500, 502, 503, 504, 529}
# After the finish chunk, how long to wait for the trailing usage chunk before ending the message.
USAGE_GRACE = 5.0
# What ends an open stream with an Anthropic error (an HTTP status before the first byte, an event after).
STREAM_ERRORS = (StreamFailed, UpstreamEOF, ProxyError)


class MessagesHandler:
    def __init__(self, settings: Settings, transport: Transport, calls: CallLog, reach: Reachability) -> None:
        self.settings, self.transport, self.calls, self.reach = settings, transport, calls, reach
        self.adapt = Adaptations(settings)

    def _upstream_failure(self, exc: UpstreamError, model: str) -> ProxyError:
        if exc.status == 0:
            return self.reach.error(exc)
        if not exc.missing_credentials:
            self.reach.saw_answer()
        return from_upstream(exc, self.settings.upstream.key_fix, model)

    async def handle(self, body: dict, session: str | None, client: Client | None = None,
                     route: str | None = None) -> Response:
        """Try the routed model, then the fallbacks; ask one model again when its error taught us how.
        `route` names the call in the request log when it is not a client's (a batch request: "batch")."""
        call = self.calls.begin(session, body["model"], bool(body.get("stream")))
        primary, call.route = choose_model(body, self.settings)
        call.route = route or call.route
        fallbacks = iter([m for m in self.settings.routes.fallbacks if m != primary])
        model, estimate, learned = primary, estimate_tokens(body), set()
        while True:
            call.upstream_model = model
            translator = AnthropicToOpenAI(body, self.adapt.target(model), call.stream, estimate)
            if translator.refusal:
                return self.calls.fail(call, bad_request(translator.refusal))
            try:
                answer = await self._ask(translator, call.stream, client)
                break
            except ClientGone:
                self.calls.cancelled(call)
                return Response(status_code=499)
            except UpstreamError as exc:
                if self.adapt.learn(model, exc, translator.request(), learned):
                    continue
                following = next(fallbacks, None) if exc.status in FALLBACK_STATUSES else None
                if following is None:
                    return self.calls.fail(call, self._upstream_failure(exc, model))
                call.fallbacks.append(f"{model}: {exc.status or 'unreachable'}")
                model = following
            except StreamFailed as exc:
                self.reach.saw_answer()
                return self.calls.fail(call, exc.error)
        if call.stream:
            return await self._stream(call, answer, translator)
        return self._message(call, translator, answer)

    async def _ask(self, translator: AnthropicToOpenAI, stream: bool, client: Client | None) -> ChunkStream | dict:
        """One request to the upstream: an open stream, or the whole completion (given up if the client leaves)."""
        if stream:
            answer = await self.transport.open_stream(translator.request())
        else:
            answer = await unless_disconnected(self.transport.complete(translator.request()), client)
        self.reach.saw_answer()
        return answer

    def _message(self, call: Call, translator: AnthropicToOpenAI, completion: dict) -> Response:
        message = translator.message(completion)
        call.first_token = time.time()
        call.usage = message.get("usage", {})
        call.cost = (completion.get("usage") or {}).get("cost")
        call.stop_reason = message.get("stop_reason")
        self.calls.done(call)
        return Response(sse.dumps(message).encode(), media_type="application/json",
                        headers={"request-id": "req_" + message["id"][4:]})

    async def _stream(self, call: Call, upstream: ChunkStream, translator: AnthropicToOpenAI) -> Response:
        provider = self.settings.upstream.provider
        pump = Pump(upstream)
        events = translator.stream()
        try:
            early, finished = await self._early(pump, events)
        except STREAM_ERRORS as exc:
            await pump.aclose()
            return self.calls.fail(call, as_proxy_error(exc, provider))
        except asyncio.CancelledError:
            await pump.aclose()
            self.calls.cancelled(call)
            raise
        except BaseException:
            await pump.aclose()
            raise
        if finished and events.finish_reason is None and not upstream.done:
            await pump.aclose()
            said = upstream.unparsed_text()
            return self.calls.fail(call, ProxyError(502, "api_error", f"{provider} closed the stream "
                                               "without an answer" + (f": {said}" if said else "")))
        headers = {"cache-control": "no-cache", "x-accel-buffering": "no",
                   "request-id": "req_" + events.message_id[4:]}
        return _EventStream(self._events(call, pump, upstream, events, early, finished), pump,
                            on_close=lambda: self._settle(call, events), headers=headers)

    async def _early(self, pump: Pump, translator: StreamTranslator) -> tuple[list[dict], bool]:
        """The events before the first content (or the finish), waiting at most the first-byte grace, and
        whether the upstream already ended: until then a failure can still be answered with an HTTP status."""
        early: list[dict] = []
        deadline = time.monotonic() + self.settings.first_byte_grace
        try:
            while not translator.first_content and translator.finish_reason is None:
                batch = await pump.take(max(deadline - time.monotonic(), 0))
                if batch is TIMEOUT:
                    break
                for item in batch:
                    early.extend(translator.feed(item))
        except StopAsyncIteration:
            return early, True
        return early, False

    async def _events(self, call: Call, pump: Pump, upstream: ChunkStream, translator: StreamTranslator,
                      early: list[dict], finished: bool) -> AsyncIterator[bytes]:
        err: ProxyError | None = None
        ended = False
        try:
            head = b"".join(sse.encode(ev) for ev in translator.start()) + PING
            if early:  # in the same write as the head: the first token leaves with the first bytes
                call.first_token = time.time()
                head += b"".join(sse.encode(ev) for ev in early)
            yield head
            try:
                while not finished:
                    waiting = USAGE_GRACE if translator.finish_reason else self.settings.ping_interval
                    try:
                        batch = await pump.take(waiting)
                    except StopAsyncIteration:
                        break
                    if batch is TIMEOUT:
                        if translator.finish_reason:
                            break
                        yield PING
                        continue
                    events = []
                    for item in batch:
                        events += translator.feed(item)
                    if events:
                        if call.first_token is None:
                            call.first_token = time.time()
                        yield b"".join(sse.encode(ev) for ev in events)
            except StreamFailed as exc:
                self._after_finish(exc, translator)
            if translator.finish_reason is None and not upstream.done:
                raise UpstreamEOF("the upstream closed the stream before finishing its answer")
            events = translator.finish()
            call.stop_reason = translator.stop_reason()
            ended = True
            yield b"".join(sse.encode(ev) for ev in events)
        except ClientGone:
            return  # nobody to tell: logged as cancelled below
        except Exception as exc:  # noqa: BLE001 - a stream never ends without a word: an error event
            err = self._stream_error(exc)
            ended = True
            yield sse.encode({"type": "error", "error": err.body()["error"]})
        finally:
            with anyio.CancelScope(shield=True):  # a client disconnect must still close the upstream
                await pump.aclose()
            self._settle(call, translator, ended, err)

    def _after_finish(self, exc: StreamFailed, translator: StreamTranslator) -> None:
        """An error after the finish chunk (OpenRouter's "Token limit reached" after a `length` stop) does not
        undo a complete answer: the message ends as it stopped. Before the finish, the error stands."""
        if translator.finish_reason is None:
            raise exc
        log.info("error after the finish chunk, ignored: %s", self.calls.redact(str(exc.error)))
        if exc.chunk:
            translator.feed({k: v for k, v in exc.chunk.items() if k not in ("error", "choices")})

    def _stream_error(self, exc: Exception) -> ProxyError:
        """The error event that ends a stream; an unexpected exception also leaves one traceback."""
        if isinstance(exc, STREAM_ERRORS):
            return self.calls.redacted(as_proxy_error(exc, self.settings.upstream.provider))
        log.exception("unexpected error in a stream")
        return ProxyError(500, "api_error", "orbridge internal error while streaming")

    def _settle(self, call: Call, translator: StreamTranslator, ended: bool = False,
                err: ProxyError | None = None) -> None:
        """Log the call once, with the usage seen: ended (with its error, if any), or cancelled (the client
        left). A call already logged is left alone."""
        if call.logged:
            return
        call.usage = usage_dict(translator.usage)
        call.cost = translator.usage.cost
        if ended:
            self.calls.done(call, err)
        else:
            self.calls.cancelled(call)


class _EventStream(Response):
    """The SSE answer: its head, then each batch of events as it is translated.

    The client's leaving ends the stream through the pump, so the upstream call is closed at once, not at the
    next write. (Starlette's StreamingResponse watches with an anyio task group and a second task per
    response, which showed in the time to first token: bench/.) The upstream is
    closed even when the body is never iterated, and the call then logged as cancelled (`on_close` is a
    no-op for a call already logged)."""

    media_type = "text/event-stream; charset=utf-8"

    def __init__(self, events: AsyncGenerator[bytes, None], pump: Pump, on_close: Callable[[], None],
                 headers: dict[str, str]) -> None:
        self._events, self._pump, self._on_close = events, pump, on_close
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope, receive, send) -> None:
        stop_watching = Client(scope, receive).on_leave(lambda: self._pump.fail(ClientGone()))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self._events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            stop_watching()
            with anyio.CancelScope(shield=True):
                await self._events.aclose()
                await self._pump.aclose()
            self._on_close()
