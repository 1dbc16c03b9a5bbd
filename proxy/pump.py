"""Read an upstream stream in its own task, hand the consumer everything that has arrived at once.

The consumer waits with a timeout (to send pings) without losing an item, and under load it gets many
chunks per wake-up, so translating and writing cost one pass per batch rather than per chunk.

A list and one future, not asyncio.Queue + wait_for: on Python 3.11 wait_for wraps every wait in a task of
its own, and the first token waits behind each such hop (bench/: time to first token). The reader stops
at QUEUE_SIZE unread chunks until the consumer catches up, so a client that reads slowly holds the upstream
back instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib

TIMEOUT = object()
QUEUE_SIZE = 1024


class Pump:
    def __init__(self, source) -> None:
        self._source = source
        self._items: list = []
        self._ended = False  # the source is exhausted (after the items still held)
        self._failure: BaseException | None = None  # raised after the items still held
        self._gone: BaseException | None = None  # raised at once: the consumer has nobody to give items to
        self._loop = asyncio.get_running_loop()
        self._ready: asyncio.Future | None = None  # the consumer waits on it
        self._room: asyncio.Future | None = None  # the reader waits on it while the list is full
        self._task = asyncio.ensure_future(self._produce())

    def _wake(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    async def _produce(self) -> None:
        try:
            async for chunk in self._source:
                self._items.append(chunk)
                self._wake()
                if len(self._items) >= QUEUE_SIZE:
                    self._room = self._loop.create_future()
                    await self._room
            self._ended = True
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, in order
            self._failure = exc
        self._wake()

    def fail(self, exc: BaseException) -> None:
        """End the stream for the consumer with `exc` (the client left): reading stops, and the next take
        raises `exc` at once, whatever arrived or failed meanwhile."""
        self._gone = exc
        self._items.clear()
        self._task.cancel()
        self._wake()

    async def take(self, timeout: float | None) -> list | object:
        """Every chunk available now (waiting up to `timeout` for the first), or TIMEOUT.
        Raises StopAsyncIteration at the end, or the upstream's exception after the chunks before it."""
        if self._gone is not None:
            raise self._gone
        if not self._items and not self._ended and self._failure is None:
            self._ready = ready = self._loop.create_future()
            timer = None if timeout is None else self._loop.call_later(timeout, _settle, ready)
            try:
                await ready
            finally:
                self._ready = None
                if timer is not None:
                    timer.cancel()
            if self._gone is not None:
                raise self._gone
            if not self._items and not self._ended and self._failure is None:
                return TIMEOUT
        if self._items:
            items, self._items = self._items, []
            if self._room is not None and not self._room.done():
                self._room.set_result(None)
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


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
