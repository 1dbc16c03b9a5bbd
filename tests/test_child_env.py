"""What the child process gets: no key in any variable, the window and output cap the user asked for."""

from __future__ import annotations

import pytest

from orbridge.cli import child_env, keys
from orbridge.cli.catalogue import ModelEntry
from orbridge.cli.config import PRESETS, Profile
from orbridge.cli.resolve import Resolved

STORED = "sk-stored-4f1d9a7c2b"
RESOLVED = "sk-resolved-8e2c0b5d"


@pytest.fixture(autouse=True)
def key_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBRIDGE_CONFIG", str(tmp_path / "cfg" / "config.toml"))
    keys.set_key("gateway", STORED)
    keys.set_key("local", "1")  # a placeholder key for a local server


def resolved(provider: str = "ollama", api_key: str | None = RESOLVED, info: ModelEntry | None = None,
             **profile) -> Resolved:
    p = Profile(name="p", provider=provider, model="m/main", opus=None, haiku=None, **profile)
    return Resolved(p, api_key, "file", {"m/main": info} if info else {})


def build(r: Resolved, base: dict[str, str], pass_env: list[str] | None = None):
    return child_env.explain(r, "http://127.0.0.1:1", "tok-123", base=base, pass_env=pass_env)


def test_every_provider_key_variable_is_removed_whatever_the_active_provider():
    base = {name: f"value-of-{name}" for name in child_env.PROVIDER_KEY_VARS}
    base |= {"PATH": "/bin", "ORBRIDGE_TOKEN": "fixed-token", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}
    env, _setting, _sources, removed = build(resolved("ollama"), base)
    assert {p.env_var for p in PRESETS.values() if p.env_var} <= child_env.PROVIDER_KEY_VARS
    leaked = {k for k, v in env.items() if v.startswith("value-of-")}
    assert leaked == set()
    assert "OPENROUTER_API_KEY" in removed and "OPENAI_API_KEY" in removed and "AWS_SECRET_ACCESS_KEY" in removed
    assert "ORBRIDGE_TOKEN" not in env
    assert env["ANTHROPIC_API_KEY"] == ""  # present and empty
    assert env["PATH"] == "/bin" and env["GOOGLE_APPLICATION_CREDENTIALS"] == "/k.json"  # a path, not a key


def test_variables_holding_a_key_orbridge_has_are_removed_under_any_name():
    base = {"MY_GATEWAY": STORED, "COPY": f" {RESOLVED}\n", "SHLVL": "1", "HOME": "/h"}
    env, *_ = build(resolved("openai"), base)
    assert "MY_GATEWAY" not in env and "COPY" not in env
    assert STORED not in env.values() and RESOLVED not in "".join(env.values())
    assert env["SHLVL"] == "1" and env["HOME"] == "/h"  # a 1-character "key" is a placeholder, not a secret


def test_pass_env_keeps_a_key_on_purpose_but_never_anthropic_api_key():
    base = {"OPENAI_API_KEY": "sk-openai-kept", "MY_GATEWAY": STORED, "GROQ_API_KEY": "gsk-gone",
            "ANTHROPIC_API_KEY": "sk-ant-real"}
    env, _s, _src, removed = build(resolved(), base, pass_env=["OPENAI_API_KEY", "MY_GATEWAY", "ANTHROPIC_API_KEY"])
    assert env["OPENAI_API_KEY"] == "sk-openai-kept" and env["MY_GATEWAY"] == STORED
    assert "GROQ_API_KEY" not in env and removed == ["GROQ_API_KEY"]
    assert env["ANTHROPIC_API_KEY"] == ""


@pytest.mark.parametrize("var, user, profile, catalogue, expected, source", [
    ("CLAUDE_CODE_MAX_CONTEXT_TOKENS", "50000", 32768, 131072, "50000", "your environment"),
    ("CLAUDE_CODE_MAX_CONTEXT_TOKENS", None, 32768, 131072, "32768", "profile p"),
    ("CLAUDE_CODE_MAX_CONTEXT_TOKENS", None, None, 131072, "131072", "catalogue"),
    ("CLAUDE_CODE_MAX_CONTEXT_TOKENS", None, None, None, "128000", "default: nothing knows m/main's window"),
    ("CLAUDE_CODE_MAX_CONTEXT_TOKENS", "lots", None, None, "128000", "default: nothing knows m/main's window"),
    ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", "1000", 8192, 16384, "1000", "your environment"),
    ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", None, 8192, 16384, "8192", "profile p"),
    ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", None, None, 16384, "16384", "catalogue"),
    ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", None, None, None, None, None),
])
def test_window_and_output_precedence(var, user, profile, catalogue, expected, source):
    field = "context_length" if "CONTEXT" in var else "max_output"
    info = ModelEntry(id="m/main", **{field: catalogue}) if catalogue else None
    r = resolved(info=info, **{field: profile})
    env, setting, sources, _removed = build(r, {var: user} if user else {})
    assert env.get(var) == expected and setting.get(var) == expected and sources.get(var) == source


def test_disable_1m_context_is_set_unless_the_user_set_it():
    env, setting, *_ = build(resolved(), {})
    assert env["CLAUDE_CODE_DISABLE_1M_CONTEXT"] == setting["CLAUDE_CODE_DISABLE_1M_CONTEXT"] == "1"
    var = "CLAUDE_CODE_DISABLE_1M_CONTEXT"
    env, _s, sources, _r = build(resolved(), {var: "0"})
    assert env[var] == "0" and sources[var] == "your environment"


def test_build_keeps_its_two_part_shape():
    env, setting = child_env.build(resolved(), "http://127.0.0.1:1", "tok", base={"OPENAI_API_KEY": "sk-x-12345678"})
    assert "OPENAI_API_KEY" not in env and setting["ANTHROPIC_AUTH_TOKEN"] == "tok"


def test_print_env_says_where_each_value_came_from(home):
    assert home("profile", "add", "local", "--provider", "ollama", "--model", "qwen3-coder", "--context-length",
                "32768", "--max-output", "8192", "--use").returncode == 0
    secret = "sk-proj-printenv-canary-99"
    r = home("run", "--print-env", extra={"CLAUDE_CODE_MAX_CONTEXT_TOKENS": "50000", "OPENAI_API_KEY": secret,
                                          "OPENROUTER_API_KEY": secret + "-or"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "CLAUDE_CODE_MAX_CONTEXT_TOKENS=50000   # your environment" in lines
    assert "CLAUDE_CODE_MAX_OUTPUT_TOKENS=8192   # profile local" in lines
    assert any(line.startswith("CLAUDE_CODE_DISABLE_1M_CONTEXT=1   # ") for line in lines)
    removed = next(line for line in lines if line.startswith("# not passed on"))
    assert "OPENAI_API_KEY" in removed and "OPENROUTER_API_KEY" in removed
    assert secret not in r.stdout + r.stderr
    token = next(line for line in lines if line.startswith("ANTHROPIC_AUTH_TOKEN="))
    assert "…" in token
