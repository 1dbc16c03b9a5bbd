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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .. import anthropic_anthropic as pair
from ..errors import ProxyError, UpstreamError
from ..routing import choose_model
from ..settings import Settings
from ..upstreams.anthropic import AnthropicTransport
from ..upstreams.http import ERROR_BODY_LIMIT, BodyTooLarge, ConnectionBroken
from ..upstreams.http import Response as Upstream
from .checks import checked
from .parse import requests_of

FORWARDED_PROVIDERS = {"anthropic"}  # pass-through presets whose upstream serves /v1/messages/batches
ANSWER_LIMIT = 16 * 1024 * 1024  # a page of batch objects
CHUNK = 1 << 16


def forwards(settings: Settings) -> bool:
    return settings.upstream.kind == "anthropic" and settings.upstream.provider in FORWARDED_PROVIDERS


class Forward:
    """The batch calls relayed through the pass-through's own transport (its client, key and headers)."""

    def __init__(self, settings: Settings, transport: AnthropicTransport) -> None:
        self.settings = settings
        self.transport = transport
        self.url = transport.url + "/batches"

    async def stop(self) -> None:
        pass  # the transport is the app's: closed with it

    def routed(self, spool: BinaryIO) -> BinaryIO:
        """The create body again, each request's model routed (in a worker thread: it decodes everything)."""
        out = tempfile.SpooledTemporaryFile(1024 * 1024)
        out.write(b'{"requests":[')
        for i, (custom_id, params) in enumerate(checked(requests_of(spool))):
            body = json.loads(params)
            model, _rule = choose_model(body, self.settings)
            out.write((b"," if i else b"") + b'{"custom_id":' + json.dumps(custom_id).encode() + b',"params":'
                      + pair.request(body, model) + b"}")
        out.write(b"]}")
        out.seek(0)
        return out

    async def call(self, request: Request, method: str, path: str = "", body: BinaryIO | None = None) -> Response:
        headers = self.transport.headers(request.headers)
        content = None
        if body is not None:  # streamed from the file, with its length (not every upstream takes chunked bodies)
            headers["content-length"] = str(body.seek(0, 2))
            body.seek(0)
            content = _chunks(body)
        provider = self.settings.upstream.provider
        try:
            response = await self.transport.client.request(method, self.url + path, content, headers,
                                                           params=dict(request.query_params))
        except UpstreamError as exc:
            raise pair.error(exc, self.settings.upstream.key_fix) from None
        if response.status == 200 and path.endswith("/results"):
            return StreamingResponse(_relay(response), media_type="application/binary")
        try:
            raw = await response.read(ANSWER_LIMIT if response.status < 400 else ERROR_BODY_LIMIT, "the batch answer")
        except (BodyTooLarge, ConnectionBroken) as exc:
            raise ProxyError(502, "api_error", f"{provider}: {exc}") from None
        finally:
            await response.aclose()
        if response.status >= 400:
            failure = UpstreamError(response.status, raw.decode("utf-8", "replace"), response.headers, provider)
            raise pair.error(failure, self.settings.upstream.key_fix)
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProxyError(502, "api_error", f"{provider} answered with no JSON") from None
        for batch in data.get("data", []) if isinstance(data.get("data"), list) else [data]:
            if isinstance(batch, dict) and batch.get("results_url"):
                batch["results_url"] = f"{str(request.base_url).rstrip('/')}/v1/messages/batches/{batch['id']}/results"
        return JSONResponse(data)


async def _chunks(body: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := await anyio.to_thread.run_sync(body.read, CHUNK):
        yield chunk


async def _relay(response: Upstream) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.iter_bytes():
            yield chunk
    finally:
        await response.aclose()
