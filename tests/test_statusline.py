"""`orbridge statusline`: Claude Code's status JSON in, one line out, from the request log's tail; fast (no
Typer, rich, httpx or proxy import); and `orbridge run` gives it to claude only when the user has none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from orbridge.cli.statusline import BLOCK, session_records

from .conftest import ORBRIDGE, add_profile

SESSION = "5f0c9a3e-1111-4222-8333-944455556666"


def status(session: str = SESSION, duration_ms: int = 120_000) -> str:
    """What Claude Code 2.1.332 writes on the command's stdin (the fields orbridge reads, and others)."""
    return json.dumps({"hook_event_name": "Status", "session_id": session, "transcript_path": "/tmp/t.jsonl",
                       "cwd": "/tmp/w", "model": {"id": "claude-sonnet-4-5", "display_name": "Sonnet 4.5"},
                       "workspace": {"current_dir": "/tmp/w", "project_dir": "/tmp/w"}, "version": "2.1.332",
                       "cost": {"total_cost_usd": 0.91, "total_duration_ms": duration_ms},
                       "context_window": {"context_window_size": 128_000, "total_input_tokens": 1}})


def record(age: float, session: str, **kw) -> dict:
    """A request-log line written `age` seconds ago."""
    return {"time": round(time.time() - age, 3), "session": session, "profile": "t", "provider": "openrouter",
            "model": "claude-sonnet-4-5", "upstream_model": "qwen/qwen3-coder", "stream": True, "status": 200,
            "duration_ms": 900.0, "ttft_ms": 400.0, "route": "default", "input_tokens": 1000,
            "output_tokens": 50, **kw}


def write_log(home, records: list[dict]) -> None:
    log = home.root / "state" / "orbridge" / "log"
    log.mkdir(parents=True, exist_ok=True)
    (log / "requests.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))


def statusline(home, stdin: str) -> tuple[str, float]:
    start = time.monotonic()
    r = subprocess.run([*ORBRIDGE, "statusline"], input=stdin, env=home.env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout, time.monotonic() - start


def test_a_session_with_requests(home):
    write_log(home, [
        record(3600, SESSION, cost=5.0),  # an hour before this session started: not read
        record(100, SESSION, cost=0.0123),
        record(90, "other-session", cost=1.0, upstream_model="other/model"),
        record(80, SESSION, upstream_model="deepseek/deepseek-r1", route="think", ttft_ms=812.4, cost=0.02,
               input_tokens=2000, cache_read_input_tokens=38_000, window=163_840, budget=2.5, budget_spent=2.1),
        record(70, SESSION, status=402, error_type="budget", upstream_model="", ttft_ms=None, input_tokens=0,
               output_tokens=0, budget=2.5, budget_spent=2.1),
    ])
    out, seconds = statusline(home, status())
    assert out == ("deepseek/deepseek-r1 (think) · $0.0323 · 3 req · ttft 812 ms · ctx 40k/164k 24% · "
                   "budget $0.40 left (84% spent)\n")
    assert seconds < 5  # generous: a subprocess on a busy machine; bench/statusline.py measures


def test_the_session_model_wins_over_background_calls(home):
    write_log(home, [record(20, SESSION, cost=0.01, window=262_144),
                     record(10, SESSION, model="claude-haiku-4-5", upstream_model="openai/gpt-4o-mini",
                            cost=0.001, ttft_ms=300.0)])
    out, _ = statusline(home, status())
    assert out == "qwen/qwen3-coder · $0.0110 · 2 req · ttft 300 ms · ctx 1k/262k 0%\n"


def test_no_requests_yet_and_no_log(home):
    out, _ = statusline(home, status())
    assert out == "orbridge · no requests yet in this session\n"  # no log at all
    write_log(home, [record(10, "other-session")])
    out, _ = statusline(home, status())
    assert out == "orbridge · no requests yet in this session\n"
    out, _ = statusline(home, "not json")
    assert out == "orbridge · no requests yet in this session\n"


def test_the_window_comes_from_claude_code_when_the_log_has_none(home):
    write_log(home, [record(5, SESSION, cost=0.5)])
    out, _ = statusline(home, status())
    assert out == "qwen/qwen3-coder · $0.5000 · 1 req · ttft 400 ms · ctx 1k/128k 1%\n"


def test_only_the_tail_back_to_the_session_start_is_read(tmp_path):
    log = tmp_path / "requests.jsonl"
    old = [record(7200 + i, SESSION, cost=1.0) for i in range(2000)]  # far more than one block
    new = [record(50, SESSION, cost=0.25), record(40, SESSION, cost=0.25)]
    log.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in old + new))
    assert log.stat().st_size > 4 * BLOCK
    assert [r["cost"] for r in session_records(log, SESSION, since=time.time() - 600)] == [0.25, 0.25]
    assert len(session_records(log, SESSION, since=None)) == 2002  # no start known: the whole file


