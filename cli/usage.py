"""`orbridge usage`: requests, tokens and cost from the request log, grouped by model, day or profile."""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from . import paths
from .errors import CLIError

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def parse_since(text: str) -> float:
    match = re.fullmatch(r"(\d+)([mhdw])", text.strip())
    if not match:
        raise CLIError(f"--since {text!r}: expected a number and a unit (30m, 24h, 7d, 2w)")
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
    groups: dict[str, dict] = defaultdict(lambda: {"requests": 0, "errors": 0, "cost": 0.0, **dict.fromkeys(FIELDS, 0)})
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
        g["errors"] += 1 if rec.get("status", 200) >= 400 else 0
        for f in FIELDS:
            value = rec.get(f)
            g[f] += value if isinstance(value, int) else 0
        if isinstance(rec.get("cost"), (int, float)):
            g["cost"] += rec["cost"]
    return [{by: k, **v} for k, v in sorted(groups.items())]


def show(since: str, by: str, as_json: bool, path: Path | None = None) -> None:
    if by not in ("model", "day", "profile"):
        raise CLIError(f"--by {by!r}: expected model, day or profile")
    rows = summarise(records(path or paths.request_log()), parse_since(since), by)
    if as_json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"usage over the last {since}, by {by}", title_justify="left")
    for col in (by, "requests", "errors", "input", "output", "cache read", "cost $"):
        table.add_column(col, justify="left" if col == by else "right")
    total = {"requests": 0, "errors": 0, "cost": 0.0, **dict.fromkeys(FIELDS, 0)}
    for r in rows:
        table.add_row(r[by], str(r["requests"]), str(r["errors"]), f"{r['input_tokens']:,}",
                      f"{r['output_tokens']:,}", f"{r['cache_read_input_tokens']:,}", f"{r['cost']:.4f}")
        for k in total:
            total[k] += r[k]
    table.add_row("total", str(total["requests"]), str(total["errors"]), f"{total['input_tokens']:,}",
                  f"{total['output_tokens']:,}", f"{total['cache_read_input_tokens']:,}", f"{total['cost']:.4f}",
                  style="bold")
    Console().print(table)
