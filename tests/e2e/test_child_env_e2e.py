"""What the real Claude Code, started by `orbridge run`, sees: no key in its tools' environment, and the
context window orbridge set (not 1M) even for "Default" (`--model default` runs `<opus tier>[1m]`)."""

from __future__ import annotations

import pytest

from ..fake_upstream import Reply, text_stream, tool_stream

pytestmark = pytest.mark.e2e

FILE_KEY = "sk-or-e2e-canary-0042"  # the stored key (tests/e2e/conftest.py)


def test_claude_codes_bash_tool_sees_no_key(e2e):
    keys = {"OPENROUTER_API_KEY": "sk-or-env-canary-7731", "OPENAI_API_KEY": "sk-openai-canary-5519",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-canary-0917", "MY_COPY_OF_THE_KEY": FILE_KEY}
    e2e.fake.script(
        Reply(items=tool_stream([("call_env", "Bash", {"command": "env > env.txt", "description": "dump env"})])),
        Reply(items=text_stream("Dumped.")))
    r = e2e.run("dump the environment", "--allowedTools", "Bash", env=keys)
    assert r.rc == 0, r.stderr
    dump = (e2e.work / "env.txt").read_text()
    assert "PATH=" in dump  # the tool did run in the child's environment
    for name, value in keys.items():
        assert value not in dump, name
        assert f"{name}=" not in dump, name
    # the environment's key (it wins over the file) still reached the upstream, through the proxy only
    assert e2e.fake.chat_requests()[0].headers["authorization"] == "Bearer sk-or-env-canary-7731"


def window(result: dict) -> int:
    usage = result["modelUsage"]
    assert len(usage) == 1, usage
    return next(iter(usage.values()))["contextWindow"]


def test_default_model_keeps_the_window_orbridge_set(e2e):
    e2e.fake.script(Reply(items=text_stream("hi"), repeat=True))
    r = e2e.run("hi", "--model", "default")
    assert r.rc == 0, r.stderr
    assert window(r.result) == 128_000  # Claude Code 2.1.332 takes 1M for the [1m] model without the fix
    r = e2e.run("hi", "--model", "default", env={"CLAUDE_CODE_MAX_CONTEXT_TOKENS": "50000"})
    assert r.rc == 0, r.stderr
    assert window(r.result) == 50_000  # the user's own value wins over orbridge's
