"""The proxy's HTTP surface: routes, auth, body limits, the error envelope. No translation here.

Built on Starlette, the ASGI core FastAPI itself runs on: the proxy uses no request models, validation
or OpenAPI, and FastAPI's pydantic layer cost ~170 ms of import and app setup on every `orbridge run`
(measured: 262 ms vs 95 ms to a serving proxy) plus ~20 MiB.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import logging
import sys
import time
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import __version__, tokens, upstreams
from .batches import api as batch_api
from .batches import runner as batch_runner
from .budget import Budget
from .disconnect import Client
from .errors import ProxyError, bad_request, error_response, final
from .json_codec import loads
from .listen import is_loopback
from .messages import MessagesHandler
from .reachability import Reachability
from .redaction import for_settings, safe_url
from .request_log import CallLog, RequestLog
from .settings import FAMILIES, Settings
from .upstreams import Transport
from .validation import validate_request

log = logging.getLogger("orbridge.proxy")



def _host_of(value: str) -> str:
    value = value.strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.split("/", 1)[0]
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


_GUARD_HEADERS = frozenset((b"host", b"origin", b"x-api-key", b"authorization"))


class Guard:
    """Pure ASGI middleware: loopback Host/Origin only (a web page must not drive the proxy through the
    user's browser), and the per-run token on every /v1 route, compared in constant time. Other routes learn
    whether the token was given (`scope["state"]["authorized"]`), so /health shows details only then.

    It also dispatches the hot route (HOT: the call Claude Code makes on every turn) itself, past Starlette's
    router and exception layers, which the endpoint does not need: `guarded` turns every failure into the
    error envelope already. That took ~0.05 ms off each stream's time to first token (bench/)."""

    def __init__(self, app, token: bytes, allow_remote: bool) -> None:
        self.app = app
        self.token = token
        self.allow_remote = allow_remote

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for name, value in scope["headers"]:
            name = name.lower()
            if name in _GUARD_HEADERS:
                headers[name.decode()] = value.decode("latin-1")
        err = None
        if not self.allow_remote:
            host = _host_of(headers.get("host", "127.0.0.1"))
            origin = headers.get("origin")
            if not is_loopback(host) or (origin and not is_loopback(_host_of(origin))):
                err = final(403, "permission_error", "orbridge only accepts requests from this machine")
        given = headers.get("x-api-key")
        if given is None:
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        authorized = given is not None and hmac.compare_digest(given.encode("latin-1"), self.token)
        if err is None and not authorized and scope["path"].startswith("/v1/"):
            err = final(401, "authentication_error", "invalid x-api-key or bearer token for this orbridge proxy")
        if err is not None:
            return await error_response(err)(scope, receive, send)
        scope.setdefault("state", {})["authorized"] = authorized
        endpoint = HOT.get((scope["method"], scope["path"]))
        if endpoint is None:
            return await self.app(scope, receive, send)
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def make_transport(settings: Settings):
    """The transport for the profile's kind (upstreams.KINDS), imported only when used."""
    module, name = upstreams.kind(settings.upstream.kind).transport.split(":")
    return getattr(importlib.import_module(f"{upstreams.__name__}.{module}"), name)(settings.upstream)


def guarded(endpoint):
    """Every failure of an endpoint becomes the Anthropic error envelope. An unexpected exception also
    leaves exactly one traceback in the log and one request-log line (never a bare 500 or a second trace)."""

    async def run(request: Request) -> Response:
        state = request.app.state
        try:
            return await endpoint(request)
        except ProxyError as exc:
            return error_response(state.calls.redacted(exc))
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            err = ProxyError(500, "api_error", f"orbridge internal error: {type(exc).__name__}")
            state.request_log.write({"time": round(time.time(), 3), "profile": state.settings.profile,
                                     "provider": state.settings.upstream.provider, "path": request.url.path,
                                     "status": 500, "error_type": err.type, "error": err.message})
            return error_response(err)

    return run


def _too_large(limit: int) -> ProxyError:
    return final(413, "request_too_large", f"request body is larger than {limit // (1024 * 1024)} MB")


async def read_json(request: Request, count_only: bool = False) -> dict:
    """The request body as a validated Messages (or count_tokens) request, or a 400/413 saying why not."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw or raw.isspace():
        raise bad_request("request body: expected a JSON object, got an empty body")
    try:
        body = loads(raw, strict=True)
    except ValueError as exc:
        raise bad_request(f"request body: invalid JSON ({exc})"[:300]) from None
    try:
        validate_request(body, count_only=count_only)
    except RecursionError:
        raise bad_request("request body: nested too deeply") from None
    return body


async def messages(request: Request) -> Response:
    state = request.app.state
    body = await read_json(request)
    session = request.headers.get("x-claude-code-session-id")
    if state.budget is not None and (refusal := state.budget.refusal()) is not None:
        call = state.calls.begin(session, str(body.get("model")), bool(body.get("stream")))
        state.calls.done(call, ProxyError(refusal.status, "budget", refusal.message))  # logged as a budget stop
        return error_response(refusal)
    if state.bodies is not None:
        state.bodies.write({"time": round(time.time(), 3), "session": session, "body": body})
    if state.passthrough is not None:
        return await state.passthrough.handle(body, session, request.headers, request.url.query,
                                             client=Client(request.scope, request.receive))
    return await state.handler.handle(body, session, Client(request.scope, request.receive))


async def count(request: Request) -> Response:
    body = await read_json(request, count_only=True)
    passthrough = request.app.state.passthrough
    if passthrough is not None:
        exact = await passthrough.count_tokens(body, request.headers)
        if exact is not None:
            return JSONResponse(exact)
    # In a worker thread: the first call loads the encoding (~0.1 s) without stalling open streams.
    return JSONResponse({"input_tokens": await anyio.to_thread.run_sync(tokens.count_tokens, body)})


def _model_entries(settings: Settings) -> list[dict]:
    tiers = settings.models.tiers()
    return [{"type": "model", "id": f"claude-{family}-orbridge", "created_at": "2025-01-01T00:00:00Z",
             "display_name": f"{family.title()} tier → {tiers[family]}"} for family in FAMILIES]


async def models(request: Request) -> Response:
    data = _model_entries(request.app.state.settings)
    return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})


async def model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    for entry in _model_entries(request.app.state.settings):
        if entry["id"] == model_id:
            return JSONResponse(entry)
    raise final(404, "not_found_error", f"model: {model_id}")


async def hello(_request: Request) -> Response:
    return JSONResponse({"ok": True, "service": "orbridge"})


async def health(request: Request) -> Response:
    """Liveness for anyone; the configuration only for a caller holding the token."""
    if not request.scope.get("state", {}).get("authorized"):
        return JSONResponse({"status": "ok"})
    settings = request.app.state.settings
    up = settings.upstream
    return JSONResponse({
        "status": "ok",
        "version": __version__,
        "profile": settings.profile,
        "upstream": {"provider": up.provider, "kind": up.kind, "base_url": safe_url(up.base_url),
                     "key": "set" if up.api_key else "none"},
        "litellm_loaded": "litellm" in sys.modules,
        "upstream_answered": request.app.state.reach.answered,
        "upstream_failure": request.app.state.reach.failure,
        "models": {"default": settings.models.default, **settings.models.tiers()},
    })


async def http_error(_request: Request, exc: HTTPException) -> Response:
    kinds = {404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large"}
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(final(exc.status_code, kinds.get(exc.status_code, "api_error"), message))


HOT = {("POST", "/v1/messages"): guarded(messages)}  # Guard dispatches these itself
ROUTES = [
    Route("/v1/messages", HOT["POST", "/v1/messages"], methods=["POST"]),
    Route("/v1/messages/count_tokens", guarded(count), methods=["POST"]),
    Route("/v1/models", guarded(models), methods=["GET"]),
    Route("/v1/models/{model_id:path}", guarded(model), methods=["GET"]),
    Route("/", hello, methods=["GET", "HEAD"]),
    Route("/api/hello", hello, methods=["GET", "HEAD"]),
    Route("/health", guarded(health), methods=["GET"]),
]
ROUTES += batch_api.routes(guarded)


def create_app(settings: Settings, transport: Transport | None = None) -> Starlette:
    """The proxy for one profile: its state lives on `app.state`, handlers are module functions."""
    up = settings.upstream
    redact = for_settings(settings)
    request_log = RequestLog(settings.log_path)
    handler = passthrough = None
    reach = Reachability(up.base_url)
    budget = Budget(settings.budget) if settings.budget else None
    calls = CallLog(request_log, settings, redact, budget)
    transport = transport or make_transport(settings)
    if upstreams.kind(up.kind).relays:
        from .passthrough import PassthroughHandler

        passthrough = PassthroughHandler(settings, transport, calls, reach)
    else:
        handler = MessagesHandler(settings, transport, calls, reach)

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        check = asyncio.ensure_future(reach.check()) if settings.check_upstream else None
        batch_runner.start(_app)
        yield
        if getattr(_app.state, "batches", None) is not None:
            await _app.state.batches.stop()
        if check is not None:
            check.cancel()
        await transport.aclose()
        request_log.close()
        if _app.state.bodies is not None:
            _app.state.bodies.close()

    app = Starlette(routes=ROUTES, lifespan=lifespan,
                    middleware=[Middleware(Guard, token=settings.token.encode(),
                                           allow_remote=settings.allow_remote)],
                    exception_handlers={HTTPException: http_error})
    app.state.settings = settings
    app.state.batches = None
    app.state.handler = handler
    app.state.passthrough = passthrough
    app.state.request_log = request_log
    # Opt-in (`--log-bodies`): request bodies in their own 0600 file, never in the request log.
    app.state.bodies = RequestLog(settings.log_bodies_path, emit=False) if settings.log_bodies_path else None
    app.state.redact = redact
    app.state.reach = reach
    app.state.calls = calls
    app.state.budget = budget
    return app
