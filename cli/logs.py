"""`orbridge logs`: the request log as a table, raw JSON lines, or followed live.

Model names and error text in the log come from clients and upstreams: they are shown through
`display.plain` (table) or `display.dumps` (`--json`), never as markup or raw control characters.

The table fits the terminal. Always shown whole: time (to the second), model (the upstream model, with
its route; ellipsized when long), status ("cancelled" for a cancellation), ms, in and out tokens, cost,
and the error with `--errors`. When the width runs short the other columns fold away in this order:
session, ttft, requested (the model the client asked for), cached, then error (without `--errors`).
Widths do not depend on the rows when following, so `-f` prints its header once and every batch lines up
under it.

A cancelled request (status 499, error_type "cancelled": the client hung up, e.g. Esc in Claude Code) is
shown in yellow, not as an error, and `--errors` leaves it out.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path

from . import display, paths
from .errors import CLIError

# column -> fixed width (the minimum for the flexible ones); --errors has no cancelled rows and needs the error
WIDTHS = {"time": 14, "session": 8, "requested": 14, "model": 20, "status": 9, "ms": 5, "ttft": 5, "in": 5,
          "out": 5, "cached": 6, "cost": 8, "error": 12}
ERRORS_WIDTHS = {**WIDTHS, "model": 14, "status": 6, "error": 16}
FLEXIBLE = {"requested": 20, "model": 32, "error": 60}  # widths worth folding session and ttft for
FOLD = ("session", "ttft", "requested", "cached", "error")  # session and ttft also give way to a cut model/error
RIGHT = ("status", "ms", "ttft", "in", "out", "cached", "cost")


def is_cancelled(rec: dict) -> bool:
    return rec.get("error_type") == "cancelled"


def is_error(rec: dict) -> bool:
    """Failed requests; a cancellation is the user's choice, not a failure."""
    if is_cancelled(rec):
        return False
    status = rec.get("status", 200)
    return (isinstance(status, int) and status >= 400) or bool(rec.get("error_type"))


def _ms(value: object) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:.0f}" if value < 99_999.5 else f"{value / 1000:.0f}s"


def _cells(rec: dict) -> dict[str, str]:
    stamp = rec.get("time")
    when = datetime.fromtimestamp(stamp).strftime("%m-%d %H:%M:%S") if isinstance(stamp, (int, float)) else "?"
    route = rec.get("route")
    model = rec.get("upstream_model") or rec.get("model") or ""
    cancelled = is_cancelled(rec)
    error = "" if cancelled else rec.get("error") or rec.get("error_type") or ""
    return {
        "time": when, "session": str(rec.get("session") or "")[:8], "requested": str(rec.get("model") or ""),
        "model": f"{model}" + (f" ({route})" if route not in (None, "default") else ""),
        "status": "cancelled" if cancelled else str(rec.get("status", "")), "ms": _ms(rec.get("duration_ms")),
        "ttft": _ms(rec.get("ttft_ms")), "in": display.tokens(rec.get("input_tokens")),
        "out": display.tokens(rec.get("output_tokens")), "cached": display.tokens(rec.get("cache_read_input_tokens")),
        "cost": display.cost(rec.get("cost")), "error": str(error),
    }


def layout(width: int, errors: bool, records: list[dict] | None = None) -> dict[str, int]:
    """Column widths for a terminal `width` wide; flexible columns fit `records`, or fill the width if None."""
    natural: dict[str, int | None] = dict.fromkeys(FLEXIBLE)
    if records is not None:
        cells = [_cells(r) for r in records]
        natural = {name: display.natural((display.plain(c[name]) for c in cells), name) for name in FLEXIBLE}
    wanted = {name: min(natural[name] or cap, cap) for name, cap in FLEXIBLE.items()}
    base = ERRORS_WIDTHS if errors else WIDTHS
    shown = display.fit(base, width, FOLD[:-1] if errors else FOLD, wanted, extras=2)
    return display.fit({name: base[name] for name in shown}, width, (), natural)


def render(records: list[dict], widths: dict[str, int], header: bool = True):
    """The rows as a rich table with these column widths."""
    table = display.table(widths, RIGHT, show_header=header)
    for rec in records:
        style = "yellow" if is_cancelled(rec) else "red" if is_error(rec) else ""
        cells = _cells(rec)
        table.add_row(*(display.text(cells[name]) for name in widths), style=style)
    return table


def _parse(line: str) -> dict | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


MAX_LINES = 1_000_000  # more than the rotated log holds


def show(follow: bool, lines: int, as_json: bool, errors: bool, path: Path | None = None) -> None:
    if lines < 0 or lines > MAX_LINES or (lines == 0 and not follow):
        raise CLIError(f"-n {lines}: expected how many recent requests to show, 1 to {MAX_LINES:,}",
                       "orbridge logs -n 50   (or orbridge logs -f -n 0: only requests from now on)", code=2)
    path = path or paths.request_log()
    wanted = is_error if errors else (lambda rec: True)
    recent: deque = deque(maxlen=lines or 1)
    position = 0
    if path.exists():
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                rec = _parse(line)
                if rec and wanted(rec):
                    recent.append(rec)
            position = fh.tell()
    elif not follow:
        print(f"no requests logged yet ({path})", file=sys.stderr)
        return
    batch = list(recent) if lines else []
    if as_json:
        _print_json(batch)
    else:
        from rich.console import Console

        console = Console()
        if not batch and not follow:
            print("no failed requests in the log" if errors else "no requests in the log", file=sys.stderr)
            return
        widths = layout(console.width, errors, None if follow else batch)
        console.print(render(batch, widths))
    if not follow:
        return
    try:
        while True:
            time.sleep(0.5)
            if not path.exists():
                continue
            if path.stat().st_size < position:
                position = 0  # rotated
            new = []
            with path.open(encoding="utf-8", errors="replace") as fh:
                fh.seek(position)
                for line in iter(fh.readline, ""):
                    if not line.endswith("\n"):
                        break  # the writer is mid-line: read it whole next time
                    position = fh.tell()
                    rec = _parse(line)
                    if rec and wanted(rec):
                        new.append(rec)
            if new and as_json:
                _print_json(new)
            elif new:
                console.print(render(new, widths, header=False))
    except KeyboardInterrupt:
        return


def _print_json(records: list[dict]) -> None:
    for rec in records:
        print(display.dumps(rec))
    sys.stdout.flush()
