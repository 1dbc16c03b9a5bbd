"""`orbridge models`: a provider's catalogue as a table (or JSON), filtered by what models can do."""

from __future__ import annotations

import dataclasses
import json
import sys

from . import catalogue, config, keys
from .errors import CLIError
from .resolve import Overrides, apply


def _fmt_int(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n // 1000}k" if n >= 1000 else str(n)


def _fmt_price(p: float | None) -> str:
    return "?" if p is None else f"{p:.2f}"


def _flag(v: bool | None) -> str:
    return "?" if v is None else ("✓" if v else "·")


def show(o: Overrides, search: str | None, tools: bool, reasoning: bool, vision: bool, as_json: bool,
         refresh: bool) -> None:
    profile = apply(config.load().get(o.profile), o)
    key, _ = keys.lookup(profile.key_id, profile.env_var)
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"fetching the {profile.provider} model list…"):
        if profile.kind == "litellm":
            cat, warning = catalogue.litellm_models(), None
        else:
            url = profile.catalogue_url or profile.url
            cat, warning = catalogue.load(url, None if profile.catalogue_url else key, refresh=refresh,
                                          kind="openai" if profile.catalogue_url else profile.kind)
    if warning:
        console.print(f"[yellow]warning:[/] {warning}")
    if cat is None:
        raise CLIError(f"no model list for {profile.provider}", "check your network, then run "
                       "`orbridge models --refresh`")
    rows = cat.models
    if search:
        s = search.lower()
        rows = [m for m in rows if s in m.id.lower() or s in m.name.lower()]
    if tools:
        rows = [m for m in rows if m.tools]
    if reasoning:
        rows = [m for m in rows if m.reasoning]
    if vision:
        rows = [m for m in rows if m.vision]
    if as_json:
        json.dump([dataclasses.asdict(m) for m in rows], sys.stdout, indent=1)
        print()
        return
    from rich.table import Table

    age = f" (cached {cat.age / 3600:.1f} h ago)" if cat.source == "cache" else ""
    table = Table(title=f"{profile.provider}: {len(rows)} models{age}", title_justify="left")
    for col, just in (("id", "left"), ("context", "right"), ("max out", "right"), ("$/M in", "right"),
                      ("$/M out", "right"), ("tools", "center"), ("think", "center"), ("image", "center")):
        table.add_column(col, justify=just, overflow="fold", min_width=30 if col == "id" else len(col))
    for m in rows:
        table.add_row(m.id, _fmt_int(m.context_length), _fmt_int(m.max_output), _fmt_price(m.price_in),
                      _fmt_price(m.price_out), _flag(m.tools), _flag(m.reasoning), _flag(m.vision))
    Console().print(table)
