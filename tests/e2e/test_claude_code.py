"""The real Claude Code binary through `orbridge run`, against the scripted fake upstream."""

from __future__ import annotations

import json

import pytest

from ..fake_upstream import Pause, Reply, chunk, text_stream, tool_stream

pytestmark = pytest.mark.e2e


def chat(e2e):
    return e2e.fake.chat_requests()


def test_plain_text_with_split_utf8(e2e):
    text = "Hello 你好世界 🎉 done"
    data = b"data: " + json.dumps(chunk({"content": text}), ensure_ascii=False).encode() + b"\n\n"
    cut = data.index("好".encode()) + 1
    emoji = data.index("🎉".encode()) + 2
    e2e.fake.script(Reply(items=[chunk({"role": "assistant"}), data[:cut], Pause(0.05), data[cut:emoji],
                                 Pause(0.05), data[emoji:], chunk({}, "stop")]))
    r = e2e.run("say hi")
    assert r.rc == 0, r.stderr
    assert r.result["result"] == text
    assert len(chat(e2e)) == 1
    sent = chat(e2e)[0]
    assert sent.body["model"] == "fake/model" and sent.headers["authorization"] == "Bearer sk-or-e2e-canary-0042"
    assert "sk-or-e2e-canary-0042" not in r.stdout + r.stderr


def test_bash_round_trip(e2e):
    e2e.fake.script(
        Reply(items=tool_stream([("call_b1", "Bash", {"command": "echo e2e-ok > out.txt",
                                                       "description": "write a file"})])),
        Reply(items=text_stream("The file is written.")))
    r = e2e.run("write the file", "--allowedTools", "Bash")
    assert r.rc == 0, r.stderr
    assert (e2e.work / "out.txt").read_text().strip() == "e2e-ok"
    assert r.result["result"] == "The file is written."
    reqs = chat(e2e)
    assert len(reqs) == 2  # no silent non-streaming fallback
    tool_msgs = [m for m in reqs[1].body["messages"] if m["role"] == "tool"]
    assert tool_msgs and tool_msgs[-1]["tool_call_id"] == "call_b1"


def test_write_then_read_tiny_pieces_and_parallel_calls(e2e):
    path = str(e2e.work / "notes.txt")
    content = "line one 中文\nline \"two\" | pipes\n"
    e2e.fake.script(
        Reply(items=tool_stream([("call_w", "Write", {"file_path": path, "content": content})], piece=1)),
        Reply(items=tool_stream([("call_r1", "Read", {"file_path": path}),
                                 ("call_r2", "Bash", {"command": "wc -l notes.txt"})], piece=2)),
        Reply(items=text_stream("Read it twice.")))
    r = e2e.run("write and read", "--allowedTools", "Write", "Read", "Bash")
    assert r.rc == 0, r.stderr
    assert (e2e.work / "notes.txt").read_text() == content
    reqs = chat(e2e)
    assert len(reqs) == 3
    last_tools = [m for m in reqs[2].body["messages"] if m["role"] == "tool"]
    ids = [m["tool_call_id"] for m in last_tools]
    assert "call_r1" in ids and "call_r2" in ids
    read_result = next(m for m in last_tools if m["tool_call_id"] == "call_r1")["content"]
    assert "line one 中文" in read_result
    assert r.result["result"] == "Read it twice."


