"""`orbridge probe [MODEL …]`: which models can drive Claude Code, checked against the live upstream.

Each model gets the embedded proxy as `orbridge run` starts it (the same settings, its own port, every tier
mapped to that model, no routing rules or fallbacks so the answer is that model's) and the fixed battery of
probe_checks. Results are cached (probe_store) for `orbridge models` and `orbridge run`.
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
import time

from . import display, paths, probe_store
from .probe_checks import REQUIRED, Result, battery
from .resolve import Overrides, resolve
from .run import bound, quiet_logging, settings_for

WIDTH = 80
COLUMNS = {"check": 14, "result": 6, "reason": WIDTH - 14 - 6 - 2}


def probe_model(overrides: Overrides, model: str, session: str, timeout: float) -> Result:
    """The battery for one model, through a proxy serving it on every tier."""
    import httpx

    from orbridge.proxy.server import ProxyServer
    from orbridge.proxy.settings import Routes

    resolved = resolve(dataclasses.replace(overrides, model=model, haiku=None))
    with bound(0) as sock:
        settings = dataclasses.replace(settings_for(resolved, None, False), routes=Routes(), batch_db_path=None)
        quiet_logging(paths.log_dir() / "proxy.log", settings)
    server = ProxyServer(settings, sock, quiet=True).start()
    info = settings.model_info.get(model)
    headers = {"x-api-key": settings.token, "anthropic-version": "2023-06-01", "x-claude-code-session-id": session}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=timeout, trust_env=False) as client:
            return battery(client, model, info.reasoning if info else None, info.vision if info else None)
    finally:
        server.stop()


def cost_of(session: str, since: float) -> float | None:
    """What the probe's requests cost, from the request log (upstream-reported, else catalogue prices)."""
    from .statusline import session_records

    costs = [r["cost"] for r in session_records(paths.request_log(), session, since) if "cost" in r]
    return sum(costs) if costs else None


def verdict(result: Result) -> str:
    if result.ready:
        return f"{result.model}: ready for Claude Code"
    missing = [c.name for c in result.checks if c.name in REQUIRED and c.status != "pass"]
    return f"{result.model}: not ready for Claude Code ({', '.join(missing)} failed)"


def render(result: Result):
    speed = []
    if result.ttft_ms is not None:
        speed.append(f"first token {result.ttft_ms:.0f} ms")
    if result.tokens_per_s is not None:
        speed.append(f"{result.tokens_per_s:g} tokens/s")
    table = display.table(COLUMNS, title=display.text(result.model))
    for check in result.checks:
        style = {"pass": "green", "fail": "red"}.get(check.status, "dim")
        table.add_row(display.text(check.name), display.text(check.status, style), display.text(check.reason))
    table.add_row(display.text("speed"), display.text(""), display.text(", ".join(speed) or "unknown"))
    return table


def probe(overrides: Overrides, models: list[str], as_json: bool, timeout: float = 60.0) -> int:
    """Probe `models` (default: the profile's tier models); exit 0 only when every one is ready."""
    base = resolve(overrides)
    targets = list(dict.fromkeys(models or base.profile.tiers().values()))
    session = f"orbridge-probe-{secrets.token_hex(6)}"
    started = time.time() - 1
    results = []
    for model in targets:
        if not as_json:
            print(f"probing {model} …", file=sys.stderr, flush=True)
        results.append(probe_model(overrides, model, session, timeout))
    for warning in probe_store.save(base.profile.url, [r.as_dict() for r in results]):
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    cost = cost_of(session, started)
    if as_json:
        print(display.dumps({"models": [r.as_dict() for r in results], "cost": cost}, indent=1))
    else:
        from rich.console import Console

        console = Console(width=min(Console().width, WIDTH))
        for result in results:
            console.print(render(result))
            console.print(display.text(verdict(result), "bold green" if result.ready else "bold red"))
        print(f"probe cost: {display.cost(cost) if cost is not None else 'unknown (no price reported)'}")
    return 0 if all(r.ready for r in results) else 1
