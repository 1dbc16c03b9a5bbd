"""orbridge's status line in a real interactive Claude Code session (tmux): after an answer it shows the
upstream model serving and the session's real cost from the request log."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from ..fake_upstream import Reply, text_stream
from .test_interactive import tmux, wait_for

pytestmark = pytest.mark.e2e
USAGE = {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230, "cost": 0.0421}


def test_status_line_shows_the_real_model_and_cost(e2e):
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI")
        pytest.skip("tmux not installed")
    e2e.fake.default = Reply(items=text_stream("Hello from the fake upstream", usage=USAGE), repeat=True)
    (e2e.home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "projects": {str(e2e.work): {"hasTrustDialogAccepted": True}}}))
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in e2e.env(TERM="xterm-256color").items())
    cmd = (f"cd {shlex.quote(str(e2e.work))} && env -i {env} {shlex.quote(sys.executable)} -m orbridge.cli "
           "run --profile e2e -- claude")
    session = f"orbsl{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", cmd], check=True)
    try:
        wait_for(session, "no requests yet in this session", 60)  # the status line, before any request
        tmux("send-keys", "-t", session, "-l", "say hello")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, "Hello from the fake upstream", 40)
        screen = wait_for(session, "fake/model · $0.0", 30)
        line = next(row for row in screen.splitlines() if "fake/model · $" in row)
        log = e2e.root / "state" / "orbridge" / "log" / "requests.jsonl"
        records = [json.loads(r) for r in log.read_text().splitlines()]
        session_id = records[-1]["session"]
        cost = sum(r.get("cost", 0) for r in records if r["session"] == session_id)
        assert f"fake/model · ${cost:.4f} · " in line, (line, records)
        tmux("send-keys", "-t", session, "-l", "/exit")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
