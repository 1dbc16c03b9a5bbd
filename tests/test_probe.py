"""`orbridge probe`: the battery through the real proxy against scripted models that pass and that fail each
check, the CLI's table, JSON, exit code, cost and cache, and what `models` and `run` make of the cache."""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import zlib

import httpx
import pytest

from orbridge.cli import probe_checks
from orbridge.cli.probe_checks import battery, png

from .conftest import TOKEN, add_profile
from .fake_upstream import Reply, chunk, text_stream, tool_stream

COST = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60, "cost": 0.0005}


def about(word: str):
    return lambda body: word in json.dumps(body)


def thinking_stream() -> list:
    return [chunk({"role": "assistant"}), chunk({"reasoning": "1001 = 7 × 11 × 13."}),
            chunk({"content": "No."}), chunk({}, "stop"), chunk(usage=COST)]


def echo_nonce() -> Reply:
    """A model that reads the tool result: it answers with the nonce it finds there."""
    reply = Reply(repeat=True)

    def match(body: dict) -> bool:
        found = re.search(r"orb-[0-9a-f]{8}", json.dumps(body))
        if found:
            reply.items = text_stream(f"The code is {found.group()}.", usage=COST)
        return found is not None

    reply.match = match
    return reply


GOOD = {
    "text": Reply(items=text_stream("2 + 2 is 4.", usage=COST), match=about("2 + 2"), repeat=True),
    "tool_call": Reply(items=tool_stream([("call_1", "Bash", {"command": "ls -la"})], usage=COST),
                       match=about("ls -la"), repeat=True),
    "parallel_tools": Reply(items=tool_stream([("call_a", "Read", {"file_path": "/tmp/probe/a.txt"}),
                                               ("call_b", "Read", {"file_path": "/tmp/probe/b.txt"})], usage=COST),
                            match=about("a.txt"), repeat=True),
    "tool_result": echo_nonce(),
    "thinking": Reply(items=thinking_stream(), match=about("1001"), repeat=True),
    "image": Reply(items=text_stream("Red.", usage=COST), match=about("colour"), repeat=True),
}

BAD = {  # check -> (what the model does instead, the reason the probe must give)
    "tool_call": (Reply(items=text_stream("I would run ls -la for you."), match=about("ls -la"), repeat=True),
                  "no tool call"),
    "tool_call ": (Reply(items=tool_stream([("call_1", "Bash", '{"command": ls -la}')]), match=about("ls -la"),
                         repeat=True), "invalid JSON arguments"),
    "tool_call  ": (Reply(items=tool_stream([("call_1", "Read", {"file_path": "/x"})]), match=about("ls -la"),
                          repeat=True), "wrong tool (Read)"),
    "parallel_tools": (Reply(items=tool_stream([("call_a", "Read", {"file_path": "/tmp/probe/a.txt"})]),
                             match=about("a.txt"), repeat=True), "one tool call instead of two"),
    "tool_result": (Reply(items=text_stream("I cannot read files."), match=about("code.txt"), repeat=True),
                    "ignored the tool result"),
}


@pytest.fixture
def client(proxy):
    with httpx.Client(base_url=proxy.url, headers={"x-api-key": TOKEN}, timeout=30) as c:
        yield c


def test_a_model_that_does_everything_passes_every_check(upstream, client):
    upstream.script(*GOOD.values())
    result = battery(client, "fake/sonnet", reasoning=None, vision=None)
    assert {c.name: (c.status, c.reason) for c in result.checks} == {
        name: ("pass", "") for name in ("text", "tool_call", "parallel_tools", "tool_result", "thinking", "image")}
    assert result.ready and result.ttft_ms is not None and result.tokens_per_s is not None
    tools = [r.body["tools"] for r in upstream.chat_requests() if r.body.get("tools")]
    assert tools and {t["function"]["name"] for t in tools[0]} == {"Bash", "Read"}  # Claude Code's own tools


