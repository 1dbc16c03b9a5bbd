"""Watching for a client that leaves while a whole (non-streamed) answer is awaited: its upstream call is
cancelled then, so nothing keeps generating (and billing) for nobody."""

from __future__ import annotations

import asyncio


class ClientGone(Exception):
    """The client left before the answer came."""


async def unless_disconnected(work, receive):
    """Await `work`, cancelling it if the client disconnects first (no orphaned upstream call)."""
    if receive is None:
        return await work
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    try:
        await task
    except BaseException:  # noqa: BLE001 - the cancelled call's outcome no longer matters
        pass
    raise ClientGone
