"""The real Claude Code gets the arguments written after `--`, options first included."""

from __future__ import annotations

import subprocess

import pytest

from ..fake_upstream import Reply, text_stream
from .conftest import ORBRIDGE, Result

pytestmark = pytest.mark.e2e


def orbridge(e2e, *args: str, env: dict | None = None) -> Result:
    proc = subprocess.run([*ORBRIDGE, "run", *args], cwd=e2e.work, env=env or e2e.env(), capture_output=True,
                          text=True, timeout=90, stdin=subprocess.DEVNULL)
    return Result(proc.returncode, proc.stdout, proc.stderr, 0.0)


def test_an_option_first_after_the_separator_goes_to_claude(e2e):
    r = orbridge(e2e, "--", "--version")
    assert r.rc == 0, r.stderr
    assert "Claude Code" in r.stdout and "2.1." in r.stdout


def test_claude_from_the_flag_gets_print_mode_arguments(e2e):
    e2e.fake.script(Reply(items=text_stream("hello from -p")))
    env = e2e.env()
    del env["ORBRIDGE_CLAUDE"]  # the binary comes from --claude
    r = orbridge(e2e, "--claude", str(e2e.claude), "--", "-p", "hi", "--output-format", "stream-json", "--verbose",
                 env=env)
    assert r.rc == 0, r.stderr
    assert r.result["result"] == "hello from -p"
    assert e2e.fake.chat_requests()[0].body["model"] == "fake/model"


def test_a_command_without_the_separator_is_explained_not_run(e2e):
    r = orbridge(e2e, "claude", "-p", "hi")
    assert r.rc == 2 and r.stdout == ""
    assert "put the command after `--`: orbridge run -- claude -p hi" in r.stderr
    assert e2e.fake.chat_requests() == []
