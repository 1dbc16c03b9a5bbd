"""Read an upstream stream in its own task, hand the consumer everything that has arrived at once.

The consumer waits with a timeout (to send pings) without losing an item, and under load it gets many
chunks per wake-up, so translating and writing cost one pass per batch rather than per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib

TIMEOUT = object()
_END = object()
QUEUE_SIZE = 1024


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Pump:
    def __init__(self, source) -> None:
        self._source = source
        self._queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self._ended = False
        self._failure: BaseException | None = None
        self._task = asyncio.ensure_future(self._produce())

    async def _produce(self) -> None:
        try:
            async for chunk in self._source:
                await self._queue.put(chunk)
            await self._queue.put(_END)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, in order
            await self._queue.put(_Failure(exc))

    async def take(self, timeout: float | None) -> list | object:
        """Every chunk available now (waiting up to `timeout` for the first), or TIMEOUT.
        Raises StopAsyncIteration at the end, or the upstream's exception after the chunks before it."""
        if self._failure is not None:
            raise self._failure
        if self._ended:
            raise StopAsyncIteration
        if self._queue.empty():
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                return TIMEOUT
            raw = [first]
        else:
            raw = []
        while not self._queue.empty():
            raw.append(self._queue.get_nowait())
        items = []
        for item in raw:
            if item is _END:
                self._ended = True
                break
            if isinstance(item, _Failure):
                self._failure = item.exc
                break
            items.append(item)
        if items:
            return items
        if self._failure is not None:
            raise self._failure
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Idempotent: stop reading and free the upstream connection."""
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        await self._source.aclose()
