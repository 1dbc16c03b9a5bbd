"""The Message Batches endpoints, as Anthropic serves them (the official SDK's `client.messages.batches.*`).

A batch body (up to 256 MB) is spooled to a private temporary file, then read request by request into the
database in one transaction, so the batch is stored whole before the answer and never held in memory.
"""

from __future__ import annotations

import re
import tempfile

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import bad_request, final
from .checks import checked
from .forward import Forward
from .parse import requests_of
from .runner import start
from .shapes import message_batch
from .store import NotEnded, Store

MAX_BYTES = 256 * 1024 * 1024
SPOOLED_IN_MEMORY = 1024 * 1024
BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _runner(request: Request):
    """The app's runner (a local store), or its Forward to an upstream's own batch API."""
    runner = getattr(request.app.state, "batches", None) or start(request.app, on_demand=True)
    if runner is None:
        failure = getattr(request.app.state, "batches_failure", None)
        if failure:
            raise final(500, "api_error", failure)
        raise final(404, "not_found_error", "this orbridge proxy keeps no batches (it was started without a "
                                            "state directory)")
    batch_id = request.path_params.get("batch_id")
    if batch_id is not None and not BATCH_ID.fullmatch(batch_id):
        raise final(404, "not_found_error", "message batch not found")
    return runner


def served(endpoint, method: str, suffix: str = ""):
    """The local endpoint, or for a forwarding proxy the same call relayed to the upstream."""

    async def run(request: Request) -> Response:
        runner = _runner(request)
        if isinstance(runner, Forward):
            batch_id = request.path_params.get("batch_id")
            return await runner.call(request, method, f"/{batch_id}{suffix}" if batch_id else "")
        return await endpoint(request)

    return run


def _found(batch: dict | None, batch_id: str) -> dict:
    if batch is None:
        raise final(404, "not_found_error", f"message batch not found: {batch_id[:80]}")
    return batch


def _answer(request: Request, batch: dict) -> Response:
    return JSONResponse(message_batch(batch, str(request.base_url)))


async def create(request: Request) -> Response:
    runner = _runner(request)
    too_large = final(413, "request_too_large", f"a batch is at most {MAX_BYTES // (1024 * 1024)} MB")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        raise too_large
    with tempfile.SpooledTemporaryFile(SPOOLED_IN_MEMORY) as spool:  # 0600, unlinked: prompts stay private
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BYTES:
                raise too_large
            spool.write(chunk)
        spool.seek(0)
        if isinstance(runner, Forward):
            with await anyio.to_thread.run_sync(runner.routed, spool) as routed:
                return await runner.call(request, "POST", "", routed)
        batch = await runner.db(
            lambda: runner.store.create(checked(requests_of(spool)), request.app.state.settings.profile))
    runner.wake()
    return _answer(request, batch)


async def listing(request: Request) -> Response:
    runner = _runner(request)
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise bad_request("limit: expected a whole number from 1 to 1000")
    before, after = request.query_params.get("before_id"), request.query_params.get("after_id")
    if before and after:
        raise bad_request("before_id and after_id cannot be given together")
    batches, more = await runner.db(runner.store.page, int(raw), before, after)
    data = [message_batch(b, str(request.base_url)) for b in batches]
    return JSONResponse({"data": data, "has_more": more, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None})


async def retrieve(request: Request) -> Response:
    batch_id = request.path_params["batch_id"]
    runner = _runner(request)
    return _answer(request, _found(await runner.db(runner.store.get, batch_id), batch_id))


async def cancel(request: Request) -> Response:
    batch_id = request.path_params["batch_id"]
    runner = _runner(request)
    batch = _found(await runner.db(runner.store.cancel, batch_id), batch_id)
    runner.wake()
    return _answer(request, batch)


async def _once_ended(request: Request, work, refusal: str):
    """(batch id, what `work(store, id)` gives) for a batch that has ended; a 400 saying `refusal` otherwise."""
    batch_id = request.path_params["batch_id"]
    runner = _runner(request)
    try:
        return batch_id, await runner.db(work, runner.store, batch_id)
    except NotEnded:
        raise bad_request(f"message batch {batch_id} {refusal}") from None


async def delete(request: Request) -> Response:
    batch_id, deleted = await _once_ended(request, Store.delete, "is still processing; cancel it first, then "
                                          "delete it once it has ended")
    _found(deleted or None, batch_id)
    return JSONResponse({"id": batch_id, "type": "message_batch_deleted"})


async def results(request: Request) -> Response:
    batch_id, lines = await _once_ended(request, Store.results, "has not ended yet; its results are ready when "
                                        "processing_status is ended")
    return StreamingResponse(_found(lines, batch_id), media_type="application/binary")  # type: ignore[arg-type]


def routes(guarded) -> list[Route]:
    """The endpoints, each wrapped in the app's `guarded` (every failure an Anthropic error)."""
    base = "/v1/messages/batches"
    return [
        Route(base, guarded(create), methods=["POST"]),
        Route(base, guarded(served(listing, "GET")), methods=["GET"]),
        Route(base + "/{batch_id}", guarded(served(retrieve, "GET")), methods=["GET"]),
        Route(base + "/{batch_id}", guarded(served(delete, "DELETE")), methods=["DELETE"]),
        Route(base + "/{batch_id}/cancel", guarded(served(cancel, "POST", "/cancel")), methods=["POST"]),
        Route(base + "/{batch_id}/results", guarded(served(results, "GET", "/results")), methods=["GET"]),
    ]
