"""From the active profile plus one-off flags to what the proxy and the child process need."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from . import catalogue, config, keys
from .errors import CLIError


@dataclass
class Overrides:
    profile: str | None = None
    provider: str | None = None
    base_url: str | None = None
    model: str | None = None
    haiku: str | None = None
    key_name: str | None = None  # `--key-name`: the stored key tied to this run's endpoint on purpose


@dataclass
class Resolved:
    profile: config.Profile
    api_key: str | None
    key_source: str
    model_info: dict  # upstream model id -> catalogue.ModelEntry


def apply(profile: config.Profile, o: Overrides) -> config.Profile:
    changes: dict = {}
    if o.provider:
        if o.provider not in config.PRESETS:
            raise CLIError(f"unknown provider {o.provider!r} (presets: {', '.join(config.PRESETS)})",
                           "use a preset name, or --base-url URL for any OpenAI-compatible endpoint")
        changes.update(provider=o.provider, base_url=None, key_name=None)
    if o.base_url:
        changes["base_url"] = o.base_url
        if not o.provider and profile.kind == "openai":
            # A one-off endpoint never receives the profile provider's key.
            changes.update(provider="custom", key_name=None)
    if o.model:
        changes.update(model=o.model, opus=None, sonnet=None, fable=None, haiku=None)
    if o.haiku:
        changes["haiku"] = o.haiku
    return dataclasses.replace(profile, **changes) if changes else profile


def resolve(o: Overrides, need_key: bool = True, network: bool = True) -> Resolved:
    cfg = config.load()
    profile = apply(cfg.get(o.profile), o)
    if not (profile.model or profile.opus or profile.sonnet):
        raise CLIError(f"profile {profile.name!r} names no model", f"orbridge profile edit {profile.name} --model M")
    key, source = keys.lookup(profile.key_id, profile.env_var)
    preset = profile.preset
    if need_key and key is None and preset is not None and preset.needs_key and not profile.base_url:
        var = f" or set {preset.env_var}" if preset.env_var else ""
        raise CLIError(f"no API key for {profile.provider}",
                       f"run `orbridge keys set {profile.key_id}`{var}")
    info: dict = {}
    if profile.catalogue_url:
        cat = catalogue.read_cache(profile.catalogue_url)
        if cat is None:  # first run: worth up to 3 s once, for the clamps and CLAUDE_CODE_MAX_* below
            cat, _warning = catalogue.load(profile.catalogue_url, None, timeout=3.0, allow_network=network)
        elif cat.age > catalogue.MAX_AGE and network:  # stale: use it now, refresh for next time
            threading.Thread(target=catalogue.load, args=(profile.catalogue_url,), kwargs={"refresh": True},
                             daemon=True).start()
        if cat:
            wanted = set(profile.tiers().values()) | {profile.model} | set(profile.fallbacks) | {
                str(m) for k, m in profile.routes.items() if k != "long_context_threshold"}
            info = {m.id: m for m in cat.models if m.id in wanted}
    if profile.context_length or profile.max_output:
        for model in {profile.model, *profile.tiers().values()} - {None}:
            known = info.get(model) or catalogue.ModelEntry(id=model)
            info[model] = dataclasses.replace(known, context_length=known.context_length or profile.context_length,
                                              max_output=known.max_output or profile.max_output)
    return Resolved(profile, key, source, info)


def proxy_settings(r: Resolved, token: str, **extra):
    """The proxy's Settings (imports the proxy package: call only when serving)."""
    from orbridge.proxy.settings import ModelInfo, ModelMap, Routes, Settings, Upstream

    p = r.profile
    tiers = p.tiers()
    upstream = Upstream(base_url=p.url, provider=p.provider, kind=p.kind, api_key=r.api_key,
                        headers=dict(p.headers), timeout=p.timeout)
    models = ModelMap(default=p.model or tiers["sonnet"], opus=tiers["opus"], sonnet=tiers["sonnet"],
                      haiku=tiers["haiku"], fable=tiers["fable"])
    info = {k: ModelInfo(context_length=m.context_length, max_output=m.max_output, reasoning=m.reasoning,
                         vision=m.vision, tools=m.tools, price_in=m.price_in, price_out=m.price_out)
            for k, m in r.model_info.items()}
    rules = tuple((rule, str(model)) for rule, model in p.routes.items() if rule != "long_context_threshold")
    routes = Routes(rules=rules, long_context_threshold=int(p.routes.get("long_context_threshold", 60_000)),
                    fallbacks=tuple(p.fallbacks))
    return Settings(token=token, upstream=upstream, models=models, model_info=info, routes=routes, profile=p.name,
                    **extra)
