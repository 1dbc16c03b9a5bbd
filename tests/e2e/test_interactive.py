"""Interactive Claude Code under tmux through `orbridge run`: type a prompt, see the answer, /exit."""

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

pytestmark = pytest.mark.e2e


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def wait_for(session: str, text: str, timeout: float) -> str:
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{screen}")


def test_interactive_prompt_answer_and_exit(e2e):
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI")
        pytest.skip("tmux not installed")
    answer = "Bonjour from the fake upstream"
    e2e.fake.default = Reply(items=text_stream(answer), repeat=True)
    (e2e.home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "projects": {str(e2e.work): {"hasTrustDialogAccepted": True}}}))
    exit_file = e2e.root / "exit_code"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in e2e.env(TERM="xterm-256color").items())
    cmd = (f"cd {shlex.quote(str(e2e.work))} && env -i {env} {shlex.quote(sys.executable)} -m orbridge.cli "
           f"run --profile e2e -- claude; echo $? > {shlex.quote(str(exit_file))}")
    session = f"orb{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", cmd], check=True)
    try:
        time.sleep(3)
        wait_for(session, "❯", 40)
        tmux("send-keys", "-t", session, "-l", "say hello")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, answer, 40)
        tmux("send-keys", "-t", session, "-l", "/exit")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
        deadline = time.time() + 20
        while not exit_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert exit_file.exists(), tmux("capture-pane", "-p", "-t", session)
        assert exit_file.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    main_turns = [r for r in e2e.fake.chat_requests() if r.body.get("tools")]
    assert len(main_turns) == 1
