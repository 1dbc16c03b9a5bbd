"""`orbridge serve`: the proxy alone, in the foreground, for any Anthropic-API client.

It shows what it does (a line per request) and hands over its address and token as a 0600 file to
`source`, so the token is usable without ever being printed, put on a command line, or restarted for.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from orbridge.proxy.listen import is_loopback

from . import paths
from .errors import CLIError
from .keys import mask
from .resolve import Overrides, resolve
from .run import bound, budget_for, log_to, settings_for

TOKEN_ON_ARGV = ("warning: --token on the command line is visible to every user of this machine (ps); "
                 "use --token-file PATH or ORBRIDGE_TOKEN")


def _redact_logs(settings) -> None:
    """Whatever the proxy or uvicorn log on this terminal passes the redactor (keys, token, URL passwords).
    uvicorn is then told to leave logging alone (run_forever(log_config=None)), or it would replace these."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log_to(handler, settings, ("orbridge.proxy", "uvicorn.error", "httpx"))


def serve(host: str, port: int, token: str | None, show_token: bool, allow_remote: bool, o: Overrides,
          log_bodies: bool, token_file: Path | None = None, token_on_command_line: bool = False,
          quiet: bool = False, batch_concurrency: int | None = None, budget: float | None = None) -> None:
    token = pick_token(token, token_file, token_on_command_line)
    if batch_concurrency is not None:
        from .config import FieldError, check

        try:
            check("batch_concurrency", batch_concurrency)
        except FieldError as exc:
            raise CLIError(f"--batch-concurrency: expected {exc.expected}, got {exc.got}",
                           "give --batch-concurrency a number from 1 to 256", code=2) from None
    if not is_loopback(host) and not (allow_remote and token):
        raise CLIError(f"refusing to listen on {host}: the proxy spends your API key for whoever reaches it",
                       "use --allow-remote together with --token-file (or ORBRIDGE_TOKEN)")
    with bound(port, "127.0.0.1" if host == "localhost" else host) as sock:
        resolved = resolve(o)
        from .batches import usable_database

        cap, budget_warnings = budget_for(resolved, budget)
        concurrency = {"batch_concurrency": batch_concurrency} if batch_concurrency else {}
        settings = settings_for(resolved, token, log_bodies, allow_remote=allow_remote, budget=cap,
                                batch_db_path=usable_database(), **concurrency)
    token = settings.token
    port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    local_host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, shown_host)  # what a client here dials
    url = f"http://{local_host}:{port}"
    env_file = write_env_file(runtime_dir(), port, url, token)
    p = resolved.profile
    print(f"orbridge proxy on http://{shown_host}:{port}  profile {p.name} → {p.provider} "
          f"({p.model or p.tiers()['sonnet']})")
    print("Point an Anthropic client at it (this file is removed when serve stops):")
    print(f"  source {shlex.quote(str(env_file))}")
    if show_token:
        print(f"  or: export ANTHROPIC_BASE_URL={url} ANTHROPIC_AUTH_TOKEN={shlex.quote(token)}")
    else:
        print(f"  (sets ANTHROPIC_BASE_URL={url} and ANTHROPIC_AUTH_TOKEN={mask(token)}; --show-token prints it)")
    for warning in [*resolved.warnings(), *budget_warnings]:
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    if not quiet:
        show_requests()
    _redact_logs(settings)
    sys.stdout.flush()
    from orbridge.proxy.server import run_forever

    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again: let that end here, through `finally`.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))  # terminal closed
    try:
        run_forever(settings, sock, log_config=None)
    finally:
        _remove(env_file)


def pick_token(token: str | None, token_file: Path | None, on_command_line: bool) -> str | None:
    """--token-file, else --token / ORBRIDGE_TOKEN; warns when the token sits in the command line."""
    if token and on_command_line:
        if token_file is not None:
            raise CLIError("both --token and --token-file were given", "keep --token-file", code=2)
        print(f"orbridge: {TOKEN_ON_ARGV}", file=sys.stderr)
    if token_file is None:
        return token
    try:
        first = Path(token_file).expanduser().read_text(encoding="utf-8").splitlines()[:1]
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CLIError(f"cannot read --token-file {token_file}: {reason}",
                       "give a readable file whose first line is the token", code=2) from None
    value = first[0].strip() if first else ""
    if not value:
        raise CLIError(f"--token-file {token_file} has no token on its first line",
                       "write the token on the file's first line", code=2)
    return value


def runtime_dir() -> Path:
    """Where the env file goes: the per-user runtime dir (tmpfs, gone at logout) if any, else the state dir."""
    import platformdirs

    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / paths.APP if runtime else Path(platformdirs.user_state_dir(paths.APP))


def write_env_file(directory: Path, port: int, url: str, token: str) -> Path:
    """`serve-PORT.env`, 0600 in a 0700 dir, written under a temporary name and renamed (never through a link)."""
    target = directory / f"serve-{port}.env"
    text = (f"# orbridge serve on port {port} (pid {os.getpid()}); removed when it stops\n"
            "unset ANTHROPIC_API_KEY  # a real Anthropic key would be sent instead of the token\n"
            f"export ANTHROPIC_BASE_URL={shlex.quote(url)}\n"
            f"export ANTHROPIC_AUTH_TOKEN={shlex.quote(token)}\n")
    for warning in paths.write_private(target, text.encode()):  # checked folder, temp file + rename
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    return target


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _exit_on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def plain(value: object, limit: int = 300) -> str:
    """Client- and upstream-controlled text, cut to `limit`, inert on a terminal (display.plain)."""
    from .display import plain as inert

    return inert(str(value)[:limit])


def request_line(r: dict) -> str:
    """One request, as `serve` shows it: time, model → upstream model, status, ms, tokens, error."""
    stamp = time.strftime("%H:%M:%S", time.localtime(r.get("time") or time.time()))
    parts = [stamp, f"{plain(r.get('model') or '?')} → {plain(r.get('upstream_model') or '?')}",
             str(r.get("status", "?")), f"{r.get('duration_ms') or 0:.0f} ms"]
    if r.get("input_tokens") is not None or r.get("output_tokens") is not None:
        parts.append(f"in {r.get('input_tokens') or 0} out {r.get('output_tokens') or 0}")
    if r.get("error_type") or r.get("error"):
        parts.append(plain(f"{r.get('error_type') or 'error'}: {r.get('error') or ''}"))
    return "  ".join(parts)


class _RequestFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return request_line(getattr(record, "record", None) or {})


def show_requests() -> None:
    """Print the proxy's per-request records (logger `orbridge.requests`) on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_RequestFormatter())
    logger = logging.getLogger("orbridge.requests")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
