"""The Message Batches API: the official SDK against a served proxy, the scripted fake upstream behind it."""

from __future__ import annotations

import collections
import json
import time

import anthropic
import pytest

from orbridge.proxy.batches import runner as batch_runner
from orbridge.proxy.batches import store as batch_store
from orbridge.proxy.settings import ModelMap, Upstream

from .conftest import TOKEN
from .fake_upstream import Pause, Reply, completion


def params(text: str, **extra) -> dict:
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": text}], **extra}


def batch_of(n: int, prefix: str = "r") -> list[dict]:
    return [{"custom_id": f"{prefix}{i}", "params": params(f"{prefix}{i}")} for i in range(n)]


def sdk(proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=TOKEN, max_retries=0, timeout=60)


def wait_ended(client: anthropic.Anthropic, batch_id: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not end: {batch}")


def asked(fake) -> collections.Counter:
    """How many upstream calls each custom_id caused (its id is the prompt); a body cut by a kill is no call."""
    return collections.Counter(r.body["messages"][-1]["content"] for r in fake.chat_requests() if "messages" in r.body)


def echo(fake, pause: float = 0.0) -> None:
    fake.default = Reply(body=completion("done"), items=[Pause(pause)] if pause else [])


@pytest.fixture
def batches(proxy_factory, tmp_path):
    def start(**overrides):
        return proxy_factory(batch_db_path=tmp_path / "state" / "batches.db", check_upstream=False, **overrides)
    return start


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(batch_runner, "BACKOFF", 0.01)


def test_sdk_create_retrieve_list_results_delete(batches, upstream, tmp_path):
    echo(upstream)
    proxy = batches()
    client = sdk(proxy)
    created = client.messages.batches.create(requests=batch_of(3))
    assert created.id.startswith("msgbatch_") and created.type == "message_batch"
    assert created.processing_status in ("in_progress", "ended")
    assert (created.expires_at - created.created_at).total_seconds() == pytest.approx(86_400, abs=1)
    ended = wait_ended(client, created.id)
    assert ended.request_counts.succeeded == 3 and ended.request_counts.processing == 0
    assert ended.results_url == f"{proxy.url}/v1/messages/batches/{created.id}/results"
    results = {r.custom_id: r.result for r in client.messages.batches.results(created.id)}
    assert set(results) == {"r0", "r1", "r2"}
    assert all(r.type == "succeeded" and r.message.content[0].text == "done" for r in results.values())
    second = client.messages.batches.create(requests=batch_of(1, "s"))
    assert [b.id for b in client.messages.batches.list(limit=20)] == [second.id, created.id]
    page = client.messages.batches.list(limit=1)
    assert [b.id for b in page.data] == [second.id] and page.has_more
    assert [b.id for b in page.get_next_page().data] == [created.id]
    assert [b.id for b in client.messages.batches.list(before_id=created.id).data] == [second.id]
    deleted = client.messages.batches.delete(created.id)
    assert deleted.id == created.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.messages.batches.retrieve(created.id)
    assert exc.value.body["error"]["type"] == "not_found_error"
    # batch calls are in the request log as route "batch" (what `orbridge usage` counts)
    logged = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert sum(1 for r in logged if r.get("route") == "batch") == 4
    assert oct((tmp_path / "state" / "batches.db").stat().st_mode & 0o777) == "0o600"


def test_thousand_requests_concurrency_16_one_result_each(batches, upstream):
    echo(upstream)
    proxy = batches(batch_concurrency=16)
    client = sdk(proxy)
    batch = client.messages.batches.create(requests=batch_of(1000))
    ended = wait_ended(client, batch.id, timeout=120)
    counts = ended.request_counts
    assert (counts.succeeded, counts.errored, counts.canceled, counts.expired, counts.processing) == (1000, 0, 0, 0, 0)
    ids = [r.custom_id for r in client.messages.batches.results(batch.id)]
    assert len(ids) == 1000 and set(ids) == {f"r{i}" for i in range(1000)}
    assert max(asked(upstream).values()) == 1 and len(asked(upstream)) == 1000


def test_retries_then_errors(batches, upstream, fast_retries):
    upstream.script(
        Reply(status=429, body={"error": {"message": "slow down", "code": 429}}, headers={"retry-after": "0"},
              match=lambda b: b["messages"][-1]["content"] == "limited"),
        Reply(status=500, body={"error": {"message": "boom", "code": 500}},
              match=lambda b: b["messages"][-1]["content"] == "flaky"),
        Reply(status=500, body={"error": {"message": "down", "code": 500}}, repeat=True,
              match=lambda b: b["messages"][-1]["content"] == "broken"),
        Reply(status=400, body={"error": {"message": "bad prompt", "code": 400}}, repeat=True,
              match=lambda b: b["messages"][-1]["content"] == "refused"),
    )
    echo(upstream)
    client = sdk(batches())
    batch = client.messages.batches.create(requests=[{"custom_id": c, "params": params(c)}
                                                     for c in ("limited", "flaky", "broken", "refused")])
    ended = wait_ended(client, batch.id)
    assert ended.request_counts.succeeded == 2 and ended.request_counts.errored == 2
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["limited"].type == results["flaky"].type == "succeeded"
    assert results["broken"].type == "errored" and results["broken"].error.type == "error"
    assert results["refused"].error.error.type == "invalid_request_error"
    calls = asked(upstream)
    assert (calls["limited"], calls["flaky"], calls["broken"], calls["refused"]) == (2, 2, batch_runner.ATTEMPTS, 1)


def test_cancel_leaves_pending_canceled_in_flight_finished(batches, upstream):
    echo(upstream, pause=0.5)
    client = sdk(batches(batch_concurrency=2))
    batch = client.messages.batches.create(requests=batch_of(20))
    deadline = time.monotonic() + 10
    while not upstream.chat_requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status in ("canceling", "ended") and canceling.cancel_initiated_at is not None
    with pytest.raises(anthropic.BadRequestError):  # not ended yet: in-flight requests are finishing
        client.messages.batches.delete(batch.id)
    ended = wait_ended(client, batch.id)
    counts = ended.request_counts
    assert counts.succeeded == len(upstream.chat_requests()) <= 4
    assert counts.canceled == 20 - counts.succeeded and counts.canceled >= 16
    kinds = collections.Counter(r.result.type for r in client.messages.batches.results(batch.id))
    assert kinds == {"succeeded": counts.succeeded, "canceled": counts.canceled}


def test_expiry_with_an_injected_clock(batches, upstream):
    echo(upstream, pause=0.3)
    proxy = batches(batch_concurrency=1)
    client = sdk(proxy)
    batch = client.messages.batches.create(requests=batch_of(10))
    store = proxy.server.app.state.batches.store  # opened by the first batch call
    deadline = time.monotonic() + 10
    while not upstream.chat_requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    store.clock = lambda: time.time() + batch_store.EXPIRY + 1
    ended = wait_ended(client, batch.id)
    assert ended.request_counts.expired >= 8 and ended.request_counts.canceled == 0
    assert ended.request_counts.expired + ended.request_counts.succeeded == 10
    assert {r.result.type for r in client.messages.batches.results(batch.id)} <= {"expired", "succeeded"}
    # 29 days after creation the batch and its results are gone
    store.clock = lambda: time.time() + batch_store.KEPT + 1
    deadline = time.monotonic() + 10
    while store.get(batch.id) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_two_runners_on_one_database_never_run_a_request_twice(batches, upstream):
    echo(upstream, pause=0.01)
    first, second = batches(batch_concurrency=8), batches(batch_concurrency=8)
    client = sdk(first)
    batch = client.messages.batches.create(requests=batch_of(300))
    sdk(second).messages.batches.create(requests=batch_of(100, "x"))
    wait_ended(client, batch.id)
    for other in sdk(second).messages.batches.list():
        wait_ended(sdk(second), other.id)
    calls = asked(upstream)
    assert len(calls) == 400 and max(calls.values()) == 1


@pytest.mark.parametrize("body, status, field", [
    ({"requests": [{"custom_id": "a", "params": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}]},
     400, "requests[0].params.max_tokens: field required"),
    ({"requests": [{"custom_id": "a", "params": params("x")}, {"custom_id": "a", "params": params("y")}]},
     400, "requests[1].custom_id"),
    ({"requests": [{"custom_id": "has space", "params": params("x")}]}, 400, "requests[0].custom_id"),
    ({"requests": [{"custom_id": "a" * 65, "params": params("x")}]}, 400, "requests[0].custom_id"),
    ({"requests": [{"custom_id": "a", "params": params("x", stream=True)}]}, 400, "requests[0].params.stream"),
    ({"requests": [{"custom_id": "a"}]}, 400, "requests[0].params: field required"),
    ({"requests": []}, 400, "requests: at least one"),
    ({"other": 1}, 400, "requests: field required"),
    ({"requests": [{"custom_id": "a", "params": params("x")}, 3]}, 400, "requests[1]: expected an object"),
])
def test_bad_batches_name_the_field(batches, upstream, body, status, field):
    proxy = batches()
    r = proxy.post("/v1/messages/batches", body)
    assert r.status_code == status, r.text
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    assert field in r.json()["error"]["message"]
    assert proxy.http.get("/v1/messages/batches").json()["data"] == []  # nothing half-stored


def test_malformed_bodies_and_unknown_ids(batches, upstream):
    proxy = batches()
    for raw in (b"", b"[1]", b'{"requests": [', b'{"requests": [{"custom_id": "a"} {}]}', b'{"requests": []} x',
                b"\xff\xfe"):
        r = proxy.http.post("/v1/messages/batches", content=raw)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", raw
    for method, path in (("GET", ""), ("POST", "/cancel"), ("DELETE", ""), ("GET", "/results")):
        r = proxy.http.request(method, "/v1/messages/batches/msgbatch_nope" + path)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error", (method, path)
    assert proxy.http.get("/v1/messages/batches?limit=0").status_code == 400
    unauthorized = proxy.http.get("/v1/messages/batches", headers={"x-api-key": "wrong"})
    assert unauthorized.status_code == 401


def test_without_a_database_batches_are_not_found(proxy):
    r = proxy.post("/v1/messages/batches", {"requests": batch_of(1)})
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_retry_after_sets_the_wait_else_backoff_doubles():
    from starlette.responses import Response

    assert batch_runner._delay(Response(headers={"retry-after": "7"}), 0) == 7
    assert batch_runner._delay(Response(headers={"retry-after": "9999"}), 0) == batch_runner.MAX_WAIT
    assert [batch_runner._delay(Response(), n) for n in range(3)] == [batch_runner.BACKOFF * k for k in (1, 2, 4)]


def test_a_batch_past_the_size_limit_is_a_413(batches, upstream, monkeypatch):
    from orbridge.proxy.batches import api

    monkeypatch.setattr(api, "MAX_BYTES", 2000)
    proxy = batches()
    r = proxy.post("/v1/messages/batches", {"requests": batch_of(40)})
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
    chunked = proxy.http.post("/v1/messages/batches", content=iter([json.dumps({"requests": batch_of(40)}).encode()]))
    assert chunked.status_code == 413
    assert proxy.http.get("/v1/messages/batches").json()["data"] == []


def test_a_batch_runs_only_on_the_profile_that_created_it(batches, upstream):
    """Two proxies on one database, for two profiles: the batch's prompts go only to its own profile's models
    (another profile may be another provider, billed to another key)."""
    echo(upstream, pause=0.02)
    local = batches(profile="local", models=ModelMap(default="local/model"))
    batches(profile="cloud", models=ModelMap(default="cloud/model"))
    client = sdk(local)
    batch = client.messages.batches.create(requests=batch_of(40))
    assert wait_ended(client, batch.id).request_counts.succeeded == 40
    assert collections.Counter(r.body["model"] for r in upstream.chat_requests()) == {"local/model": 40}


def test_the_runs_budget_holds_for_its_batches(batches, upstream):
    costly = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "cost": 1.26}
    upstream.default = Reply(body=completion("done", usage=costly), repeat=True)
    proxy = batches(budget=2.50, batch_concurrency=1)
    client = sdk(proxy)
    batch = client.messages.batches.create(requests=batch_of(5))
    ended = wait_ended(client, batch.id)
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (2, 3)
    assert len(upstream.chat_requests()) == 2
    refused = [r for r in client.messages.batches.results(batch.id) if r.result.type == "errored"]
    assert {r.result.error.error.type for r in refused} == {"billing_error"}


