"""Upstream transports: each opens a stream of parsed chunks or completes a request, raising
`errors.UpstreamError` with the upstream's status, body and headers. No translation happens here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class ChunkStream(Protocol):
    """An open upstream stream: parsed JSON chunks until the upstream finishes; close() frees it."""

    def __aiter__(self) -> AsyncIterator[dict]: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def open_stream(self, body: dict) -> ChunkStream: ...

    async def complete(self, body: dict) -> dict: ...

    async def aclose(self) -> None: ...
