"""The real Claude Code against an upstream that is not there: a final answer in seconds that names the URL,
not minutes of silent retries (Claude Code's own retry count, not the suite's lowered one)."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from .conftest import ORBRIDGE

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url, words", [
    (f"http://127.0.0.1:{free_port()}/v1", "nothing answers at http://127.0.0.1:"),
    ("http://orbridge-e2e-host.invalid/v1", "cannot resolve the host of http://orbridge-e2e-host.invalid/v1"),
])
def test_dead_upstream_is_reported_in_seconds(e2e, url, words):
    env = e2e.env()
    del env["CLAUDE_CODE_MAX_RETRIES"]  # Claude Code's default: ten retries over minutes, unless told it is final
    start = time.monotonic()
    proc = subprocess.run([*ORBRIDGE, "run", "--base-url", url, "--model", "m", "--", "claude", "-p", "hi"],
                          cwd=e2e.work, env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert words in out and "orbridge doctor" in out, out
    assert elapsed < 15, f"took {elapsed:.1f} s"


def test_ctrl_c_in_claude_code_is_logged_as_cancelled(e2e):
    import json
    import os
    import signal

    from ..fake_upstream import Pause, Reply, chunk

    e2e.fake.script(Reply(items=[chunk({"role": "assistant", "content": "Working on"}),
                                 chunk({"content": " it"}, usage={"prompt_tokens": 50, "completion_tokens": 3}),
                                 Pause(30), chunk({}, "stop")], repeat=True))
    proc = subprocess.Popen([*ORBRIDGE, "run", "--profile", "e2e", "--", "claude", "-p", "hi"], cwd=e2e.work,
                            env=e2e.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not e2e.fake.chat_requests() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the answer has started streaming
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at the terminal: the whole foreground group
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = e2e.root / "state" / "orbridge" / "log" / "requests.jsonl"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (log.exists() and "cancelled" in log.read_text()):
        time.sleep(0.1)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    main = [r for r in records if r.get("upstream_model") == "fake/model"]
    assert main and main[-1]["status"] == 499 and main[-1]["error_type"] == "cancelled", records
    assert main[-1]["input_tokens"] == 50 and main[-1]["output_tokens"] == 3  # the tokens seen so far
