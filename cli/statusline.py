"""`orbridge statusline`: the real numbers in Claude Code's status line, from orbridge's request log.

Claude Code runs this command up to every 300 ms with its status JSON on stdin (`session_id`, `model`,
`cost`, `context_window`, …) and shows the first line printed. Its own `cost.total_cost_usd` is an estimate
at Anthropic's list prices; the request log holds what the upstream served and charged. So this path stays
small (no Typer, rich, httpx or proxy import: entry.py dispatches it before anything loads) and reads only
the log's tail: blocks from the end, back to the session's start (now minus Claude Code's
`cost.total_duration_ms`) or the start of the file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

BLOCK = 64 * 1024
SLACK = 60.0  # seconds before the session's reported start still read (clock and startup differences)


def session_records(path: Path, session: str, since: float | None) -> list[dict]:
    """The session's request-log lines, oldest first, reading back from the end until a line older than
    `since` (None: the whole file)."""
    needle = f'"session":{json.dumps(session)}'.encode()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return []
    lines: list[bytes] = []
    try:
        end = os.fstat(fd).st_size
        pos, rest = end, b""
        while pos > 0:
            start = max(0, pos - BLOCK)
            data = os.pread(fd, pos - start, start) + rest
            pos = start
            parts = data.split(b"\n")
            rest = parts.pop(0) if pos > 0 else b""  # the first piece may be a line cut by the block edge
            lines[:0] = [p for p in parts if needle in p]
            if since is not None and parts and _time(parts[0]) < since:
                break
    finally:
        os.close(fd)
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("session") == session and (since is None or
                                                                          _num(rec.get("time")) >= since):
            out.append(rec)
    return out


def _time(line: bytes) -> float:
    """A log line's time without parsing the whole line (it is the first field); unknown: +inf."""
    head = line[:40]
    at = head.find(b'"time":')
    if at < 0:
        return float("inf")
    digits = head[at + 7:].split(b",", 1)[0]
    try:
        return float(digits)
    except ValueError:
        return float("inf")


def _num(value: object) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _tokens(n: float) -> str:
    return f"{n / 1000:.0f}k" if n >= 1000 else f"{n:.0f}"


def _usd(value: float) -> str:
    return f"${value:.2f}" if value >= 1 else f"${value:.4f}"


def _clean(text: object) -> str:
    """Model names from the log are untrusted: no control characters on the user's terminal."""
    return "".join(c if c.isprintable() else "?" for c in str(text))[:60]


def line(status: dict, records: list[dict]) -> str:
    """The one line: model serving (and route), real cost, requests, last TTFT, context, budget left."""
    if not records:
        return "orbridge · no requests yet in this session"
    last = records[-1]
    answered = [r for r in records if r.get("status") == 200 and r.get("upstream_model")]
    wanted = (status.get("model") or {}).get("id") if isinstance(status.get("model"), dict) else None
    # the session's own model (Claude Code's model.id), not the background calls (haiku) between its turns
    main = next((r for r in reversed(answered) if r.get("model") == wanted), answered[-1] if answered else last)
    model = _clean(main.get("upstream_model") or main.get("model") or "?")
    route = main.get("route")
    parts = [model + (f" ({_clean(route)})" if route and route not in ("default", "fallback") else "")]
    parts.append(_usd(sum(_num(r.get("cost")) for r in records)))
    parts.append(f"{len(records)} req")
    ttft = next((r["ttft_ms"] for r in reversed(records) if _num(r.get("ttft_ms"))), None)
    if ttft is not None:
        parts.append(f"ttft {ttft:.0f} ms")
    used = sum(_num(main.get(k)) for k in ("input_tokens", "cache_read_input_tokens",
                                           "cache_creation_input_tokens"))
    window = _num(main.get("window")) or _num((status.get("context_window") or {}).get("context_window_size"))
    if used and window:
        parts.append(f"ctx {_tokens(used)}/{_tokens(window)} {100 * used / window:.0f}%")
    cap = _num(last.get("budget"))
    if cap:
        spent = _num(last.get("budget_spent"))
        left = max(cap - spent, 0.0)
        notes = [f"{100 * spent / cap:.0f}% spent"] if spent >= 0.8 * cap else []
        notes += [f"{last['budget_unpriced']:.0f} unpriced"] if _num(last.get("budget_unpriced")) else []
        parts.append(f"budget ${left:.2f} left" + (f" ({', '.join(notes)})" if notes else ""))
    return " · ".join(parts)


def log_path() -> Path:
    """paths.request_log() without its imports (platformdirs, logging, secrets: ~20 ms of this command's
    budget) on Linux, where platformdirs' log dir is $XDG_STATE_HOME/orbridge/log (a test keeps them equal)."""
    override = os.environ.get("ORBRIDGE_LOG_DIR")
    if override:
        return Path(override).expanduser() / "requests.jsonl"
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    if sys.platform.startswith("linux"):
        base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
        return base / "orbridge" / "log" / "requests.jsonl"
    from .paths import request_log

    return request_log()


def main(stdin=None) -> int:
    """Read Claude Code's status JSON, print one line. Never fails loudly: a status line is decoration."""
    try:
        status = json.loads((stdin or sys.stdin).read() or "{}")
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    session = status.get("session_id")
    records: list[dict] = []
    if isinstance(session, str) and session:
        duration = _num((status.get("cost") or {}).get("total_duration_ms"))
        since = time.time() - duration / 1000 - SLACK if duration else None
        records = session_records(log_path(), session, since)
    print(line(status, records))
    return 0


def user_has_statusline(claude_args: list[str], cwd: Path, home: Path) -> bool:
    """Whether the user set a status line of their own (or passed --settings, which orbridge leaves alone):
    ~/.claude/settings.json (or $CLAUDE_CONFIG_DIR's), and the project's .claude/settings(.local).json."""
    if any(a == "--settings" or a.startswith("--settings=") for a in claude_args):
        return True
    user_dir = Path(os.environ["CLAUDE_CONFIG_DIR"]) if os.environ.get("CLAUDE_CONFIG_DIR") else home / ".claude"
    for path in (user_dir / "settings.json", cwd / ".claude" / "settings.json",
                 cwd / ".claude" / "settings.local.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("statusLine"):
            return True
    return False


def command() -> str:
    """How Claude Code calls this command: the `orbridge` script that is running, else this Python's module."""
    import shlex

    script = Path(sys.argv[0])
    if script.name == "orbridge":
        return shlex.join([str(script.resolve()), "statusline"])
    return shlex.join([sys.executable, "-m", "orbridge.cli", "statusline"])


NOT_INTERACTIVE = {"-p", "--print", "-v", "--version", "-h", "--help"}  # no status line shows: leave argv alone


def with_statusline(argv: list[str], cwd: Path, home: Path) -> list[str]:
    """claude's argv with orbridge's status line added for an interactive session, unless the user has a
    status line of their own."""
    own = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    if NOT_INTERACTIVE & set(own) or user_has_statusline(argv[1:], cwd, home):
        return argv
    setting = {"statusLine": {"type": "command", "command": command(), "padding": 0}}
    return [argv[0], "--settings", json.dumps(setting), *argv[1:]]
