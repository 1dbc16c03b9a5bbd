"""Runs stored batch requests through the same handler as /v1/messages, a bounded number at a time.

Claims requests from the store with a lease, renews it while they run, retries what a later attempt may
fix (429 after its retry-after, 5xx and timeouts with backoff), and stores each outcome with its result in
one transaction. A stop gives the leases back; a kill leaves them to expire (or to `Store.recover`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from starlette.responses import Response

from .forward import Forward, forwards
from .store import LEASE, Store, owner_id

log = logging.getLogger("orbridge.proxy")
RETRIED = {408, 429, 500, 502, 503, 504, 529}
ATTEMPTS = 5  # per request, the first included
BACKOFF = 1.0  # seconds before the second attempt, doubling after (when no retry-after says otherwise)
MAX_WAIT = 60.0
IDLE = 1.0  # how often an idle runner looks for work other processes stored (and does housekeeping)


async def execute(state, body: dict) -> Response:
    """One request on the app's own path (translated, or the pass-through), non-streaming, logged as a batch
    call."""
    if state.passthrough is not None:
        return await state.passthrough.handle(body, None, {}, "", route="batch")
    return await state.handler.handle(body, None, route="batch")


def _delay(response: Response, attempt: int) -> float:
    after = response.headers.get("retry-after", "")
    try:
        wait = float(after)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait):  # unparsable, "nan", "inf": the usual backoff
        wait = BACKOFF * 2 ** attempt
    return min(max(wait, 0.0), MAX_WAIT)


def _succeeded(raw: bytes) -> tuple[str, str]:
    """A 200's message as a result line; an answer that is not a message (a pass-through upstream's HTML
    page) is this request's error, never a line that breaks the whole results file."""
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("type") != "message":
        error = {"type": "error", "error": {"type": "api_error",
                                            "message": "the upstream answered 200 without a message: "
                                                       + raw[:200].decode("utf-8", "replace")}}
        return "errored", json.dumps({"type": "errored", "error": error}, ensure_ascii=False)
    return "succeeded", json.dumps({"type": "succeeded", "message": message}, ensure_ascii=False,
                                   separators=(",", ":"))


def _error_of(response: Response) -> str:
    """The Anthropic error object the handler answered with (always that shape; checked, not trusted)."""
    try:
        body = json.loads(response.body)
        if isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict):
            return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        pass
    return json.dumps({"type": "error", "error": {"type": "api_error",
                                                 "message": f"upstream answered {response.status_code}"}})


class Runner:
    def __init__(self, store: Store, state, concurrency: int = 8) -> None:
        self.store = store
        self.state = state
        self.concurrency = concurrency
        self.owner = owner_id()
        self.inflight: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        # Database calls run in one thread of their own: with a thread per call (anyio's pool), 64 requests
        # finishing at once were 64 threads taking turns with the event loop for the GIL (3x slower).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="orbridge-batches")

    async def db(self, work, *args):
        """`work(*args)` on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    def wake(self) -> None:
        """New work or a cancel: look now rather than at the next idle tick."""
        self._wake.set()

    def start(self) -> Runner:
        self._task = asyncio.ensure_future(self._loop())
        return self

    async def stop(self) -> None:
        """Cancel what runs and give its leases back, so the next start (or another process) resumes it."""
        tasks = [t for t in (self._task, *self.inflight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.db(self.store.release, self.owner)
        await self.db(self.store.close)
        self._thread.shutdown()

    async def _loop(self) -> None:
        db = self.db
        await db(self.store.recover)
        housekept = renewed = 0.0
        while True:
            try:
                now = time.monotonic()
                if now - housekept >= IDLE:
                    await db(self.store.housekeep)
                    housekept = now
                if self.inflight and now - renewed >= LEASE / 4:
                    await db(self.store.renew, self.owner)
                    renewed = now
                self._wake.clear()
                free = self.concurrency - len(self.inflight)
                claimed = await db(self.store.claim, self.owner, free, self.state.settings.profile) if free > 0 else []
                for seq, idx, params in claimed:
                    task = asyncio.ensure_future(self._one(seq, idx, params))
                    self.inflight.add(task)
                    task.add_done_callback(self._finished)
                if claimed and len(claimed) == free:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a locked or full database must not end the runner
                log.exception("batch runner: database error; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE)
            except TimeoutError:
                pass

    def _finished(self, task: asyncio.Task) -> None:
        self.inflight.discard(task)
        self._wake.set()

    async def _one(self, seq: int, idx: int, params: str) -> None:
        try:
            outcome, result = await self._attempts(json.loads(params))
        except Exception as exc:  # noqa: BLE001 - a bug of ours becomes this request's error, not a lost request
            log.exception("batch request %s/%s failed", seq, idx)
            error = {"type": "error", "error": {"type": "api_error", "message": f"orbridge internal error: "
                                                                             f"{type(exc).__name__}"}}
            outcome, result = "errored", json.dumps({"type": "errored", "error": error})
        for attempt in range(ATTEMPTS):  # a database busy past its timeout: the result is not given up lightly
            try:
                await self.db(self.store.finish, self.owner, seq, idx, outcome, result)
                return
            except Exception:  # noqa: BLE001 - sqlite3.OperationalError and the like
                log.exception("batch request %s/%s: storing its result failed", seq, idx)
                await asyncio.sleep(BACKOFF * 2 ** attempt)

    async def _attempts(self, body: dict) -> tuple[str, str]:
        for attempt in range(ATTEMPTS):
            budget = self.state.budget
            refusal = budget.refusal() if budget is not None else None
            if refusal is not None:  # the run's --budget holds for its batches too, and is never retried
                return "errored", json.dumps({"type": "errored", "error": refusal.body()}, ensure_ascii=False)
            response = await execute(self.state, body)
            if response.status_code == 200:
                return _succeeded(bytes(response.body))
            if response.status_code not in RETRIED or attempt + 1 == ATTEMPTS:
                break
            await asyncio.sleep(_delay(response, attempt))
        return "errored", '{"type":"errored","error":' + _error_of(response) + "}"


def start(app, on_demand: bool = False) -> Runner | Forward | None:
    """What serves the app's batches (also `app.state.batches`, which the endpoints use): the upstream's own
    batch API for an Anthropic upstream, else a runner when the settings name a database. At startup a runner
    starts only when the database exists (it may hold work to resume); otherwise at the first batch call
    (`on_demand`), so a Claude Code session that never uses batches never opens it. A database that cannot
    be opened safely leaves the proxy serving messages, and the batch endpoints saying why."""
    settings = app.state.settings
    if getattr(app.state, "batches", None) is not None:
        return app.state.batches
    if forwards(settings):
        app.state.batches = Forward(settings, app.state.passthrough.transport)
        return app.state.batches
    path = settings.batch_db_path
    if path is None or not (on_demand or os.path.lexists(path)):
        return None
    try:
        store = Store(path)
    except (OSError, sqlite3.Error) as exc:  # UnsafePath is an OSError
        log.warning("batches: cannot use %s: %s", path, exc)
        app.state.batches_failure = f"cannot use the batch database {path}: {exc}"
        return None
    app.state.batches = Runner(store, app.state, settings.batch_concurrency).start()
    return app.state.batches
