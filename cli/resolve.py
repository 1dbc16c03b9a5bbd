"""From the active profile plus one-off flags to what the proxy and the child process need."""

from __future__ import annotations

import dataclasses
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
        if not o.provider:
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
    if profile.provider == "openrouter":
        cat, _warning = catalogue.load(profile.url, None, timeout=3.0, allow_network=network)
        if cat:
            wanted = set(profile.tiers().values()) | {profile.model}
            info = {m.id: m for m in cat.models if m.id in wanted}
    return Resolved(profile, key, source, info)


def proxy_settings(r: Resolved, token: str, **extra):
    """The proxy's Settings (imports the proxy package: call only when serving)."""
    from orbridge.proxy.settings import ModelInfo, ModelMap, Settings, Upstream

    p = r.profile
    tiers = p.tiers()
    preset = p.preset
    upstream = Upstream(base_url=p.url, provider=p.provider, kind=preset.kind if preset else "openai",
                        api_key=r.api_key, headers=dict(p.headers), timeout=p.timeout)
    models = ModelMap(default=p.model or tiers["sonnet"], opus=tiers["opus"], sonnet=tiers["sonnet"],
                      haiku=tiers["haiku"], fable=tiers["fable"])
    info = {k: ModelInfo(context_length=m.context_length, max_output=m.max_output, reasoning=m.reasoning,
                         vision=m.vision, tools=m.tools) for k, m in r.model_info.items()}
    return Settings(token=token, upstream=upstream, models=models, model_info=info, profile=p.name, **extra)
