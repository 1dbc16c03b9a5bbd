"""The pump between an upstream stream and the translator: batches, order, end and failure, the timeout that
sends pings, back-pressure on a reader the client does not keep up with, and a client that leaves."""

from __future__ import annotations

import asyncio

import pytest

from orbridge.proxy import pump
from orbridge.proxy.pump import TIMEOUT, Pump


class Source:
    """An upstream stream fed by the test; counts what the pump has read."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.read = 0
        self.closed = False

    async def __aiter__(self):
        while True:
            item = await self.queue.get()
            if item is StopAsyncIteration:
                return
            if isinstance(item, BaseException):
                raise item
            self.read += 1
            yield item

    async def aclose(self) -> None:
        self.closed = True


def run(test) -> None:
    asyncio.run(test())


def test_what_arrived_meanwhile_comes_as_one_batch_then_the_end():
    async def test() -> None:
        source = Source()
        p = Pump(source)
        for n in (1, 2, 3):
            source.queue.put_nowait(n)
        await asyncio.sleep(0.01)
        assert await p.take(1) == [1, 2, 3]
        source.queue.put_nowait(4)
        source.queue.put_nowait(StopAsyncIteration)
        assert await p.take(1) == [4]
        with pytest.raises(StopAsyncIteration):
            await p.take(1)
        await p.aclose()
        assert source.closed

    run(test)


def test_a_failure_comes_after_the_chunks_before_it():
    async def test() -> None:
        source = Source()
        p = Pump(source)
        source.queue.put_nowait("a")
        source.queue.put_nowait(RuntimeError("cut"))
        await asyncio.sleep(0.01)
        assert await p.take(1) == ["a"]
        with pytest.raises(RuntimeError, match="cut"):
            await p.take(1)
        await p.aclose()

    run(test)


def test_a_silent_upstream_gives_timeout_and_loses_nothing():
    async def test() -> None:
        source = Source()
        p = Pump(source)
        assert await p.take(0.05) is TIMEOUT
        source.queue.put_nowait("late")
        assert await p.take(1) == ["late"]
        await p.aclose()

    run(test)


def test_the_reader_waits_while_the_consumer_is_behind(monkeypatch):
    monkeypatch.setattr(pump, "QUEUE_SIZE", 8)

    async def test() -> None:
        source = Source()
        p = Pump(source)
        for n in range(100):
            source.queue.put_nowait(n)
        await asyncio.sleep(0.05)
        assert source.read == 8  # held at the cap, not read on into memory
        got = await p.take(1)
        await asyncio.sleep(0.05)
        while source.read < 100 or len(got) < 100:
            got += await p.take(1)
        assert got == list(range(100))
        await p.aclose()

    run(test)


def test_a_client_that_leaves_ends_the_stream_at_once_and_stops_reading():
    async def test() -> None:
        source = Source()
        p = Pump(source)
        source.queue.put_nowait("unread")
        await asyncio.sleep(0.01)
        gone = ConnectionAbortedError("client left")
        p.fail(gone)
        source.queue.put_nowait("more")
        source.queue.put_nowait(RuntimeError("upstream failed later"))
        await asyncio.sleep(0.01)
        with pytest.raises(ConnectionAbortedError):  # not the chunk held, nor the later upstream error
            await p.take(1)
        assert source.read == 1  # nothing read after the client left
        await p.aclose()
        assert source.closed

    run(test)


def test_a_consumer_waiting_when_the_client_leaves_is_woken():
    async def test() -> None:
        p = Pump(Source())
        waiting = asyncio.ensure_future(p.take(10))
        await asyncio.sleep(0.01)
        p.fail(ConnectionAbortedError("client left"))
        with pytest.raises(ConnectionAbortedError):
            await asyncio.wait_for(waiting, 1)
        await p.aclose()

    run(test)
