"""`orbridge run -- CMD`: serve the proxy in this process and hand the terminal to the command.

Why a thread and not a child process: no second interpreter to start, the proxy dies with orbridge
whatever happens (no orphan can keep the port), and no key crosses a process boundary.

Startup overlaps: the socket is bound first, then the command starts at once while the proxy's web stack
loads in the thread (~0.3 s). Connections the command opens meanwhile wait in the socket's backlog and
are served as soon as the proxy is up, so Claude Code's first request (0.1 s after it starts) is never
refused, and the user does not wait for the two startups one after the other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from . import child_env, paths
from .errors import CLIError
from .resolve import Overrides, proxy_settings, resolve
from .umask import private_umask

FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)
INSTALL_HINT = "`orbridge setup claude` installs it (or `orbridge run --install-claude`), or pass --claude PATH"
OVERRIDE_HINT = ("correct --claude / ORBRIDGE_CLAUDE, or leave it out: orbridge then runs claude from PATH or "
                 "its own install (`orbridge setup claude`)")


def bind(port: int, host: str = "127.0.0.1") -> socket.socket:
    """The listening socket, or a CLIError that says why it cannot be had and what to do."""
    import errno

    from orbridge.proxy.listen import bind as listen

    if not 0 <= port <= 65535:
        raise CLIError(f"--port {port} is not a port", "give a number from 1 to 65535", code=2)
    try:
        return listen(host, port)
    except OSError as exc:
        where = f"{host}:{port}"
        if isinstance(exc, socket.gaierror):
            raise CLIError(f"cannot listen on {where}: {host} is not a known address", "check --host") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise CLIError(f"cannot listen on {where}: {host} is not an address of this machine",
                           "give --host one of this machine's addresses (`ip addr`), or 0.0.0.0 for all") from None
        if exc.errno == errno.EACCES and 0 < port < 1024:
            raise CLIError(f"cannot listen on {where}: ports below 1024 need privileges",
                           "choose a --port from 1024 to 65535") from None
        raise CLIError(f"cannot listen on {where}: {exc.strerror}", "choose another --port") from None


def find_command(cmd: list[str], claude: str | None, install: bool = False) -> list[str]:
    """The argv to start: CMD as given, or claude (with CMD as its arguments when CMD starts with an option).
    claude comes from --claude, ORBRIDGE_CLAUDE, PATH, then orbridge's own install, made now when missing
    (asked on a terminal; without asking when `install`)."""
    cmd = list(cmd)
    if not cmd or cmd[0].startswith("-"):
        cmd = ["claude", *cmd]  # `orbridge run -- -p hi` is `claude -p hi`
    override = (claude or os.environ.get("ORBRIDGE_CLAUDE")) if cmd[0] == "claude" else None
    if override:
        cmd[0] = override
    exe = shutil.which(cmd[0])
    if exe is None and cmd[0] == "claude":
        from .claude_install import find_or_install

        exe = find_or_install(install)
    if exe is None:
        if override:
            raise CLIError(f"claude not found ({override})", OVERRIDE_HINT, code=127)
        if Path(cmd[0]).name == "claude":
            raise CLIError(f"claude not found ({cmd[0]})", INSTALL_HINT, code=127)
        raise CLIError(f"command not found: {cmd[0]}", code=127)
    return [exe, *cmd[1:]]


def quiet_logging(log_file: Path, settings) -> None:
    """The command owns the terminal: proxy diagnostics go to a private file (0600, never through a
    symlink), never over Claude Code's screen."""
    handler, warning = paths.private_log_handler(log_file)
    if warning:
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log_to(handler, settings, ("orbridge", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx"))


def log_to(handler: logging.Handler, settings, names: tuple[str, ...]) -> None:
    """The loggers `names` write to `handler` alone, through the redactor: keys, the token and URL passwords
    never reach a log, whoever logs them."""
    from orbridge.proxy.redaction import RedactingFilter, for_settings

    handler.addFilter(RedactingFilter(for_settings(settings)))
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False


@contextlib.contextmanager
def bound(port: int, host: str = "127.0.0.1") -> Iterator[socket.socket]:
    """The listening socket, bound before anything slow so the port is known and reserved at once; closed
    again when getting ready (the block) fails. It stays open after the block: it is the proxy's."""
    sock = bind(port, host)
    try:
        yield sock
    except BaseException:
        sock.close()
        raise


def settings_for(resolved, token: str | None, log_bodies: bool, **extra):
    """The proxy's settings as run and serve make them: the given token or a fresh random one, the request
    log, the bodies log only when asked, and the batch database (opened by the proxy when batches are used)."""
    from .batches import database

    extra = {"batch_db_path": database(), "batch_concurrency": resolved.profile.batch_concurrency or 8, **extra}
    return proxy_settings(resolved, token or secrets.token_urlsafe(32), log_path=paths.request_log(),
                          log_bodies_path=(paths.log_dir() / "bodies.jsonl") if log_bodies else None, **extra)


def is_claude(cmd: list[str]) -> bool:
    """The command is Claude Code (named claude, or implied by `-- -p hi` / no command at all)."""
    return not cmd or cmd[0].startswith("-") or Path(cmd[0]).name == "claude"


def budget_for(resolved, given: float | None) -> tuple[float | None, list[str]]:
    """The run's cap (--budget, else the profile's budget_per_run) and one warning naming the tier models
    whose price nobody knows (their calls then count $0 unless the upstream reports their cost)."""
    cap = given if given is not None else resolved.profile.budget_per_run
    if cap is None or resolved.profile.provider == "openrouter":  # OpenRouter reports each call's cost
        return cap, []
    unknown = sorted(m for m in set(resolved.profile.tiers().values())
                     if (info := resolved.model_info.get(m)) is None or info.price_in is None)
    return cap, [f"no price known for {', '.join(unknown)}: --budget counts only the cost the upstream reports"
                 ] if unknown else []


def run(cmd: list[str], overrides: Overrides, port: int = 0, claude: str | None = None,
        print_env: bool = False, log_bodies: bool = False, pass_env: list[str] | None = None,
        budget: float | None = None, statusline: bool = True) -> int:
    if print_env:
        return _print_env(resolve(overrides), port, pass_env)
    with bound(port) as sock:
        resolved = resolve(overrides)
        argv = find_command(cmd, claude)
        if statusline and is_claude(cmd) and sys.stdin.isatty():  # a status line shows only on a terminal
            from .statusline import with_statusline

            argv = with_statusline(argv, Path.cwd(), Path.home())
        cap, budget_warnings = budget_for(resolved, budget)
        from .probe_store import run_warnings

        for warning in [*resolved.warnings(), *budget_warnings, *run_warnings(resolved)]:
            print(f"orbridge: warning: {warning}", file=sys.stderr)
        settings = settings_for(resolved, None, log_bodies, budget=cap)
        quiet_logging(paths.log_dir() / "proxy.log", settings)
    proxy = ProxyThread(settings, sock)
    try:
        env, _ = child_env.build(resolved, f"http://127.0.0.1:{sock.getsockname()[1]}", settings.token,
                                 pass_env=pass_env)
        return _supervise(argv, env, proxy)
    finally:
        proxy.stop()


def _print_env(resolved, port: int, pass_env: list[str] | None) -> int:
    """--print-env: the command's environment, keys masked, with where each value comes from."""
    url = f"http://127.0.0.1:{port or '<port chosen at start>'}"
    _env, setting, sources, removed = child_env.explain(resolved, url, secrets.token_urlsafe(32), pass_env=pass_env)
    for key, value in child_env.masked(setting).items():
        print(f"{key}={value}" + (f"   # {sources[key]}" if key in sources else ""))
    if removed:
        print(f"# not passed on (they hold keys): {' '.join(removed)}; keep one with --pass-env NAME")
    return 0


class ProxyThread(threading.Thread):
    """The proxy's thread, started right after the command: it imports the web stack (~0.2 s, which the
    command does not wait for), then serves in itself (ProxyServer.serve), so ProxyServer stops it."""

    def __init__(self, settings, sock: socket.socket) -> None:
        super().__init__(name="orbridge-proxy", daemon=True)
        self.settings = settings
        self.sock = sock
        self.server = None

    def run(self) -> None:
        try:
            from orbridge.proxy.server import ProxyServer

            self.server = ProxyServer(self.settings, self.sock, quiet=True)
            self.server.serve()
        except BaseException:  # noqa: BLE001 - the supervisor sees the thread end, and ends the command
            logging.getLogger("orbridge").exception("the proxy failed")

    def stop(self) -> None:
        """The command is gone; a request it left open (Ctrl-C mid-answer) is logged as cancelled once the
        proxy sees the connection close: wait for that, up to 1 s. Not joined: orbridge exits right after,
        and waiting for uvicorn's shutdown would only add ~0.2 s."""
        if self.server is not None:
            self.server.stop(timeout=0, grace=1.0)
        self.sock.close()


def exit_now(code: int) -> None:
    """Leave without interpreter teardown. The proxy thread may still be inside its event loop (uvloop),
    and finalizing the interpreter under a running loop thread crashed orbridge (SIGSEGV) in about 1 run in
    100 after the command had exited; nothing is left to flush (the request log is written synchronously,
    sockets close with the process)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _supervise(argv: list[str], env: dict[str, str], server: ProxyThread) -> int:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *FORWARDED)}
    proc: subprocess.Popen | None = None
    pending: list[int] = []
    term_at: list[float] = []

    def on_signal(signum: int, _frame) -> None:
        if signum in (signal.SIGTERM, signal.SIGHUP) and not term_at:
            term_at.append(time.monotonic())
        if proc is None:
            pending.append(signum)  # arrived while the command was starting
        else:
            _forward(proc, signum)

    # Ctrl-C goes to the whole foreground process group: the child handles it, orbridge ignores it.
    # A no-op handler (not SIG_IGN) so the child does not inherit an ignored SIGINT. The other handlers
    # are in place before the child exists, so no signal can kill orbridge and orphan it.
    signal.signal(signal.SIGINT, lambda *_: None)
    for sig in FORWARDED:
        signal.signal(sig, on_signal)
    try:
        # The command gets the user's own umask back (orbridge's own files are made with 077).
        proc = subprocess.Popen(argv, env=env, umask=private_umask())
    except OSError as exc:
        _restore(previous)
        raise CLIError(f"cannot start {argv[0]}: {exc.strerror}", code=126) from None
    for signum in pending:
        _forward(proc, signum)
    server.start()
    grace = float(os.environ.get("ORBRIDGE_TERM_GRACE", "10"))
    died = False
    try:
        while True:
            try:
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if term_at and time.monotonic() - term_at[0] > grace:
                proc.kill()  # asked to stop, and the command ignored SIGTERM for `grace` seconds
            if not server.is_alive() and not died:
                died = True
                print("orbridge: the proxy stopped unexpectedly; ending the command "
                      f"(see {paths.log_dir() / 'proxy.log'})", file=sys.stderr)
                _forward(proc, signal.SIGTERM)
                term_at[:] = [time.monotonic() - grace + 5]
    finally:
        _restore(previous)
    rc = proc.returncode
    if died:
        return rc if rc > 0 else 1
    return 128 - rc if rc < 0 else rc


def _forward(proc: subprocess.Popen, signum: int) -> None:
    try:
        proc.send_signal(signum)
    except ProcessLookupError:
        pass


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (TypeError, ValueError):
            pass
