"""`orbridge usage`: requests, tokens and cost from the request log, grouped by model, day or profile.

Errors and cancellations (the client hung up: Esc or Ctrl-C in Claude Code) are counted apart, as
`logs --errors` does. At 80 columns the table keeps the group, requests, in, out and cost; the rest fold
away in this order: cache read, cancelled, errors. Group names are untrusted text (see `display`).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from . import display, paths
from .errors import CLIError
from .logs import is_cancelled, is_error

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def parse_since(text: str) -> float:
    match = re.fullmatch(r"(\d{1,6})([mhdw])", text.strip())
    if not match:
        raise CLIError(f"--since {display.plain(text)!r}: expected a number (up to 6 digits) and a unit",
                       "for example --since 30m, 24h, 7d or 2w", code=2)
    return time.time() - int(match.group(1)) * _UNITS[match.group(2)]


def records(path: Path) -> list[dict]:
    """Every logged request, oldest first, across the rotated files."""
    files = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit()
                   else 0) + [path]
    out = []
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


def summarise(recs: list[dict], since: float, by: str) -> list[dict]:
    groups: dict[str, dict] = defaultdict(lambda: {"requests": 0, "errors": 0, "cancelled": 0, "budget_stops": 0,
                                                   "cost": 0.0, **dict.fromkeys(FIELDS, 0)})
    for rec in recs:
        if rec.get("time", 0) < since:
            continue
        if by == "day":
            key = datetime.fromtimestamp(rec.get("time", 0)).strftime("%Y-%m-%d")
        elif by == "profile":
            key = str(rec.get("profile") or "?")
        else:
            key = str(rec.get("upstream_model") or rec.get("model") or "?")
        g = groups[key]
        g["requests"] += 1
        g["errors"] += is_error(rec)
        g["cancelled"] += is_cancelled(rec)
        g["budget_stops"] += rec.get("error_type") == "budget"
        for f in FIELDS:
            value = rec.get(f)
            g[f] += value if isinstance(value, int) else 0
        if isinstance(rec.get("cost"), (int, float)):
            g["cost"] += rec["cost"]
    return [{by: k, **v} for k, v in sorted(groups.items())]


HEADERS = {"requests": 8, "errors": 6, "cancelled": 9, "budget stops": 12, "in": 6, "out": 6, "cache read": 10,
           "cost": 8}
FOLD = ("budget stops", "cache read", "cancelled", "errors")


def _cells(r: dict, by: str, name: str) -> dict[str, str]:
    return {by: name, "requests": str(r["requests"]), "errors": str(r["errors"]), "cancelled": str(r["cancelled"]),
            "budget stops": str(r.get("budget_stops", 0)), "in": display.tokens(r["input_tokens"]),
            "out": display.tokens(r["output_tokens"]),
            "cache read": display.tokens(r["cache_read_input_tokens"]), "cost": display.cost(r["cost"])}


def render(rows: list[dict], by: str, since: str, width: int):
    """The groups and their total as a table at most `width` cells wide."""
    need = display.natural((display.plain(r[by]) for r in rows), by, floor=len("total"))
    # budget stops (--budget refused a request) get a column only when there were some
    headers = {k: w for k, w in HEADERS.items() if k != "budget stops" or any(r.get("budget_stops") for r in rows)}
    widths = display.fit({by: min(need, 28), **headers}, width, FOLD, {by: need})
    table = display.table(widths, headers, title=display.text(f"usage over the last {since}, by {by}"))
    total = {"requests": 0, "errors": 0, "cancelled": 0, "budget_stops": 0, "cost": 0.0, **dict.fromkeys(FIELDS, 0)}
    for r in rows:
        cells = _cells(r, by, display.plain(r[by]))
        table.add_row(*(display.text(cells[name]) for name in widths))
        for k in total:
            total[k] += r.get(k, 0)
    cells = _cells(total, by, "total")
    table.add_row(*(display.text(cells[name]) for name in widths), style="bold")
    return table


def show(since: str, by: str, as_json: bool, path: Path | None = None) -> None:
    if by not in ("model", "day", "profile"):
        raise CLIError(f"--by {by!r}: expected model, day or profile")
    rows = summarise(records(path or paths.request_log()), parse_since(since), by)
    if as_json:
        print(display.dumps(rows, indent=1))
        return
    from rich.console import Console

    console = Console()
    if not rows:
        print(f"no requests in the last {since}", file=sys.stderr)
        return
    console.print(render(rows, by, since, console.width))
