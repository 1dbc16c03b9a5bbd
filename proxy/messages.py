"""One `/v1/messages` call: route, translate, call the upstream, translate back, log.

Streaming: the upstream's first chunk is awaited for a short grace period so an upstream failure can still
be answered with a real HTTP status (which Claude Code retries correctly); after that the response is
committed, `ping` events keep a silent upstream's stream alive, and any later failure ends the stream
with an `error` event. Client disconnects cancel the upstream request (the generator is cancelled and
its `finally` closes the upstream response).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable

import anyio
from starlette.responses import Response, StreamingResponse

from . import sse
from .anthropic_openai.request import Target, translate_request
from .anthropic_openai.response import translate_response
from .anthropic_openai.stream import StreamTranslator, usage_dict
from .errors import (
    ProxyError,
    UpstreamError,
    bad_request,
    from_upstream,
    output_cap_hint,
    system_position_hint,
    unsupported_param_hint,
)
from .pump import TIMEOUT, Pump
from .reachability import Reachability
from .request_log import Call, CallLog
from .routing import choose_model, has_images
from .settings import ModelInfo, Settings
from .tokens import estimate_tokens
from .upstreams import Transport
from .upstreams.openai_compatible import StreamFailed, UpstreamEOF

log = logging.getLogger("orbridge.proxy")
PING = sse.encode({"type": "ping"})
# Upstream answers that send a request on to the next fallback model (0: unreachable).
FALLBACK_STATUSES = {0, 408, 429, 500, 502, 503, 504, 529}
# After the finish chunk, how long to wait for the trailing usage chunk before ending the message.
USAGE_GRACE = 5.0


class MessagesHandler:
    def __init__(self, settings: Settings, transport: Transport, calls: CallLog,
                 reach: Reachability | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self.calls = calls
        self.redact = calls.redact
        self.reach = reach or Reachability(settings.upstream.base_url)
        self._learned_caps: dict[str, int] = {}  # upstream model -> output cap its errors revealed
        self._dropped: dict[str, set[str]] = {}  # upstream model -> optional parameters it rejected
        self._leading_system: set[str] = set()  # upstream models whose template wants one leading system message

    def _target(self, upstream_model: str) -> Target:
        info = self.settings.model_info.get(upstream_model, ModelInfo())
        learned = self._learned_caps.get(upstream_model)
        if learned is not None and (info.max_output is None or learned < info.max_output):
            info = dataclasses.replace(info, max_output=learned)
        openrouter = self.settings.upstream.is_openrouter and self.settings.upstream.kind == "openai"
        target = Target.for_model(upstream_model, openrouter, info)
        if upstream_model in self._leading_system:
            target = dataclasses.replace(target, leading_system_only=True)
        return target

    def _closed(self, call: Call, translator: StreamTranslator) -> None:
        """The response is over: if the call was not logged yet, the client left; log what it had."""
        if not call.logged:
            call.usage = usage_dict(translator.usage)
            call.cost = translator.usage.cost
            self.calls.cancelled(call)

    def _upstream_failure(self, exc: UpstreamError, model: str) -> ProxyError:
        if exc.status == 0:
            return self.reach.error(exc)
        if not exc.missing_credentials:
            self.reach.saw_answer()
        return from_upstream(exc, self.settings.upstream.key_fix, model)

    async def handle(self, body: dict, session: str | None, receive=None) -> Response:
        requested = body["model"]
        call = self.calls.begin(session, requested, bool(body.get("stream")))
        primary, call.route = choose_model(body, self.settings)
        input_estimate = estimate_tokens(body)
        candidates = [primary] + [m for m in self.settings.routes.fallbacks if m != primary]
        attempt, capped = 0, False
        while True:
            model = candidates[attempt]
            call.upstream_model = model
            target = self._target(model)
            if target.info.vision is False and has_images(body):
                return self.calls.fail(call, bad_request(f"model {model} does not accept images; choose a vision model "
                                                    "for this tier (see `orbridge models --vision`)"))
            translated = translate_request(body, target, call.stream, input_estimate)
            for key in self._dropped.get(model, ()):
                translated.body.pop(key, None)
            try:
                if call.stream:
                    upstream = await self.transport.open_stream(translated.body)
                else:
                    completion = await _unless_disconnected(self.transport.complete(translated.body), receive)
                self.reach.saw_answer()
                break
            except _ClientGone:
                self.calls.cancelled(call)
                return Response(status_code=499)
            except UpstreamError as exc:
                if model not in self._leading_system and system_position_hint(exc):
                    self._leading_system.add(model)
                    continue
                drop = unsupported_param_hint(exc, translated.body)
                if drop is not None:
                    # This endpoint does not take one of the optional parameters: remember, ask again.
                    self._dropped.setdefault(model, set()).add(drop)
                    continue
                cap = None if capped else output_cap_hint(exc, translated.body)
                if cap is not None:
                    # The model allows fewer output tokens than Claude Code asked for: remember its cap
                    # and ask again, rather than fail every turn.
                    self._learned_caps[model] = cap
                    capped = True
                    continue
                if attempt + 1 < len(candidates) and exc.status in FALLBACK_STATUSES:
                    call.fallbacks.append(f"{model}: {exc.status or 'unreachable'}")
                    attempt += 1
                    continue
                return self.calls.fail(call, self._upstream_failure(exc, model))
            except StreamFailed as exc:
                self.reach.saw_answer()
                return self.calls.fail(call, exc.error)
        if call.stream:
            return await self._stream(call, upstream, translated, input_estimate)
        message = translate_response(completion, requested, translated.tool_names,
                                     translated.stop_sequences, input_estimate)
        call.first_token = time.time()
        call.usage = message.get("usage", {})
        call.cost = (completion.get("usage") or {}).get("cost")
        call.stop_reason = message.get("stop_reason")
        self.calls.done(call)
        return Response(sse.dumps(message).encode(), media_type="application/json")

    async def _stream(self, call: Call, upstream, translated, input_estimate: int) -> Response:
        settings = self.settings
        pump = Pump(upstream)
        translator = StreamTranslator(call.requested_model, translated.tool_names,
                                      translated.stop_sequences, input_estimate)
        early: list[dict] = []
        finished = False
        deadline = time.monotonic() + settings.first_byte_grace
        try:
            while not translator.first_content and translator.finish_reason is None:
                batch = await pump.take(max(deadline - time.monotonic(), 0))
                if batch is TIMEOUT:
                    break
                for item in batch:
                    early.extend(translator.feed(item))
        except StopAsyncIteration:
            finished = True
        except (StreamFailed, UpstreamEOF, ProxyError) as exc:
            await pump.aclose()
            return self.calls.fail(call, _as_proxy_error(exc, settings.upstream.provider))
        except asyncio.CancelledError:
            await pump.aclose()
            self.calls.cancelled(call)
            raise
        except BaseException:
            await pump.aclose()
            raise
        if finished and translator.finish_reason is None and not getattr(upstream, "done", False):
            await pump.aclose()
            said = upstream.unparsed_text() if hasattr(upstream, "unparsed_text") else ""
            return self.calls.fail(call, ProxyError(502, "api_error", f"{settings.upstream.provider} closed the stream "
                                               "without an answer" + (f": {said}" if said else "")))
        headers = {"cache-control": "no-cache", "x-accel-buffering": "no",
                   "request-id": "req_" + translator.message_id[4:]}
        return _EventStream(self._events(call, pump, upstream, translator, early, finished), pump,
                            on_close=lambda: self._closed(call, translator),
                            media_type="text/event-stream; charset=utf-8", headers=headers)

    async def _events(self, call: Call, pump: Pump, upstream, translator: StreamTranslator,
                      early: list[dict], finished: bool) -> AsyncIterator[bytes]:
        settings = self.settings
        err: ProxyError | None = None
        ended = False
        try:
            yield b"".join(sse.encode(ev) for ev in translator.start()) + PING
            if early:
                call.first_token = time.time()
                yield b"".join(sse.encode(ev) for ev in early)
            try:
                while not finished:
                    waiting = USAGE_GRACE if translator.finish_reason else settings.ping_interval
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
                if translator.finish_reason is None:
                    raise
                # The answer was complete: a trailing error (OpenRouter's "Token limit reached" after a
                # `length` stop) does not undo it; the message ends as it stopped (max_tokens for length).
                log.info("error after the finish chunk, ignored: %s", self.redact(str(exc.error)))
                if getattr(exc, "chunk", None):
                    translator.feed({k: v for k, v in exc.chunk.items() if k not in ("error", "choices")})
            if translator.finish_reason is None and not getattr(upstream, "done", False):
                raise UpstreamEOF("the upstream closed the stream before finishing its answer")
            events = translator.finish()
            call.stop_reason = translator.stop_reason()
            ended = True
            yield b"".join(sse.encode(ev) for ev in events)
        except (StreamFailed, UpstreamEOF, ProxyError) as exc:
            err = self.calls.redacted(_as_proxy_error(exc, settings.upstream.provider))
            ended = True
            yield sse.encode({"type": "error", "error": err.body()["error"]})
        except Exception:  # noqa: BLE001 - a stream never ends without a word: an error event, one traceback
            log.exception("unexpected error in a stream")
            err = ProxyError(500, "api_error", "orbridge internal error while streaming")
            ended = True
            yield sse.encode({"type": "error", "error": err.body()["error"]})
        finally:
            with anyio.CancelScope(shield=True):  # a client disconnect must still close the upstream
                await pump.aclose()
            call.usage = usage_dict(translator.usage)
            call.cost = translator.usage.cost
            if ended:
                self.calls.done(call, err)
            else:
                self.calls.cancelled(call)



class _EventStream(StreamingResponse):
    """Closes the upstream even when the body is never iterated (the client left before the first byte),
    and then logs the call as cancelled (`on_close` is a no-op for a call already logged)."""

    def __init__(self, content, pump: Pump, on_close: Callable[[], None], **kw) -> None:
        super().__init__(content, **kw)
        self._pump = pump
        self._on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._pump.aclose()
            self._on_close()


class _ClientGone(Exception):
    pass


async def _unless_disconnected(work, receive):
    """Await `work`, cancelling it if the client disconnects first (no orphaned upstream call)."""
    if receive is None:
        return await work
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    try:
        await task
    except BaseException:  # noqa: BLE001 - the cancelled call's outcome no longer matters
        pass
    raise _ClientGone


def _as_proxy_error(exc: BaseException, provider: str) -> ProxyError:
    if isinstance(exc, StreamFailed):
        return exc.error
    if isinstance(exc, ProxyError):
        return exc
    return ProxyError(502, "api_error", f"{provider} stream was cut off: {exc}")