def test_reasoning_shows_as_thinking_and_goes_back(e2e):
    first = [chunk({"role": "assistant", "reasoning": "I should run ls.", "reasoning_details": [
        {"type": "reasoning.text", "text": "I should run ls.", "signature": "sig-abc", "format": "x-v1"}]})]
    first += tool_stream([("call_l", "Bash", {"command": "ls"})])[1:]
    e2e.fake.script(Reply(items=first), Reply(items=text_stream("Listed.")))
    r = e2e.run("list files", "--allowedTools", "Bash")
    assert r.rc == 0, r.stderr
    thinking = [b for e in r.events if e.get("type") == "assistant" for b in e["message"]["content"]
                if b.get("type") == "thinking"]
    assert thinking and thinking[0]["thinking"] == "I should run ls."
    assistant = next(m for m in chat(e2e)[1].body["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"][0] == {"type": "reasoning.text", "text": "I should run ls.",
                                                 "signature": "sig-abc", "format": "x-v1"}


def test_tool_search_loads_a_deferred_tool(e2e):
    e2e.fake.script(
        Reply(items=tool_stream([("call_ts", "ToolSearch", {"query": "select:CronList"})])),
        Reply(items=tool_stream([("call_cl", "CronList", {})])),
        Reply(items=text_stream("No jobs.")))
    r = e2e.run("list cron jobs", "--allowedTools", "ToolSearch", "CronList")
    assert r.rc == 0, r.stderr
    reqs = chat(e2e)
    first_tools = {t["function"]["name"] for t in reqs[0].body["tools"]}
    assert "ToolSearch" in first_tools and "CronList" not in first_tools
    assert "DeferredToolPlaceholder" not in first_tools
    second_tools = {t["function"]["name"] for t in reqs[1].body["tools"]}
    assert "CronList" in second_tools
    tool_msg = next(m for m in reqs[1].body["messages"] if m["role"] == "tool")
    assert "CronList is now available" in tool_msg["content"]
    assert len(reqs) == 3
    assert [u["name"] for u in r.tool_uses()] == ["ToolSearch", "CronList"]
    final_tool = [m for m in reqs[2].body["messages"] if m["role"] == "tool"][-1]
    assert final_tool["tool_call_id"] == "call_cl" and not final_tool["content"].startswith("Error")


def test_upstream_500_once_then_success(e2e):
    e2e.fake.script(Reply(status=500, body={"error": {"message": "boom", "code": 500}}),
                    Reply(items=text_stream("Recovered.")))
    r = e2e.run("hi")
    assert r.rc == 0, r.stderr
    assert r.result["result"] == "Recovered."
    assert len(chat(e2e)) == 2


def test_upstream_400_fails_fast_with_its_message(e2e):
    e2e.fake.script(Reply(status=400, body={"error": {"message": "bad parameter: frobnicate", "code": 400}},
                          repeat=True))
    r = e2e.run("hi", timeout=30)
    assert r.rc == 1
    assert "bad parameter: frobnicate" in r.stdout
    assert r.seconds < 10
    # Claude Code 2.1.332 itself retries a 400 a few times (once more without tool search); no endless loop.
    assert 1 <= len(chat(e2e)) <= 6


def test_upstream_key_rejected_stops_and_names_the_fix(e2e):
    e2e.fake.script(Reply(status=401, body={"error": {"message": "User not found.", "code": 401}}, repeat=True))
    r = e2e.run("hi", timeout=30)
    assert r.rc != 0
    assert "orbridge keys set openrouter" in r.stdout
    assert r.seconds < 10
    assert 1 <= len(chat(e2e)) <= 6
    assert "sk-or-e2e-canary-0042" not in r.stdout + r.stderr


def test_silent_upstream_kept_alive_by_pings(e2e):
    e2e.fake.script(Reply(items=[": OPENROUTER PROCESSING", Pause(20)] + text_stream("Worth the wait.")))
    r = e2e.run("hi", timeout=90)
    assert r.rc == 0, r.stderr
    assert r.result["result"] == "Worth the wait."
    assert len(chat(e2e)) == 1


def test_exit_code_passes_through(e2e):
    import subprocess

    direct = subprocess.run([str(e2e.claude), "-p", "hi", "--this-flag-does-not-exist"], cwd=e2e.work,
                            env=e2e.env(), capture_output=True, timeout=30)
    r = e2e.run("hi", "--this-flag-does-not-exist", timeout=30)
    assert direct.returncode != 0 and r.rc == direct.returncode
    assert chat(e2e) == []


def test_anthropic_passthrough_with_claude_code(e2e):
    from ..fake_upstream import anthropic_sse

    e2e.fake.script(Reply(items=[anthropic_sse("Relayed untouched.", thinking=("pondering", "EqGenuine=="))],
                          done=False))
    r = e2e.run("hi", env={"ANTHROPIC_API_KEY": "sk-ant-e2e-canary-77"},
                orbridge_args=("--provider", "anthropic", "--model", "claude-upstream-model",
                               "--base-url", e2e.fake.base_url.replace("/api/v1", ""), "--key-name", "anthropic"))
    assert r.rc == 0, r.stderr
    assert r.result["result"] == "Relayed untouched."
    sent = e2e.fake.received[-1]
    assert sent.path.startswith("/v1/messages") and sent.body["model"] == "claude-upstream-model"
    assert sent.headers["x-api-key"] == "sk-ant-e2e-canary-77"
    assert "claude-code" in sent.headers.get("anthropic-beta", "")  # Claude Code's betas forwarded as sent
    assert sent.body.get("context_management") is not None  # untranslated
    assert "sk-ant-e2e-canary-77" not in r.stdout + r.stderr


def test_mcp_tool_with_a_name_over_64_chars(e2e):
    import sys
    from pathlib import Path

    from orbridge.proxy.anthropic_openai.tools import alias

    server = "orbridge-e2e-long-server-name"
    full = f"mcp__{server}__echo_the_given_text_back_verbatim_please"
    assert len(full) > 64
    config = e2e.root / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {server: {
        "command": sys.executable, "args": [str(Path(__file__).with_name("mcp_echo_server.py"))]}}}))
    e2e.fake.script(
        Reply(items=tool_stream([("call_ts", "ToolSearch", {"query": f"select:{full}"})])),
        Reply(items=tool_stream([("call_mcp", alias(full), {"text": "hello-mcp"})])),
        Reply(items=text_stream("Echoed.")))
    r = e2e.run("echo via mcp", "--mcp-config", str(config), "--allowedTools", f"ToolSearch {full}")
    assert r.rc == 0, r.stdout[-2000:] + r.stderr
    reqs = chat(e2e)
    declared = {t["function"]["name"] for t in reqs[1].body["tools"]}
    assert alias(full) in declared and all(len(n) <= 64 for n in declared)
    assert [u["name"] for u in r.tool_uses()] == ["ToolSearch", full]  # Claude Code saw the real name
    result = [m for m in reqs[2].body["messages"] if m["role"] == "tool"][-1]
    assert result["tool_call_id"] == "call_mcp" and "echo: hello-mcp" in result["content"]
