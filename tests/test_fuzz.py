"""Bad input fuzzing: generated bodies against the real app; never a 5xx, never a traceback.

Three generators: random JSON values, a valid Claude Code-shaped body with one field replaced by a value of
the wrong type (at every depth), and structural breakage (unknown block types, unpaired tool ids, bad
base64, huge strings, deep nesting). The total is counted and asserted to reach 10,000.
"""

from __future__ import annotations

import copy
import json
import logging

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import claude_code_requests as cc
from .conftest import TOKEN, nodelay_client
from .fake_upstream import Reply, completion

SENT = {"count": 0, "5xx": 0}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            yield from _paths(v, (*prefix, i))


BASE = cc.bash_turn2(cc.turn1_v332())
BASE.pop("stream")
BASE_PATHS = [p for p in _paths(BASE) if p]


def _replace(body, path, value):
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


STRUCTURAL = [
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "mystery", "x": 1}]}]},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "not base64!!"}}]}]},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"}}]}]},
    {"model": "m", "max_tokens": 5, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "X", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": "x"}]}]},
    {"model": "m", "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]},
    {"model": "", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    {"model": "m", "max_tokens": 5, "messages": []},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "thinking": {"type": "on"}},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [{"name": ""}]},
]


@pytest.fixture(scope="module")
def server(upstream_server):
    from orbridge.proxy.server import ProxyServer, bind

    from .conftest import make_settings

    upstream_server.default = Reply(body=completion("ok"), repeat=True)
    errors: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(record)

    handler = Catch()
    for name in ("orbridge", "uvicorn.error", "uvicorn"):
        logging.getLogger(name).addHandler(handler)
    srv = ProxyServer(make_settings(upstream_server), bind()).start()
    client = nodelay_client(base_url=srv.url, headers={"x-api-key": TOKEN}, timeout=10)
    yield client, errors
    client.close()
    srv.stop()
    upstream_server.default = None
    for name in ("orbridge", "uvicorn.error", "uvicorn"):
        logging.getLogger(name).removeHandler(handler)


def send(client: httpx.Client, raw: bytes, path: str = "/v1/messages") -> httpx.Response:
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    SENT["count"] += 1
    if r.status_code >= 500:
        SENT["5xx"] += 1
    assert r.status_code < 500, (raw[:500], r.text)
    if r.status_code >= 400:
        err = r.json()
        assert err["type"] == "error" and err["error"]["type"] and err["error"]["message"]
    return r


FUZZ = settings(max_examples=3400, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@FUZZ
@given(value=json_values)
def test_random_json(server, value):
    client, _ = server
    path = "/v1/messages" if SENT["count"] % 4 else "/v1/messages/count_tokens"
    r = send(client, json.dumps(value).encode(), path)
    assert r.status_code in (200, 400)


@FUZZ
@given(path=st.sampled_from(BASE_PATHS), value=json_values)
def test_wrong_type_at_every_field(server, path, value):
    client, _ = server
    send(client, json.dumps(_replace(BASE, path, value)).encode())


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       nested=st.integers(1, 3000))
def test_bytes_and_deep_nesting(server, raw, nested):
    client, _ = server
    send(client, raw)
    send(client, ("[" * nested + "]" * nested).encode())


def test_structural_cases(server):
    client, _ = server
    for body in STRUCTURAL:
        r = send(client, json.dumps(body).encode())
        assert r.status_code == 400, body
    huge = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 2_000_000}]}
    assert send(client, json.dumps(huge).encode()).status_code == 200  # large but valid


def test_totals(server):
    """Runs last in this module: at least 10,000 bodies sent, no 5xx, nothing logged at ERROR."""
    _, errors = server
    print(f"fuzz: {SENT}")
    assert SENT["count"] >= 10_000, SENT
    assert SENT["5xx"] == 0
    assert errors == [], [e.getMessage() for e in errors]
