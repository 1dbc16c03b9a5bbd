"""Upstream transports: the I/O half of a provider. No translation happens here.

A transport takes the OpenAI-format body the translator built and either opens a stream of parsed chunks
or completes the request. Its failures are the `errors.TransportError` family, nothing else:

- `UpstreamError` from `open_stream`/`complete`: the upstream refused (status, body, headers; status 0 when
  nothing could be reached). Nothing reached the client yet: the handler may learn, retry or fall back.
- `StreamFailed` (carrying the client's `ProxyError`): the upstream sent an error inside a 200 answer.
- `UpstreamEOF`: the connection ended before the upstream finished its answer.

See docs/architecture.md, "How to add a transport".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class ChunkStream(Protocol):
    """An open upstream stream: parsed JSON chunks until the upstream finishes; aclose() frees it."""

    done: bool  # the upstream said its answer is complete (`[DONE]`, or its own end of stream)

    def __aiter__(self) -> AsyncIterator[dict]: ...

    def unparsed_text(self) -> str:
        """What the upstream sent that was not a chunk (an error page), to quote when no answer came; or ""."""
        ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def open_stream(self, body: dict) -> ChunkStream: ...

    async def complete(self, body: dict) -> dict: ...

    async def aclose(self) -> None: ...
