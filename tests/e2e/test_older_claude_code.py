"""Claude Code 2.1.197 (no tool search; 24 tools up front; system message as a string) through orbridge."""

from __future__ import annotations

import pytest

from ..fake_upstream import Reply, chunk, text_stream, tool_stream

pytestmark = pytest.mark.e2e


def test_older_text_and_bash_round_trip_with_thinking(e2e_older):
    first = [chunk({"role": "assistant", "reasoning_content": "I will run it."})]
    first += tool_stream([("call_o1", "Bash", {"command": "echo older-ok > out.txt"})])[1:]
    e2e_older.fake.script(Reply(items=first), Reply(items=text_stream("Done on 2.1.197.")))
    r = e2e_older.run("write the file", "--allowedTools", "Bash")
    assert r.rc == 0, r.stderr
    assert (e2e_older.work / "out.txt").read_text().strip() == "older-ok"
    assert r.result["result"] == "Done on 2.1.197."
    reqs = e2e_older.fake.chat_requests()
    assert len(reqs) == 2
    first_body = reqs[0].body
    assert len(first_body["tools"]) >= 20 and "ToolSearch" not in {t["function"]["name"] for t in first_body["tools"]}
    assert [m["role"] for m in first_body["messages"]][:1] == ["system"]
    assistant = next(m for m in reqs[1].body["messages"] if m["role"] == "assistant")
    assert assistant["tool_calls"][0]["id"] == "call_o1"
    assert "reasoning_details" in assistant or "reasoning_content" in assistant
