"""--budget with the real Claude Code: the request past the cap gets orbridge's message on screen, and Claude
Code stops there instead of retrying (its own retry count, not the suite's lowered one)."""

from __future__ import annotations

import json

import pytest

from ..fake_upstream import Reply, text_stream, tool_stream

pytestmark = pytest.mark.e2e
COSTLY = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "cost": 0.6}
MESSAGE = "orbridge budget of $0.50 reached ($0.60 spent in this run) — rerun with a higher --budget"


def test_budget_stop_is_shown_and_not_retried(e2e):
    e2e.fake.script(
        Reply(items=tool_stream([("call_b1", "Bash", {"command": "echo spent > out.txt",
                                                       "description": "write a file"})], usage=COSTLY),
              match=lambda body: bool(body.get("tools"))),
        Reply(items=text_stream("never sent", usage=COSTLY), repeat=True))
    env = e2e.env()
    del env["CLAUDE_CODE_MAX_RETRIES"]  # Claude Code's default: retries unless told the error is final
    r = e2e.run("write the file", "--allowedTools", "Bash", orbridge_args=("--budget", "0.50"), env=env,
                timeout=120)
    assert (e2e.work / "out.txt").read_text().strip() == "spent"  # the first turn, under the cap, ran
    assert r.rc != 0 and MESSAGE in r.stdout, r.stdout[-2000:]
    assert r.seconds < 30
    log = e2e.root / "state" / "orbridge" / "log" / "requests.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    stops = [rec for rec in records if rec.get("error_type") == "budget"]
    assert len(stops) == 1 and stops[0]["status"] == 402, records  # shown once, never asked again (a 400: 6)
    main = [r for r in e2e.fake.chat_requests() if r.body.get("tools")]
    assert len(main) == 1