def test_the_statusline_path_loads_nothing_heavy(home):
    code = ("import sys, io\nsys.argv = ['orbridge', 'statusline']\nsys.stdin = io.StringIO('{}')\n"
            "from orbridge.cli import entry\ntry:\n    entry.main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('typer', 'rich', 'httpx', 'litellm', 'starlette', 'orbridge.proxy.app', 'click',\n"
            "'platformdirs')"
            " if m in sys.modules]\nprint('HEAVY', heavy)\n")
    r = subprocess.run([sys.executable, "-c", code], env=home.env, capture_output=True, text=True, timeout=30)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr


def test_the_fast_log_path_is_the_one_orbridge_writes(monkeypatch, tmp_path):
    from orbridge.cli import paths, statusline

    for state in (str(tmp_path / "state"), "", "relative/dir"):
        monkeypatch.setenv("XDG_STATE_HOME", state)
        monkeypatch.delenv("ORBRIDGE_LOG_DIR", raising=False)
        assert statusline.log_path() == paths.request_log()
    monkeypatch.setenv("ORBRIDGE_LOG_DIR", str(tmp_path / "logs"))
    assert statusline.log_path() == paths.request_log()


ARGV_PRINTER = "import json, sys\nprint('ARGV:' + json.dumps(sys.argv[1:]))\n"


def _claude_argv(home, *args: str) -> list[str]:
    fake_claude = home.root / "bin" / "claude"
    fake_claude.parent.mkdir(exist_ok=True)
    fake_claude.write_text(f"#!{sys.executable}\n{ARGV_PRINTER}")
    fake_claude.chmod(0o755)
    leader, follower = os.openpty()  # Claude Code on a terminal: the only place a status line shows
    try:
        r = subprocess.run([*ORBRIDGE, "run", "--claude", str(fake_claude), *args], env=home.env, cwd=home.root,
                           stdin=follower, capture_output=True, text=True, timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.split("ARGV:")[1])


def test_run_gives_claude_the_statusline_only_when_the_user_has_none(home):
    add_profile(home)
    argv = _claude_argv(home, "--", "--model", "opus", "fix it")
    assert argv[:1] == ["--settings"] and argv[2:] == ["--model", "opus", "fix it"]
    line = json.loads(argv[1])["statusLine"]
    assert line["type"] == "command" and line["command"].endswith("statusline")
    assert _claude_argv(home, "--no-statusline") == []
    assert _claude_argv(home, "--", "--settings", "{}") == ["--settings", "{}"]
    assert _claude_argv(home, "--", "-p", "hi") == ["-p", "hi"]  # print mode shows no status line
    assert _claude_argv(home, "--", "--version") == ["--version"]
    for where in (home.root / "home" / ".claude" / "settings.json", home.root / ".claude" / "settings.local.json"):
        where.parent.mkdir(exist_ok=True)
        where.write_text(json.dumps({"statusLine": {"type": "command", "command": "my-line"}}))
        assert _claude_argv(home) == [], where
        where.unlink()
    assert _claude_argv(home)[:1] == ["--settings"]
    r = home("run", "--", sys.executable, "-c", ARGV_PRINTER)  # not claude: nothing added
    assert json.loads(r.stdout.split("ARGV:")[1]) == []
    r = home("run", "--claude", str(home.root / "bin" / "claude"))  # no terminal: a script's claude
    assert json.loads(r.stdout.split("ARGV:")[1]) == []