def test_an_unusable_retry_after_falls_back_to_the_backoff(batches, upstream, fast_retries):
    upstream.script(Reply(status=429, body={"error": {"message": "slow down"}}, headers={"retry-after": "nan"}),
                    Reply(body=completion("done")))
    client = sdk(batches())
    batch = client.messages.batches.create(requests=batch_of(1))
    assert wait_ended(client, batch.id, timeout=20).request_counts.succeeded == 1
    assert len(upstream.chat_requests()) == 2


def test_a_200_that_is_not_a_message_is_that_requests_error(batches, upstream):
    """A pass-through upstream answering 200 with a maintenance page: that request is errored, and the
    results file stays readable for every other request."""
    proxy = batches(upstream=Upstream(base_url=upstream.base_url.replace("/api/v1", "/api"), provider="openrouter",
                                      kind="anthropic", api_key="sk-or-pass"),
                    models=ModelMap(default="anthropic/claude-sonnet-4.5"), model_info={})
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [
        {"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1}}
    upstream.script(Reply(body=message), Reply(items=[b"<html>maintenance</html>"], done=False))
    client = sdk(proxy)
    batch = client.messages.batches.create(requests=batch_of(2))
    wait_ended(client, batch.id)
    kinds = sorted(r.result.type for r in client.messages.batches.results(batch.id))
    assert kinds == ["errored", "succeeded"]
