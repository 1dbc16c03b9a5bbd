"""Batches on the `anthropic` pass-through preset go to the upstream's own Message Batches API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic
import pytest

from orbridge.proxy.settings import Upstream

from .conftest import TOKEN
from .test_batches import batch_of, sdk

UP_KEY = "sk-ant-upstream-test"
BATCH = {"id": "msgbatch_up1", "type": "message_batch", "processing_status": "ended",
         "request_counts": {"processing": 0, "succeeded": 2, "errored": 0, "canceled": 0, "expired": 0},
         "created_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:01:00Z",
         "expires_at": "2026-01-02T00:00:00Z", "cancel_initiated_at": None, "archived_at": None,
         "results_url": "https://api.anthropic.invalid/v1/messages/batches/msgbatch_up1/results"}
LINES = [{"custom_id": f"r{i}", "result": {"type": "succeeded", "message": {
    "id": f"msg_{i}", "type": "message", "role": "assistant", "model": "claude-x", "content": [
        {"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1}}}} for i in range(2)]


class FakeAnthropicBatches:
    """Anthropic's batch endpoints, scripted: one known batch, everything else a 404 in Anthropic's shape."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict, bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                fake.received.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                      body))
                path = self.path.split("?")[0]
                base = "/v1/messages/batches"
                answers = {("POST", base): BATCH, ("GET", base): {"data": [BATCH], "has_more": False,
                                                                  "first_id": BATCH["id"], "last_id": BATCH["id"]},
                           ("GET", f"{base}/msgbatch_up1"): BATCH,
                           ("POST", f"{base}/msgbatch_up1/cancel"): {**BATCH, "processing_status": "canceling"},
                           ("DELETE", f"{base}/msgbatch_up1"): {"id": "msgbatch_up1", "type": "message_batch_deleted"}}
                if (self.command, path) == ("GET", f"{base}/msgbatch_up1/results"):
                    data, status = "".join(json.dumps(line) + "\n" for line in LINES).encode(), 200
                elif (self.command, path) in answers:
                    data, status = json.dumps(answers[(self.command, path)]).encode(), 200
                else:
                    data, status = json.dumps({"type": "error", "error": {"type": "not_found_error",
                                                                          "message": "no such batch"}}).encode(), 404
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def anthropic_upstream():
    fake = FakeAnthropicBatches()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_batches_are_forwarded_with_routed_models(proxy_factory, anthropic_upstream, tmp_path):
    proxy = proxy_factory(upstream=Upstream(base_url=anthropic_upstream.url, provider="anthropic", kind="anthropic",
                                            api_key=UP_KEY), check_upstream=False)
    client = sdk(proxy)
    created = client.messages.batches.create(requests=batch_of(2))
    assert created.id == "msgbatch_up1"
    assert created.results_url == f"{proxy.url}/v1/messages/batches/msgbatch_up1/results"
    method, path, headers, body = anthropic_upstream.received[0]
    assert (method, path) == ("POST", "/v1/messages/batches")
    assert headers["x-api-key"] == UP_KEY and TOKEN not in json.dumps(headers)
    sent = json.loads(body)["requests"]
    assert [r["custom_id"] for r in sent] == ["r0", "r1"]
    assert {r["params"]["model"] for r in sent} == {"fake/sonnet"}  # claude-sonnet-* routed to the sonnet tier
    assert sent[0]["params"]["messages"] == [{"role": "user", "content": "r0"}]

    assert client.messages.batches.retrieve("msgbatch_up1").processing_status == "ended"
    assert [b.id for b in client.messages.batches.list()] == ["msgbatch_up1"]
    assert [r.custom_id for r in client.messages.batches.results("msgbatch_up1")] == ["r0", "r1"]
    assert client.messages.batches.cancel("msgbatch_up1").processing_status == "canceling"
    assert client.messages.batches.delete("msgbatch_up1").type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError) as exc:
        client.messages.batches.retrieve("msgbatch_other")
    assert exc.value.body["error"] == {"type": "not_found_error", "message": "no such batch"}
    assert all(h["x-api-key"] == UP_KEY and TOKEN not in json.dumps(h) for _m, _p, h, _b in anthropic_upstream.received)

    calls = len(anthropic_upstream.received)
    r = proxy.post("/v1/messages/batches", {"requests": [{"custom_id": "a", "params": {"model": "m"}}]})
    assert r.status_code == 400 and "requests[0].params.max_tokens" in r.json()["error"]["message"]
    assert len(anthropic_upstream.received) == calls  # checked here, never sent


def test_forward_unreachable_upstream_is_an_anthropic_error(proxy_factory):
    proxy = proxy_factory(upstream=Upstream(base_url="http://127.0.0.1:9", provider="anthropic", kind="anthropic",
                                            api_key=UP_KEY), check_upstream=False)
    r = proxy.http.get("/v1/messages/batches")
    assert r.status_code == 502 and r.json()["type"] == "error" and r.json()["error"]["type"] == "api_error"
