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
