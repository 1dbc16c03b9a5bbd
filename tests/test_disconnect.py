"""Noticing a client that leaves, under any ASGI server: orbridge's own server calls back through its scope
extension (covered end to end by the disconnect tests in test_proxy_http.py and test_faults.py); any other
server only says so through `receive`, which these tests drive by hand."""

from __future__ import annotations

import asyncio

import pytest

from orbridge.proxy.disconnect import EXTENSION, Client, ClientGone, unless_disconnected


def _client() -> tuple[Client, asyncio.Queue]:
    messages: asyncio.Queue = asyncio.Queue()
    return Client({"type": "http"}, messages.get), messages


def test_without_the_extension_receive_is_read_until_the_disconnect():
    async def go() -> list:
        client, messages = _client()
        seen: list = []
        client.on_leave(lambda: seen.append("left"))
        await messages.put({"type": "http.request", "body": b"", "more_body": False})
        await asyncio.sleep(0.01)
        assert seen == []
        await messages.put({"type": "http.disconnect"})
        await asyncio.sleep(0.01)
        return seen

    assert asyncio.run(go()) == ["left"]


def test_stopped_watching_means_no_callback():
    async def go() -> list:
        client, messages = _client()
        seen: list = []
        client.on_leave(lambda: seen.append("left"))()
        await messages.put({"type": "http.disconnect"})
        await asyncio.sleep(0.01)
        return seen

    assert asyncio.run(go()) == []


def test_unless_disconnected_cancels_the_work_when_the_client_leaves():
    async def go() -> list:
        client, messages = _client()
        steps: list = []

        async def work() -> str:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                steps.append("work cancelled")
                raise
            return "answer"

        asyncio.get_running_loop().call_later(0.05, messages.put_nowait, {"type": "http.disconnect"})
        with pytest.raises(ClientGone):
            await unless_disconnected(work(), client)
        assert asyncio.current_task().cancelling() == 0  # our cancel is taken back
        await asyncio.sleep(0.01)  # the caller's task goes on: no cancellation is left pending on it
        steps.append("caller goes on")
        return steps

    assert asyncio.run(go()) == ["work cancelled", "caller goes on"]


def test_unless_disconnected_returns_the_answer_and_stops_watching():
    async def go() -> tuple:
        registered: list = []

        def register(callback):
            registered.append(callback)
            return lambda: registered.remove(callback)

        client = Client({"type": "http", "extensions": {EXTENSION: register}}, receive=None)

        async def work() -> str:
            assert len(registered) == 1  # watched while the work runs
            return "answer"

        return await unless_disconnected(work(), client), registered

    assert asyncio.run(go()) == ("answer", [])


def test_a_cancel_from_elsewhere_stays_a_cancel():
    """Only the client's leaving becomes ClientGone; a shutdown cancelling the task is not swallowed."""
    async def go() -> None:
        client, _ = _client()
        task = asyncio.ensure_future(unless_disconnected(asyncio.sleep(10), client))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_work_that_swallows_the_cancel_still_means_the_client_left():
    async def go() -> int:
        client, messages = _client()

        async def stubborn() -> str:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return "answer for nobody"
            return "never"

        asyncio.get_running_loop().call_later(0.05, messages.put_nowait, {"type": "http.disconnect"})
        with pytest.raises(ClientGone):
            await unless_disconnected(stubborn(), client)
        return asyncio.current_task().cancelling()

    assert asyncio.run(go()) == 0


def test_work_that_fails_otherwise_after_the_cancel_is_still_the_client_leaving():
    async def go() -> int:
        client, messages = _client()

        async def cleanup_fails() -> str:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise OSError("connection reset while closing") from None
            return "never"

        asyncio.get_running_loop().call_later(0.05, messages.put_nowait, {"type": "http.disconnect"})
        with pytest.raises(ClientGone):
            await unless_disconnected(cleanup_fails(), client)
        return asyncio.current_task().cancelling()

    assert asyncio.run(go()) == 0
