"""Batches for an Anthropic upstream (the `anthropic` preset): its own Message Batches API does the work.

The create body is checked here as for a local batch, each request's model is routed like a /v1/messages
call (the only change, with thinking blocks of our own minting removed as the pass-through does), and the
rest of the calls are relayed. `results_url` is pointed back at this proxy: the SDK sends the client's
credentials to it, which must reach orbridge, never the upstream.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .. import __version__
from ..errors import ProxyError, UpstreamError, bad_request, from_upstream
from ..passthrough import prepare
from ..routing import choose_model
from ..settings import Settings
from ..upstreams.http import ERROR_BODY_LIMIT, BodyTooLarge, make_client, read_limited, transport_error
from .checks import checked
from .parse import requests_of

FORWARDED_PROVIDERS = {"anthropic"}  # pass-through presets whose upstream serves /v1/messages/batches
ANSWER_LIMIT = 16 * 1024 * 1024  # a page of batch objects
CHUNK = 1 << 16


def forwards(settings: Settings) -> bool:
    return settings.upstream.kind == "anthropic" and settings.upstream.provider in FORWARDED_PROVIDERS


class Forward:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        up = settings.upstream
        base = up.base_url.rstrip("/")
        self.url = base + ("/messages/batches" if base.endswith("/v1") else "/v1/messages/batches")
        self.client = make_client(up)
        self.headers = {"content-type": "application/json", "user-agent": f"orbridge/{__version__}", **up.headers}
        if up.api_key:
            self.headers["x-api-key"] = up.api_key

    async def stop(self) -> None:
        await self.client.aclose()

    def routed(self, spool: BinaryIO) -> BinaryIO:
        """The create body again, each request's model routed (in a worker thread: it decodes everything)."""
        out = tempfile.SpooledTemporaryFile(1024 * 1024)
        out.write(b'{"requests":[')
        for i, (custom_id, params) in enumerate(checked(requests_of(spool))):
            body = json.loads(params)
            model, _rule = choose_model(body, self.settings)
            item = {"custom_id": custom_id, "params": prepare(body, model)}
            out.write((b"," if i else b"") + json.dumps(item, ensure_ascii=False).encode())
        out.write(b"]}")
        out.seek(0)
        return out

    async def call(self, request: Request, method: str, path: str = "", body: BinaryIO | None = None) -> Response:
        headers = {**self.headers, "anthropic-version": "2023-06-01"}
        for name in ("anthropic-version", "anthropic-beta"):
            value = request.headers.get(name)
            if value and not (value.isascii() and value.isprintable()):
                raise bad_request(f"{name} header: only printable ASCII is accepted")
            headers.update({name: value} if value else {})
        content = None
        if body is not None:  # streamed from the file, with its length (not every upstream takes chunked bodies)
            headers["content-length"] = str(body.seek(0, 2))
            body.seek(0)
            content = _chunks(body)
        try:
            response = await self.client.send(self.client.build_request(
                method, self.url + path, params=request.query_params, headers=headers, content=content), stream=True)
        except httpx.HTTPError as exc:
            raise from_upstream(transport_error(exc, self.settings.upstream.provider)) from None
        if response.status_code == 200 and path.endswith("/results"):
            return StreamingResponse(_relay(response), media_type="application/binary")
        try:
            raw = await read_limited(response, ANSWER_LIMIT if response.status_code < 400 else ERROR_BODY_LIMIT,
                                     "the batch answer")
        except (BodyTooLarge, httpx.HTTPError) as exc:
            raise ProxyError(502, "api_error", f"{self.settings.upstream.provider}: {exc}") from None
        finally:
            await response.aclose()
        if response.status_code >= 400:
            raise self._error(response, raw)
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProxyError(502, "api_error", f"{self.settings.upstream.provider} answered with no JSON") from None
        for batch in data.get("data", []) if isinstance(data.get("data"), list) else [data]:
            if isinstance(batch, dict) and batch.get("results_url"):
                batch["results_url"] = f"{str(request.base_url).rstrip('/')}/v1/messages/batches/{batch['id']}/results"
        return JSONResponse(data)

    def _error(self, response: httpx.Response, raw: bytes) -> ProxyError:
        """The upstream's own Anthropic error as it is (status, type, wording), else the usual mapping."""
        text = raw.decode("utf-8", "replace")
        try:
            native = json.loads(text).get("error")
        except (ValueError, AttributeError):
            native = None
        if isinstance(native, dict) and isinstance(native.get("type"), str) and response.status_code not in (401, 403):
            return ProxyError(response.status_code, native["type"], str(native.get("message", "")))
        up = self.settings.upstream
        return from_upstream(UpstreamError(response.status_code, text, dict(response.headers), up.provider), up.key_fix)


async def _chunks(body: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := await anyio.to_thread.run_sync(body.read, CHUNK):
        yield chunk


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