@pytest.mark.parametrize("check", list(BAD))
def test_each_failure_is_named_with_its_reason(upstream, client, check):
    reply, reason = BAD[check]
    name = check.strip()
    upstream.script(reply, *(r for n, r in GOOD.items() if n != name))
    result = battery(client, "fake/sonnet", reasoning=None, vision=None)
    got = {c.name: (c.status, c.reason) for c in result.checks}
    assert got[name] == ("fail", reason)
    assert all(status == "pass" for n, (status, _r) in got.items() if n != name)
    assert not result.ready


def test_no_reasoning_or_vision_in_the_catalogue_is_not_applicable(upstream, client):
    upstream.script(*GOOD.values())
    result = battery(client, "fake/sonnet", reasoning=False, vision=False)
    got = {c.name: c.status for c in result.checks}
    assert got["thinking"] == got["image"] == "n/a" and result.ready
    assert not any("1001" in json.dumps(r.body) or "colour" in json.dumps(r.body) for r in upstream.received)


def test_an_upstream_error_and_a_timeout_are_reasons(upstream, proxy):
    upstream.script(Reply(status=500, body={"error": {"message": "boom"}}, repeat=True))
    with httpx.Client(base_url=proxy.url, headers={"x-api-key": TOKEN}, timeout=30) as c:
        result = battery(c, "fake/sonnet", reasoning=False, vision=False)
    assert all(ch.reason.startswith("upstream error: 5") for ch in result.checks if ch.status == "fail")
    with httpx.Client(base_url="http://127.0.0.1:9", timeout=1) as c:  # nothing listens on port 9
        assert probe_checks.check_text(c, probe_checks.Result("m")).reason.startswith("upstream error")


def test_the_image_is_a_real_png_of_one_colour():
    data = png((220, 20, 20), size=4)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat_len = struct.unpack(">I", data[33:37])[0]
    rows = zlib.decompress(data[41:41 + idat_len])
    assert (width, height) == (4, 4) and rows == (b"\x00" + bytes((220, 20, 20)) * 4) * 4


def _cli_env(home):
    add_profile(home)
    home.fake.catalogue = {"data": [{"id": "fake/model", "context_length": 100000, "supported_parameters": ["tools"]},
                                    {"id": "fake/haiku", "context_length": 100000}]}


def test_probe_command_table_json_cost_exit_code_and_cache(home):
    _cli_env(home)
    fail_tool_result = BAD["tool_result"][0]
    home.fake.script(fail_tool_result, *(r for n, r in GOOD.items() if n != "tool_result"))
    r = home("probe", "fake/model", extra={"COLUMNS": "80"})
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, r.stdout
    assert "tool_result" in r.stdout and "ignored the tool result" in r.stdout
    assert "fake/model: not ready for Claude Code (tool_result failed)" in r.stdout
    assert lines[-1].startswith("probe cost: $0.00")  # what the upstream reported for the probe's requests
    cache = home.root / "state" / "orbridge" / "probe.json"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    entry = json.loads(cache.read_text())[f"{home.fake.base_url} fake/model"]
    assert entry["ready"] is False and entry["time"] > 0

    r = home("probe", "fake/model", "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["models"][0]["model"] == "fake/model" and data["cost"] > 0

    home.fake.script(*GOOD.values())
    r = home("probe", "fake/model", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["models"][0]["ready"] is True


def test_models_shows_the_probe_column_and_run_warns_once(home):
    _cli_env(home)
    home.fake.script(BAD["tool_call"][0], *(r for n, r in GOOD.items() if n != "tool_call"))
    assert home("probe", "fake/model").returncode == 1
    r = home("models")
    row = next(line for line in r.stdout.splitlines() if line.startswith("fake/model"))
    assert row.rstrip().endswith("fail"), r.stdout
    listed = {m["id"]: m for m in json.loads(home("models", "--json").stdout)}
    assert listed["fake/model"]["probe"] == "fail" and "probe" not in listed["fake/haiku"]
    home.fake.script()
    r = home("run", "--", sys_executable(), "-c", "pass")
    warnings = [line for line in r.stderr.splitlines() if "orbridge probe" in line]
    assert r.returncode == 0 and len(warnings) == 1, r.stderr
    assert "fake/model (tool_call: no tool call)" in warnings[0]
    assert home.fake.chat_requests() == []  # the warning comes from the cache, not from asking the model


def sys_executable() -> str:
    import sys

    return sys.executable
