"""Terminal output shared by `logs`, `usage` and `models`: untrusted text made inert, tables that fit.

Model names, upstream error text and catalogue ids come from clients and providers. Shown through rich
markup or with their control characters intact they could open hyperlinks, retitle the terminal, move the
cursor or fake a row, so they are only ever shown as rich `Text` after `plain()`, and JSON output goes
through `dumps()`.

Tables are fitted to the terminal here rather than by rich, which shrinks every column and cuts headers:
columns that do not fit are dropped whole in a stated order, the kept ones keep fixed widths, and only the
flexible ones (names, errors) are ellipsized.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text

# C0, DEL, C1 (U+009B is a one-byte CSI), and the bidi embeddings, overrides and isolates.
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PLAIN = {c: _NAMED.get(chr(c), f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
# json escapes C0 itself (and the indent's newlines must stay); the rest can only occur inside strings.
_JSON = {c: f"\\u{c:04x}" for c in _UNSAFE if c >= 0x7F}


def plain(value: object) -> str:
    """`value` as one line of inert text: control and bidi characters shown as escapes."""
    return ("" if value is None else str(value)).translate(_PLAIN)


def text(value: object, style: str = "") -> Text:
    """A table cell that rich will not read as markup."""
    return Text(plain(value), style=style)


def dumps(obj: object, indent: int | None = None) -> str:
    """JSON with readable non-ASCII but no raw control, C1 or bidi characters (json leaves DEL and C1 raw)."""
    return json.dumps(obj, ensure_ascii=False, indent=indent).translate(_JSON)


def cost(usd: float | None) -> str:
    """Dollars with enough digits that a non-zero cost never reads as zero."""
    if not isinstance(usd, (int, float)):
        return ""
    if usd == 0:
        return "$0"
    if abs(usd) < 0.0001:
        return "<$0.0001"
    return f"${usd:.4f}" if abs(usd) < 1 else f"${usd:,.2f}"


def tokens(n: object) -> str:
    """A token count in at most six characters: exact below 100k, then k or M."""
    if not isinstance(n, int):
        return ""
    if n < 100_000:
        return str(n)
    return f"{n / 1000:.0f}k" if n < 999_500 else f"{n / 1e6:.1f}M"


def fit(columns: dict[str, int], width: int, fold: Sequence[str] = (),
        flexible: dict[str, int | None] | None = None, extras: int = 0) -> dict[str, int]:
    """Widths of the columns to show in `width` cells, in the order of `columns`.

    `columns` maps each column to its width (the minimum for a flexible one). Columns named in `fold` are
    dropped, first to last, until the rest fit with one space between them; the first `extras` of them also
    go while a flexible column would be cut. Then the spare cells go to the `flexible` columns, shared
    evenly, each up to its natural width (None: no limit).
    """
    flexible = flexible or {}
    shown = dict(columns)

    def spare() -> int:
        return width - (sum(shown.values()) + len(shown) - 1)

    def short() -> int:
        return sum(max((flexible[n] or width) - shown[n], 0) for n in shown if n in flexible)

    for i, name in enumerate(fold):
        if spare() >= 0 and (i >= extras or short() <= spare()):
            break
        shown.pop(name, None)
    left = spare()
    growing = [n for n in shown if n in flexible and (flexible[n] is None or flexible[n] > shown[n])]
    while left > 0 and growing:
        share = max(left // len(growing), 1)
        for name in list(growing):
            limit = flexible[name]
            add = min(share, left, limit - shown[name] if limit is not None else share)
            shown[name] += add
            left -= add
            if (limit is not None and shown[name] >= limit) or left <= 0:
                growing.remove(name)
    return shown


def table(widths: dict[str, int], right: Iterable[str] = (), **kw) -> Table:
    """A borderless table with these exact column widths; cells that are too long end in `…`."""
    out = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold", title_justify="left", **kw)
    right = set(right)
    for name, w in widths.items():
        out.add_column(name, width=w, min_width=w, max_width=w, no_wrap=True, overflow="ellipsis",
                       justify="right" if name in right else "left")
    return out


def natural(cells: Iterable[str], header: str, floor: int = 0) -> int:
    """The width a column needs to show every cell whole."""
    from rich.cells import cell_len

    return max([cell_len(header), floor, *(cell_len(c) for c in cells)])
