"""`orbridge models`: a provider's catalogue as a table (or JSON), filtered by what models can do.

Ids are never broken or cut: the id column is as wide as the longest id shown (a catalogue's text is
untrusted and goes through `display`). When the terminal is narrow the other columns give way in this
order: tools/think/image become one compact `caps` column (`T R V`: tools, reasoning, vision; `·` no,
`?` unknown), then max out, $/M out, $/M in, context and caps go. Only an id wider than the terminal
itself is folded onto a second line.
"""

from __future__ import annotations

import dataclasses

from . import catalogue, config, display
from .errors import CLIError
from .resolve import Overrides, apply, key_for

MANY = 200  # past this many rows, suggest narrowing the list
FULL = {"context": 7, "max out": 7, "$/M in": 6, "$/M out": 7, "tools": 5, "think": 5, "image": 5}
COMPACT = {"context": 7, "max out": 7, "$/M in": 6, "$/M out": 7, "caps": 5}
FOLD = ("max out", "$/M out", "$/M in", "context", "caps")


def _fmt_int(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n // 1000}k" if n >= 1000 else str(n)


def _fmt_price(p: float | None) -> str:
    return "?" if p is None else f"{p:.2f}"


def _flag(v: bool | None, letter: str = "✓") -> str:
    return "?" if v is None else (letter if v else "·")


def _cells(m: catalogue.ModelEntry, probe: str = "") -> dict[str, str]:
    return {"id": display.plain(m.id), "probe": probe, "context": _fmt_int(m.context_length),
            "max out": _fmt_int(m.max_output),
            "$/M in": _fmt_price(m.price_in), "$/M out": _fmt_price(m.price_out), "tools": _flag(m.tools),
            "think": _flag(m.reasoning), "image": _flag(m.vision),
            "caps": " ".join((_flag(m.tools, "T"), _flag(m.reasoning, "R"), _flag(m.vision, "V")))}


def layout(ids: list[str], width: int, probe: bool = False) -> dict[str, int]:
    """Column widths: the id whole, then as many other columns as fit, compact flags before dropping any.
    `probe`: a column with the cached `orbridge probe` verdict, the first to go when space runs out."""
    need = display.natural(ids, "id")
    extra = {"probe": 5} if probe else {}
    full = {"id": need, **FULL, **extra}
    if sum(full.values()) + len(full) - 1 <= width:
        return full
    widths = display.fit({"id": need, **COMPACT, **extra}, width, ("probe", *FOLD) if probe else FOLD)
    if widths["id"] > width:
        widths["id"] = width  # only an id wider than the terminal: fold it rather than lose its end
    return widths


def _age(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago" if seconds < 2 * 86400 else f"{seconds / 86400:.0f} days ago"


def render(title: str, rows: list[catalogue.ModelEntry], width: int, probes: dict[str, str] | None = None):
    """`probes`: model id -> the cached probe verdict (ready / fail); the column shows only when given."""
    cells = [_cells(m, (probes or {}).get(m.id, "")) for m in rows]
    widths = layout([c["id"] for c in cells], width, probe=bool(probes))
    table = display.table(widths, ("context", "max out", "$/M in", "$/M out"), title=display.text(title))
    for name in ("tools", "think", "image", "caps", "probe"):
        if name in widths:
            table.columns[list(widths).index(name)].justify = "center"
    table.columns[0].overflow = "fold"
    table.columns[0].no_wrap = False
    if "caps" in widths:
        table.caption = "caps: T tools, R reasoning, V vision (· no, ? unknown)"
        table.caption_justify = "left"
    for c in cells:
        table.add_row(*(display.text(c[name]) for name in widths))
    return table


def probe_verdicts(url: str) -> dict[str, str]:
    """Cached `orbridge probe` results for this endpoint: model id -> ready or fail."""
    from . import probe_store

    prefix = probe_store.endpoint(url) + " "
    return {key[len(prefix):]: "ready" if entry.get("ready") else "fail"
            for key, entry in probe_store.load().items() if key.startswith(prefix) and isinstance(entry, dict)}


def _fix(warning: str | None) -> str:
    if warning and "is the server running?" in warning:
        return "start the server (for Ollama: `ollama serve`), or point --base-url at where it listens"
    return "check the URL and your network, then run `orbridge models --refresh`"


def show(o: Overrides, search: str | None, tools: bool, reasoning: bool, vision: bool, as_json: bool,
         refresh: bool) -> None:
    profile = apply(config.load().get(o.profile), o)
    key, _source, _label = key_for(profile)  # only where the key belongs, as for run
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"fetching the {profile.provider} model list…"):
        if profile.preset is not None and profile.preset.prefix:  # a native provider: its rows of LiteLLM's table
            cat, warning = catalogue.native(profile.provider, profile.preset.prefix, refresh), None
        elif profile.transport.model_list is None:  # LiteLLM: its own table, every provider it knows
            cat, warning = catalogue.litellm_models(refresh), None
        else:
            url = profile.catalogue_url or profile.url
            cat, warning = catalogue.load(url, None if profile.catalogue_url else key, refresh=refresh,
                                          kind="openai" if profile.catalogue_url else profile.kind)
    if cat is None:
        raise CLIError(f"no model list for {profile.provider}: {warning or 'the endpoint sent none'}",
                       _fix(warning))
    if warning:
        console.print(display.text(warning), style="yellow")
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
    probes = probe_verdicts(profile.url)
    if as_json:
        print(display.dumps([{**dataclasses.asdict(m), **({"probe": probes[m.id]} if m.id in probes else {})}
                             for m in rows], indent=1))
        return
    if not rows:
        flags = [f"--search {search!r}"] if search else []
        flags += [flag for flag, on in (("--tools", tools), ("--reasoning", reasoning), ("--vision", vision)) if on]
        console.print(display.text(f"no {profile.provider} model matches {' '.join(flags)} (of {len(cat.models)} "
                                   f"listed)" if flags else f"{profile.provider} lists no models"))
        return
    age = f" (cached {_age(cat.age)})" if cat.source == "cache" else ""
    title = f"{profile.provider}: {len(rows)} model{'s' if len(rows) != 1 else ''}{age}"
    out = Console()
    out.print(render(title, rows, out.width, probes))
    if len(rows) > MANY:
        console.print(f"{len(rows)} models: narrow the list with --search TEXT, --tools, --reasoning or --vision")
