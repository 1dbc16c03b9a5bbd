"""The CLI as users run it: real subprocesses with a scratch config, the fake upstream as provider."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import psutil

from .conftest import CANARY, ORBRIDGE, add_profile
from .fake_upstream import Reply, completion

CHILD = textwrap.dedent("""
    import os, sys, anthropic
    client = anthropic.Anthropic(max_retries=0)
    msg = client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                 messages=[{"role": "user", "content": "hi"}])
    print("TEXT:" + msg.content[0].text)
    print("ENV:" + repr(sorted(os.environ.items())))
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
""")


def test_run_wires_the_sdk_and_passes_exit_code(home):
    add_profile(home)
    home.fake.script(Reply(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                                              "finish_reason": "stop"}], "usage": {}}))
    script = home.root / "child.py"
    script.write_text(CHILD)
    r = home("run", "--", sys.executable, str(script), "3", extra={"OPENROUTER_API_KEY": CANARY})
    assert r.returncode == 3, r.stderr
    assert "TEXT:pong" in r.stdout
    assert CANARY not in r.stdout + r.stderr  # not in the child's environment either (it printed it)
    env = dict(eval(r.stdout.split("ENV:")[1].strip()))
    assert env["ANTHROPIC_API_KEY"] == "" and env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "fake/haiku" and env["ANTHROPIC_MODEL"] == "fake/model"
    assert "127.0.0.1" in env["NO_PROXY"] and env["CLAUDE_CODE_ATTRIBUTION_HEADER"] == "0"
    assert home.fake.chat_requests()[0].headers["authorization"] == f"Bearer {CANARY}"
    log = (home.root / "state" / "orbridge" / "log" / "requests.jsonl").read_text()
    assert '"status":200' in log and CANARY not in log


def test_sigterm_reaches_child_and_nothing_is_left(home):
    add_profile(home)
    child = home.root / "sleeper.py"
    child.write_text("import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
                     "print('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([*ORBRIDGE, "run", "--", sys.executable, str(child)], env=home.env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    kids = psutil.Process(proc.pid).children(recursive=True)
    ports = [c.laddr.port for c in psutil.Process(proc.pid).net_connections() if c.status == "LISTEN"]
    assert ports
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 7
    time.sleep(0.2)
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids)
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == "LISTEN"}
    assert not set(ports) & listening


def test_child_killed_by_signal_gives_128_plus_n(home):
    add_profile(home)
    r = home("run", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert r.returncode == 128 + 9


def test_print_env_masks_token_and_holds_no_key(home):
    add_profile(home)
    r = home("run", "--print-env", extra={"OPENROUTER_API_KEY": CANARY})
    assert r.returncode == 0, r.stderr
    assert CANARY not in r.stdout
    token = next(line for line in r.stdout.splitlines() if line.startswith("ANTHROPIC_AUTH_TOKEN="))
    assert "…" in token


def test_one_off_base_url_without_config_sends_no_key(home):
    home.fake.script(Reply(body=completion("local model says hi")))
    script = home.root / "child.py"
    script.write_text(CHILD)
    r = home("run", "--base-url", home.fake.base_url, "--model", "qwen3-coder", "--", sys.executable, str(script),
             extra={"OPENROUTER_API_KEY": CANARY})
    assert r.returncode == 0, r.stderr
    sent = home.fake.chat_requests()[0]
    assert "authorization" not in sent.headers and sent.body["model"] == "qwen3-coder"


def test_keys_file_mode_masking_and_env_precedence(home):
    add_profile(home)
    path = home.config_dir / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.config_dir.stat().st_mode) == 0o700
    r = home("keys", "list")
    assert "sk-o…3a9c" in r.stdout
    assert CANARY not in r.stdout
    r = home("keys", "list", extra={"OPENROUTER_API_KEY": "sk-or-fromenv-1234"})
    assert "env:OPENROUTER_API_KEY" in r.stdout
    os.chmod(path, 0o644)
    r = home("keys", "list")
    assert "set to 600" in r.stderr and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert home("keys", "remove", "openrouter").returncode == 0
    assert json.loads(path.read_text()) == {}


def test_profiles_round_trip_and_errors(home):
    add_profile(home)
    assert home("profile", "add", "local", "--provider", "ollama", "--model", "qwen3-coder").returncode == 0
    assert home("profile", "edit", "local", "--haiku", "llama3.2").returncode == 0
    r = home("profile", "list")
    assert "* t" in r.stdout and "local" in r.stdout
    r = home("profile", "show", "local")
    assert "haiku     llama3.2" in r.stdout and "11434" in r.stdout
    assert home("profile", "use", "local").returncode == 0
    assert "* local" in home("profile", "list").stdout
    r = home("profile", "use", "nope")
    assert r.returncode == 2 and "unknown profile 'nope'" in r.stderr and "Traceback" not in r.stderr
    assert home("profile", "remove", "local").returncode == 0
    cfg = home.config_dir / "config.toml"
    cfg.write_text(cfg.read_text() + "\n[profiles.broken\n")
    before = cfg.read_text()
    r = home("profile", "list")
    assert r.returncode == 2 and "config.toml" in r.stderr and "line" in r.stderr and "Traceback" not in r.stderr
    assert cfg.read_text() == before


def test_missing_key_and_missing_claude_are_one_line_errors(home):
    r = home("run", "--", "true")
    assert r.returncode == 1 and "orbridge keys set openrouter" in r.stderr and "Traceback" not in r.stderr
    add_profile(home)
    r = home("run", "--claude", "/nonexistent/claude", "--", "claude")
    assert r.returncode == 127 and "claude not found (/nonexistent/claude)" in r.stderr
    assert "--claude / ORBRIDGE_CLAUDE" in r.stderr


CATALOGUE = {"data": [
    {"id": "fake/model", "name": "Fake Model", "context_length": 131072,
     "top_provider": {"max_completion_tokens": 16384}, "pricing": {"prompt": "0.0000002", "completion": "0.0000008"},
     "supported_parameters": ["tools", "reasoning"], "architecture": {"input_modalities": ["text", "image"]}},
    {"id": "fake/haiku", "name": "Fake Haiku", "context_length": 32768, "top_provider": {},
     "pricing": {"prompt": "0", "completion": "0"}, "supported_parameters": ["tools"]},
    {"id": "fake/notools", "name": "No Tools", "context_length": 8192, "supported_parameters": []},
]}


def test_models_catalogue_cache_and_offline_fallback(home):
    add_profile(home)
    home.fake.catalogue = CATALOGUE
    r = home("models", "--json", "--tools")
    assert r.returncode == 0, r.stderr
    ids = [m["id"] for m in json.loads(r.stdout)]
    assert ids == ["fake/model", "fake/haiku"]
    r = home("models", "--search", "fake/model")
    assert "131k" in r.stdout and "0.20" in r.stdout
    home.fake.catalogue = None  # the provider is now "offline": the cache answers, its age shown
    r = home("models", "--refresh")
    assert r.returncode == 0 and "cached" in r.stdout and "fake/notools" in r.stdout
    # the same metadata reaches the child's environment
    env = home("run", "--print-env").stdout
    assert "CLAUDE_CODE_MAX_OUTPUT_TOKENS=16384" in env and "CLAUDE_CODE_MAX_CONTEXT_TOKENS=131072" in env


def test_doctor_failing_and_passing(home):
    r = home("doctor", extra={"ORBRIDGE_CLAUDE": "/nonexistent"})
    assert r.returncode == 1
    assert "✗ claude binary" in r.stdout and "not found (ORBRIDGE_CLAUDE /nonexistent)" in r.stdout
    assert "orbridge setup claude" in r.stdout
    assert "✗ api key" in r.stdout and "orbridge keys set openrouter" in r.stdout
    add_profile(home)
    home.fake.catalogue = CATALOGUE
    home.fake.script(Reply(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                              "finish_reason": "stop"}]}, repeat=True))
    (home.root / "home" / ".claude.json").write_text('{"hasCompletedOnboarding": true}')
    r = home("doctor", "--json", extra={"ORBRIDGE_CLAUDE": sys.executable})
    data = json.loads(r.stdout)
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["key accepted"]["status"] == "fail"  # the fake only accepts sk-or-good
    assert CANARY not in r.stdout
    home("keys", "set", "openrouter", input="sk-or-good\n")
    r = home("doctor", "--json", extra={"ORBRIDGE_CLAUDE": sys.executable})
    data = json.loads(r.stdout)
    assert data["ok"] is True, r.stdout
    assert {c["name"] for c in data["checks"]} >= {"claude binary", "api key", "key accepted", "opus model",
                                                   "loopback port", "live round trip"}


def test_logs_table_json_and_errors(home):
    logdir = home.root / "state" / "orbridge" / "log"
    logdir.mkdir(parents=True)
    recs = [{"time": 1.7e9, "session": "abc", "model": "claude-opus", "upstream_model": "x/y", "status": 200,
             "duration_ms": 12.0, "input_tokens": 5, "output_tokens": 7},
            {"time": 1.7e9 + 1, "session": "abc", "model": "claude-opus", "upstream_model": "x/y", "status": 429,
             "duration_ms": 3.0, "error_type": "rate_limit_error", "error": "slow down"}]
    (logdir / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + "garbage\n")
    r = home("logs")
    assert r.returncode == 0 and "x/y" in r.stdout and "slow down" in r.stdout
    r = home("logs", "--json", "--errors")
    assert [json.loads(line)["status"] for line in r.stdout.splitlines()] == [429]
    assert len(home("logs", "-n", "1", "--json").stdout.splitlines()) == 1


def test_serve_refuses_remote_without_token_and_masks(home):
    r = home("serve", "--host", "0.0.0.0")
    assert r.returncode == 1 and "--allow-remote" in r.stderr


def test_help_and_version_do_not_import_the_proxy(home):
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "orbridge.cli", "--help"], env=home.env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "run" in r.stdout and "doctor" in r.stdout
    imported = r.stderr
    # nor Typer's rich help formatter (~85 ms of imports) nor platformdirs: --help stays well under 150 ms
    for heavy in ("fastapi", "uvicorn", "litellm", "orbridge.proxy.app", "httpx", "typer.rich_utils", "platformdirs"):
        assert f" {heavy}\n" not in imported and f" {heavy}." not in imported, heavy
    assert home("--version").stdout.startswith("orbridge ")


def test_serve_answers_the_sdk_and_stops_on_ctrl_c(home):
    import socket

    import anthropic

    add_profile(home)
    home.fake.script(Reply(body=completion("served")))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*ORBRIDGE, "serve", "--port", str(port), "--token", "tok-serve-1234567890"],
                            env=home.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert any(f"ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in line for line in lines)
        assert not any("tok-serve-1234567890" in line for line in lines)  # masked without --show-token
        client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="tok-serve-1234567890",
                                     max_retries=3)
        msg = client.messages.create(model="claude-haiku-4-5", max_tokens=20,
                                     messages=[{"role": "user", "content": "hi"}])
        assert msg.content[0].text == "served"
        assert home.fake.chat_requests()[0].body["model"] == "fake/haiku"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    out = proc.stdout.read() + proc.stderr.read()
    assert CANARY not in out and "Traceback" not in out


def test_fast_run_parser_matches_the_typer_command(home):
    import typer.main

    from orbridge.cli import entry
    from orbridge.cli.main import app

    command = typer.main.get_command(app).commands["run"]
    options = [p for p in command.params if p.opts[0].startswith("-")]
    assert {o for p in options if p.is_flag for o in p.opts} == set(entry.FLAG_OPTIONS)
    assert {o for p in options if p.multiple for o in p.opts} == set(entry.LIST_OPTIONS)
    assert {o for p in options if not p.is_flag and not p.multiple for o in p.opts} == set(entry.VALUE_OPTIONS)
    assert entry.parse_run(["--model", "m", "--port=9", "--print-env", "--", "claude", "-p", "hi"]) == {
        "cmd": ["claude", "-p", "hi"], "model": "m", "port": 9, "print_env": True, "profile": None,
        "claude": None, "pass_env": []}
    assert entry.parse_run(["-mM", "--key-name", "gw", "--pass-env", "A", "--pass-env=B", "--", "--", "-p"]) == {
        "cmd": ["--", "-p"], "model": "M", "key_name": "gw", "pass_env": ["A", "B"], "profile": None,
        "claude": None}
    assert entry.parse_run(["--help"]) is None and entry.parse_run(["--model", "m", "-h"]) is None
    r = home("run", "--help")
    assert r.returncode == 0 and "--print-env" in r.stdout and "--pass-env" in r.stdout
    add_profile(home)
    r = home("run", "--bogus", "--", "true")
    assert r.returncode == 2 and "unknown option for orbridge run: --bogus" in r.stderr


def test_run_usage_errors_are_one_line_and_exit_2(home):
    import pytest

    from orbridge.cli import entry
    from orbridge.cli.errors import CLIError

    for args, words in ((["claude", "-p", "x"], "after `--`"), (["--bogus", "--", "x"], "unknown option"),
                        (["-p", "work"], "--profile NAME"), (["--port", "x"], "not a number"),
                        (["--port", "65536"], "out of range"), (["--port", "-1"], "not a number"),
                        (["--model"], "needs a value")):
        with pytest.raises(CLIError) as caught:
            entry.parse_run(args)
        assert caught.value.code == 2 and words in f"{caught.value.message} {caught.value.fix}", args
    assert entry.parse_run(["--port", "0"])["port"] == 0  # any free port
    add_profile(home)
    r = home("run", "--model", "m", "claude", "-p", "hi")
    assert r.returncode == 2, r.stderr
    assert r.stderr == ("orbridge: `claude -p hi` is a command: orbridge run takes it after `--`\n"
                        "  fix: put the command after `--`: orbridge run --model m -- claude -p hi\n")
    for args in (["run", "--port", "99999"], ["serve", "--port", "99999"], ["serve", "--port", "0"],
                 ["serve", "--port", "http"]):
        r = home(*args)
        assert r.returncode == 2 and r.stderr.startswith("orbridge: --port"), (args, r.stderr)
        assert len(r.stderr.splitlines()) == 2 and "Traceback" not in r.stderr and "fix: " in r.stderr


ARGV_PRINTER = "import json, sys\nprint('ARGV:' + json.dumps(sys.argv[1:]))\n"


def test_arguments_after_the_separator_reach_the_command_untouched(home):
    add_profile(home)
    fake_claude = home.root / "claude"
    fake_claude.write_text(f"#!{sys.executable}\n{ARGV_PRINTER}")
    fake_claude.chmod(0o755)
    typer_path = [sys.executable, "-c", "from orbridge.cli.main import main; main()"]
    cases = [(["--", "-p", "hi", "--model", "x"], ["-p", "hi", "--model", "x"]),
             (["--", "--version"], ["--version"]),
             (["--", "claude", "-p", "--", "-h"], ["-p", "--", "-h"]),
             ([], [])]
    for orbridge_args, expected in cases:
        for how in ("entry", "typer"):
            args = ["run", "--claude", str(fake_claude), *orbridge_args]
            if how == "entry":
                r = home(*args)
            else:
                r = subprocess.run([*typer_path, *args], env=home.env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, (how, orbridge_args, r.stderr)
            assert json.loads(r.stdout.split("ARGV:")[1]) == expected, (how, orbridge_args)
    r = subprocess.run([*typer_path, "run", "claude", "-p", "hi"], env=home.env, capture_output=True, text=True)
    assert r.returncode != 0 and "put the command after `--`" in r.stderr


def test_help_shows_no_bool_metavar_and_one_example_per_line(home):
    for color in ({}, {"NO_COLOR": ""}):
        env = dict(home.env)
        env.pop("NO_COLOR", None)
        env.update(color)
        out = subprocess.run([*ORBRIDGE, "run", "--help"], env=env, capture_output=True, text=True).stdout
        out += subprocess.run([*ORBRIDGE, "--help"], env=env, capture_output=True, text=True).stdout
        assert "<bool>" not in out and "<str>" not in out and "default: 0" not in out and "--version" in out
        examples = [line.strip() for line in out.splitlines() if line.strip().startswith("orbridge run")]
        assert len(examples) >= 3 and examples[1].startswith("orbridge run -- -p hi "), out


def test_logs_follow_prints_new_requests(home):
    logdir = home.root / "state" / "orbridge" / "log"
    logdir.mkdir(parents=True)
    path = logdir / "requests.jsonl"
    path.write_text(json.dumps({"time": 1.7e9, "status": 200, "model": "old"}) + "\n")
    proc = subprocess.Popen([*ORBRIDGE, "logs", "-f", "--json", "-n", "0"], env=home.env, stdout=subprocess.PIPE,
                            text=True)
    try:
        time.sleep(1.5)
        with path.open("a") as fh:
            fh.write(json.dumps({"time": 1.7e9 + 5, "status": 429, "model": "new", "route": "background"}) + "\n")
        line = proc.stdout.readline()
        assert json.loads(line)["model"] == "new"
    finally:
        proc.terminate()
        proc.wait(5)


def test_models_for_litellm_and_anthropic_kinds(home):
    r = home("models", "--provider", "litellm", "--search", "gemini/gemini-2.5-pro", "--tools", "--json")
    assert r.returncode == 0, r.stderr
    row = next(m for m in json.loads(r.stdout) if m["id"] == "gemini/gemini-2.5-pro")
    assert row["context_length"] > 100_000 and row["tools"] is True and row["price_in"] > 0
    home.fake.catalogue = {"data": [{"type": "model", "id": "claude-upstream-1", "display_name": "Upstream One"}]}
    r = home("models", "--provider", "anthropic", "--base-url", home.fake.base_url.replace("/api/v1", ""),
             "--json", extra={"ANTHROPIC_API_KEY": "sk-ant-models-1234"})
    assert r.returncode == 0, r.stderr
    assert [m["id"] for m in json.loads(r.stdout)] == ["claude-upstream-1"]


def test_context_and_output_for_models_no_catalogue_knows(home):
    r = home("run", "--print-env", "--base-url", "http://127.0.0.1:11434/v1", "--model", "qwen3-coder")
    assert "CLAUDE_CODE_MAX_CONTEXT_TOKENS=128000" in r.stdout  # not Claude Code's 1M guess
    assert "CLAUDE_CODE_MAX_OUTPUT_TOKENS" not in r.stdout
    assert home("profile", "add", "local", "--provider", "ollama", "--model", "qwen3-coder", "--context-length",
                "32768", "--max-output", "8192", "--use").returncode == 0
    r = home("run", "--print-env")
    assert "CLAUDE_CODE_MAX_CONTEXT_TOKENS=32768" in r.stdout and "CLAUDE_CODE_MAX_OUTPUT_TOKENS=8192" in r.stdout
