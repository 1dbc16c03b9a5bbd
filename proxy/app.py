"""The proxy's HTTP surface: routes, auth, body limits, the error envelope. No translation here.

Built on Starlette, the ASGI core FastAPI itself runs on: the proxy uses no request models, validation
or OpenAPI, and FastAPI's pydantic layer cost ~170 ms of import and app setup on every `orbridge run`
(measured: 262 ms vs 95 ms to a serving proxy) plus ~20 MiB.
"""

from __future__ import annotations

import hmac
import json
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

from . import __version__, tokens
from .errors import ProxyError, bad_request, final
from .messages import MessagesHandler, error_response
from .request_log import RequestLog
from .routing import FAMILIES
from .settings import Settings
from .upstreams import Transport
from .validation import validate_request

log = logging.getLogger("orbridge.proxy")

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _host_of(value: str) -> str:
    value = value.strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.split("/", 1)[0]
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """Pure ASGI middleware: loopback Host/Origin only (a web page must not drive the proxy through the
    user's browser), and the per-run token on every /v1 route, compared in constant time."""

    def __init__(self, app, token: bytes, allow_remote: bool) -> None:
        self.app = app
        self.token = token
        self.allow_remote = allow_remote

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        err = None
        if not self.allow_remote:
            host = _host_of(headers.get("host", "127.0.0.1"))
            origin = headers.get("origin")
            if host not in LOOPBACK_HOSTS or (origin and _host_of(origin) not in LOOPBACK_HOSTS):
                err = final(403, "permission_error", "orbridge only accepts requests from this machine")
        if err is None and scope["path"].startswith("/v1/"):
            given = headers.get("x-api-key")
            if given is None:
                auth = headers.get("authorization", "")
                given = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            if given is None or not hmac.compare_digest(given.encode(), self.token):
                err = final(401, "authentication_error",
                            "invalid x-api-key or bearer token for this orbridge proxy")
        if err is None:
            return await self.app(scope, receive, send)
        await error_response(err)(scope, receive, send)


def make_transport(settings: Settings) -> Transport:
    """The transport for the profile's kind; heavier ones are imported only when used."""
    kind = settings.upstream.kind
    if kind == "openai":
        from .upstreams.openai_compatible import OpenAICompatible

        return OpenAICompatible(settings.upstream)
    if kind == "litellm":
        from .upstreams.litellm_provider import LiteLLMTransport

        return LiteLLMTransport(settings.upstream)
    raise ValueError(f"unknown upstream kind {kind!r}")


def create_app(settings: Settings, transport: Transport | None = None) -> Starlette:
    log = RequestLog(settings.log_path)
    # Opt-in (`--log-bodies`): request bodies in their own 0600 file, never in the request log.
    bodies = RequestLog(settings.log_bodies_path, emit=False) if settings.log_bodies_path else None
    if settings.upstream.kind == "anthropic":
        from .passthrough import PassthroughHandler

        passthrough = PassthroughHandler(settings, log)
        closer = passthrough.aclose
    else:
        passthrough = None
        transport = transport or make_transport(settings)
        handler = MessagesHandler(settings, transport, log)
        closer = transport.aclose
    limit_mb = settings.max_body_bytes // (1024 * 1024)

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        yield
        await closer()

    async def proxy_error(_request: Request, exc: ProxyError) -> Response:
        return error_response(exc)

    async def http_error(_request: Request, exc: HTTPException) -> Response:
        kinds = {404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large"}
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        return error_response(final(exc.status_code, kinds.get(exc.status_code, "api_error"), message))

    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_response(ProxyError(500, "api_error", f"orbridge internal error: {type(exc).__name__}"))

    async def read_json(request: Request, count_only: bool = False) -> dict:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise final(413, "request_too_large", f"request body is larger than {limit_mb} MB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                raise final(413, "request_too_large", f"request body is larger than {limit_mb} MB")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise bad_request("request body: expected a JSON object, got an empty body")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise bad_request(f"request body: invalid JSON ({exc})"[:300]) from None
        try:
            validate_request(body, count_only=count_only)
        except RecursionError:
            raise bad_request("request body: nested too deeply") from None
        return body

    async def messages(request: Request) -> Response:
        body = await read_json(request)
        session = request.headers.get("x-claude-code-session-id")
        if bodies is not None:
            bodies.write({"time": round(time.time(), 3), "session": session, "body": body})
        if passthrough is not None:
            return await passthrough.handle(body, session, request.headers, request.url.query)
        return await handler.handle(body, session, request.receive)

    async def count(request: Request) -> Response:
        body = await read_json(request, count_only=True)
        if passthrough is not None:
            exact = await passthrough.count_tokens(body, request.headers)
            if exact is not None:
                return JSONResponse(exact)
        # In a worker thread: the first call loads the encoding (~0.1 s) without stalling open streams.
        return JSONResponse({"input_tokens": await anyio.to_thread.run_sync(tokens.count_tokens, body)})

    def model_entries() -> list[dict]:
        tiers = settings.models.tiers()
        return [{"type": "model", "id": f"claude-{family}-orbridge", "created_at": "2025-01-01T00:00:00Z",
                 "display_name": f"{family.title()} tier → {tiers[family]}"} for family in FAMILIES]

    async def models(_request: Request) -> Response:
        data = model_entries()
        return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"],
                             "last_id": data[-1]["id"]})

    async def model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        for entry in model_entries():
            if entry["id"] == model_id:
                return JSONResponse(entry)
        raise final(404, "not_found_error", f"model: {model_id}")

    async def hello(_request: Request) -> Response:
        return JSONResponse({"ok": True, "service": "orbridge"})

    async def health(_request: Request) -> Response:
        up = settings.upstream
        return JSONResponse({
            "status": "ok",
            "version": __version__,
            "profile": settings.profile,
            "upstream": {"provider": up.provider, "kind": up.kind, "base_url": up.base_url,
                         "key": "set" if up.api_key else "none"},
            "litellm_loaded": "litellm" in sys.modules,
            "models": {"default": settings.models.default, **settings.models.tiers()},
        })

    routes = [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
        Route("/", hello, methods=["GET", "HEAD"]),
        Route("/api/hello", hello, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Guard, token=settings.token.encode(), allow_remote=settings.allow_remote)],
                    exception_handlers={ProxyError: proxy_error, HTTPException: http_error, Exception: unexpected})
    app.state.settings = settings
    return app
