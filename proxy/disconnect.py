"""Noticing a client that leaves mid-request, so its upstream call is cancelled then and nothing keeps
generating (and billing) for nobody.

ASGI tells an application only through `receive`, which takes a task per request waiting on it. orbridge's
own server (proxy/server.py) also offers a callback through a scope extension, which costs no task: on
every request that was a measurable part of the proxy's added latency (bench/). Under any other ASGI server
the task is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

EXTENSION = "orbridge.on_disconnect"  # scope["extensions"][EXTENSION](callback) -> stop watching


class ClientGone(Exception):
    """The client left before the answer came."""


@dataclass(frozen=True, slots=True)
class Client:
    """The requesting client's connection, as far as its leaving goes."""

    scope: dict
    receive: Callable

    def on_leave(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` once if the client disconnects; returns the function that stops watching."""
        register = (self.scope.get("extensions") or {}).get(EXTENSION)
        if register is not None:
            return register(callback)
        receive = self.receive

        async def read() -> None:
            while (await receive()).get("type") != "http.disconnect":
                pass
            callback()

        task = asyncio.ensure_future(read())
        task.add_done_callback(_retrieve)
        return task.cancel


def _retrieve(task: asyncio.Task) -> None:
    """A receive that failed (the connection torn down under it) is no error of the request's."""
    if not task.cancelled():
        task.exception()


async def unless_disconnected(work, client: Client | None):
    """Await `work` in the caller's task, cancelled (ClientGone) if the client disconnects first."""
    if client is None:
        return await work
    task = asyncio.current_task()
    gone = False

    def leave() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    stop = client.on_leave(leave)
    try:
        result = await work
    except BaseException:
        if gone and task.uncancel() == 0:  # our own cancel, nobody else's: the client left
            raise ClientGone from None
        raise
    finally:
        stop()
    if gone and task.uncancel() == 0:  # the work swallowed our cancel: nobody is left to answer
        raise ClientGone
    return result
