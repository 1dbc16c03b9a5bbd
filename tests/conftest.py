"""Shared fixtures: the fake upstream and the real proxy app served by uvicorn on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from orbridge.proxy.server import ProxyServer, bind
from orbridge.proxy.settings import ModelInfo, ModelMap, Settings, Upstream

from .fake_upstream import FakeUpstream
from .sse_validator import check

TOKEN = "test-token-123"


@pytest.fixture(scope="session")
def upstream_server():
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def upstream(upstream_server):
    upstream_server.script()
    upstream_server.default = None
    upstream_server.catalogue = None
    return upstream_server


def make_settings(fake: FakeUpstream, tmp_path=None, **overrides) -> Settings:
    upstream_kw = overrides.pop("upstream_kw", {})
    values = dict(
        token=TOKEN,
        upstream=Upstream(base_url=fake.base_url, provider="openrouter", api_key="sk-or-test",
                          **upstream_kw),
        models=ModelMap(default="fake/default", opus="fake/opus", sonnet="fake/sonnet",
                        haiku="fake/haiku"),
        model_info={"fake/opus": ModelInfo(context_length=200_000, max_output=32_000, reasoning=True)},
        ping_interval=0.5,
        first_byte_grace=0.3,
        log_path=(tmp_path / "requests.jsonl") if tmp_path else None,
    )
    values.update(overrides)
    return Settings(**values)


def nodelay_client(**kw) -> httpx.Client:
    """A sync client that sends headers and body without Nagle's delay (httpx's sync backend keeps it on)."""
    import socket

    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(transport=transport, **kw)


class Proxy:
    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.url = server.url
        self.http = nodelay_client(base_url=self.url, timeout=30,
                                   headers={"x-api-key": TOKEN, "anthropic-version": "2023-06-01"})

    def post(self, path: str, body: dict | None = None, **kw) -> httpx.Response:
        return self.http.post(path, json=body, **kw)

    def stream(self, body: dict, **kw) -> tuple[httpx.Response, bytes]:
        """POST a streaming request; return the response and the raw bytes (validated when SSE)."""
        with self.http.stream("POST", "/v1/messages", json={**body, "stream": True}, **kw) as resp:
            raw = resp.read()
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            check(raw)
        return resp, raw


@pytest.fixture
def proxy_factory(upstream, tmp_path):
    started: list[Proxy] = []

    def start(**overrides) -> Proxy:
        server = ProxyServer(make_settings(upstream, tmp_path, **overrides), bind()).start()
        proxy = Proxy(server)
        started.append(proxy)
        return proxy

    yield start
    for p in started:
        p.http.close()
        p.server.stop()


def leave_while_the_upstream_thinks(proxy: Proxy, upstream: FakeUpstream, body: dict) -> None:
    """The client gives up on a non-streamed call the upstream takes 3 s to answer; the upstream must see its
    connection closed within 5 s (nothing goes on generating, and billing, for nobody)."""
    before = upstream.disconnects
    with pytest.raises(httpx.ReadTimeout):
        proxy.http.post("/v1/messages", json=body, timeout=0.5)
    deadline = time.time() + 5
    while upstream.disconnects == before and time.time() < deadline:
        time.sleep(0.05)
    assert upstream.disconnects == before + 1


@pytest.fixture
def proxy(proxy_factory) -> Proxy:
    return proxy_factory()


CANARY = "sk-or-canary-7f3a9c"
ORBRIDGE = [sys.executable, "-m", "orbridge.cli"]


@pytest.fixture
def home(tmp_path, upstream):
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"), "NO_COLOR": "1", "COLUMNS": "200",
    }
    (tmp_path / "home").mkdir()

    def orb(*args: str, input: str | None = None, extra: dict | None = None, timeout: float = 60):
        return subprocess.run([*ORBRIDGE, *args], env={**env, **(extra or {})}, input=input, capture_output=True,
                              text=True, timeout=timeout, cwd=tmp_path)

    orb.env = env
    orb.root = tmp_path
    orb.config_dir = tmp_path / "cfg" / "orbridge"
    orb.fake = upstream
    return orb


def add_profile(orb) -> None:
    r = orb("profile", "add", "t", "--provider", "openrouter", "--base-url", orb.fake.base_url, "--model",
            "fake/model", "--haiku", "fake/haiku", "--key-name", "openrouter", "--use")
    assert r.returncode == 0, r.stderr
    r = orb("keys", "set", "openrouter", input=CANARY + "\n")
    assert r.returncode == 0, r.stderr
    assert CANARY not in r.stdout + r.stderr


