"""`orbridge logs`: the request log as a table, raw JSON lines, or followed live."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path

from . import paths

COLUMNS = ("time", "session", "model → upstream", "status", "ms", "ttft", "in", "out", "cached", "cost", "error")


def _is_error(rec: dict) -> bool:
    return rec.get("status", 200) >= 400 or bool(rec.get("error_type"))


def _row(rec: dict) -> list[str]:
    when = datetime.fromtimestamp(rec.get("time", 0)).strftime("%m-%d %H:%M:%S")
    cost = rec.get("cost")
    return [
        when, (rec.get("session") or "")[:8], f"{rec.get('model', '')} → {rec.get('upstream_model', '')}"
        + (f" ({rec['route']})" if rec.get("route") not in (None, "default") else ""),
        str(rec.get("status", "")), f"{rec.get('duration_ms', 0):.0f}",
        "" if rec.get("ttft_ms") is None else f"{rec['ttft_ms']:.0f}",
        str(rec.get("input_tokens", "")), str(rec.get("output_tokens", "")),
        str(rec.get("cache_read_input_tokens", "")), "" if cost is None else f"{cost:.5f}",
        f"{rec.get('error_type', '')}: {rec.get('error', '')}" if rec.get("error_type") else "",
    ]


def _parse(line: str) -> dict | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _emit(records: list[dict], as_json: bool) -> None:
    if as_json:
        for rec in records:
            print(json.dumps(rec, ensure_ascii=False))
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col, no_wrap=col != "error", overflow="fold")
    for rec in records:
        table.add_row(*_row(rec), style="red" if _is_error(rec) else None)
    Console().print(table)


def show(follow: bool, lines: int, as_json: bool, errors: bool, path: Path | None = None) -> None:
    path = path or paths.request_log()
    recent: deque = deque(maxlen=max(lines, 0) or None)
    position = 0
    if path.exists():
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                rec = _parse(line)
                if rec and (not errors or _is_error(rec)):
                    recent.append(rec)
            position = fh.tell()
    elif not follow:
        print(f"no requests logged yet ({path})", file=sys.stderr)
        return
    if lines:
        _emit(list(recent), as_json)
    if not follow:
        return
    try:
        while True:
            time.sleep(0.5)
            if not path.exists():
                continue
            if path.stat().st_size < position:
                position = 0  # rotated
            with path.open(encoding="utf-8", errors="replace") as fh:
                fh.seek(position)
                new = [r for r in map(_parse, fh.readlines()) if r and (not errors or _is_error(r))]
                position = fh.tell()
            if new:
                _emit(new, as_json)
    except KeyboardInterrupt:
        return
