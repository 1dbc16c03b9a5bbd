"""From the active profile plus one-off flags to what the proxy and the child process need."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

from orbridge.proxy.listen import is_loopback
from orbridge.proxy.settings import FAMILIES, THRESHOLD, Routes

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
    key_label: str | None = None  # the stored key's name or the variable it came from, for fixes

    @property
    def key_fix(self) -> str:
        """What to do when the upstream rejects the key (or wanted one and none was sent)."""
        return key_fix(self.profile, self.key_source, self.key_label)

    def warnings(self) -> list[str]:
        """Risks worth one line before starting: a key sent in clear over the network."""
        from orbridge.proxy.redaction import safe_url

        url = self.profile.base_url or (self.profile.preset.base_url if self.profile.preset else "")
        parts = urlsplit(url or "")
        if self.api_key and parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            return [f"your key ({self.key_label}) is sent over plain http:// to {safe_url(url)}: anyone on the "
                    "network path can read it; use https://"]
        return []




def key_for(profile: config.Profile) -> tuple[str | None, str, str | None]:
    """(key, source, label) for a profile. A key goes only to its preset's own endpoint, or to a base URL
    the user tied to a key on purpose (`key_name` in the profile, `--key-name`): never to a one-off or
    hand-written `base_url` on the strength of a provider name."""
    if profile.key_name:
        # A preset's key name brings its variable along: `--key-name openrouter` is "my OpenRouter key".
        named = config.PRESETS.get(profile.key_name)
        key, source = keys.lookup(profile.key_name, named.env_var if named else None)
        return key, source, (source[4:] if source.startswith("env:") else profile.key_name)
    preset = profile.preset
    if preset is not None and preset.prefix and preset.env_var and not profile.base_url:
        key, source = keys.lookup(profile.provider, preset.env_var)  # a native provider's key, to its own API
        return key, source, (source[4:] if source.startswith("env:") else profile.provider if key else None)
    if profile.transport.provider_variables:
        return None, "none", None  # the SDK (LiteLLM) reads the provider's own variables, for its endpoint
    if preset is None or (profile.base_url and profile.base_url.rstrip("/") != preset.base_url.rstrip("/")):
        return None, "none", None
    name = preset.key or profile.provider
    key, source = keys.lookup(name, preset.env_var)
    return key, source, (source[4:] if source.startswith("env:") else name)


# What to check when a cloud provider refuses the credentials LiteLLM found in its usual chain.
CLOUD_FIX = {
    "vertex": "Check the service-account file in $GOOGLE_APPLICATION_CREDENTIALS (or `gcloud auth "
              "application-default login`), and $VERTEXAI_PROJECT; `orbridge doctor --provider vertex`",
    "bedrock": "Check $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY (or $AWS_PROFILE) and $AWS_REGION; "
               "`orbridge doctor --provider bedrock`",
}


def key_fix(profile: config.Profile, source: str, label: str | None) -> str:
    preset = profile.preset
    if preset is not None and preset.prefix and preset.env_var and profile.base_url and not profile.key_name:
        return (f"A --base-url gets no key unless one is tied to it: add --key-name {profile.provider} (then "
                f"${preset.env_var} or the stored {profile.provider} key goes there)")
    if preset is not None and preset.prefix and not (label and source == "file"):
        if preset.env_var:
            return (f"Check ${preset.env_var} (LiteLLM sends it to {profile.provider}): fix or unset it, or "
                    f"store one with `orbridge keys set {profile.provider}`")
        return CLOUD_FIX.get(profile.provider, "")
    if profile.transport.provider_variables and not label:
        return ("Set the provider's variable named above (LiteLLM reads it), or store a key with "
                "`orbridge keys set NAME` and tie it with `--key-name NAME`")
    if source.startswith("env:"):
        return f"The key came from ${label} (it wins over a stored key): fix or unset it"
    if label:
        return f"Fix it with `orbridge keys set {label}`"
    return ("No API key was sent to this endpoint: store one with `orbridge keys set NAME`, then tie it with "
            "`--key-name NAME` (or `key_name = \"NAME\"` in the profile)")


def apply(profile: config.Profile, o: Overrides) -> config.Profile:
    changes: dict = {}
    if o.provider:
        if o.provider not in config.PRESETS:
            raise config.unknown_provider(o.provider)
        changes.update(provider=o.provider, base_url=None, key_name=None)
    if o.base_url:
        # A one-off endpoint gets no stored key unless --key-name ties one to it (key_for).
        changes.update(base_url=o.base_url, key_name=None)
        if not o.provider and profile.kind == config.DEFAULT_KIND:  # `custom` keeps the transport
            changes["provider"] = "custom"
    if o.key_name:
        changes["key_name"] = o.key_name
    if o.model:
        changes.update(model=o.model, opus=None, sonnet=None, fable=None, haiku=None)
    if o.haiku:
        changes["haiku"] = o.haiku
    return native_ids(dataclasses.replace(profile, **changes) if changes else profile)


def native_ids(profile: config.Profile) -> config.Profile:
    """A native provider's bare model ids as LiteLLM model strings (`gemini-2.5-pro` -> `gemini/gemini-2.5-pro`);
    ids already naming the provider (`gemini/…`, `bedrock/…`) stay as they are."""
    prefix = profile.preset.prefix if profile.preset else ""
    if not prefix:
        return profile
    head = prefix.split("/")[0] + "/"

    def full(model):
        return model if not isinstance(model, str) or model.startswith(head) else prefix + model

    routes = {rule: model if rule == THRESHOLD else full(model) for rule, model in profile.routes.items()}
    return dataclasses.replace(profile, model=full(profile.model), **{f: full(getattr(profile, f)) for f in FAMILIES},
                               fallbacks=[full(m) for m in profile.fallbacks], routes=routes)


def resolve(o: Overrides, need_key: bool = True, network: bool = True) -> Resolved:
    cfg = config.load()
    profile = apply(cfg.get(o.profile), o)
    if not (profile.model or profile.opus or profile.sonnet):
        raise CLIError(f"profile {profile.name!r} names no model", f"orbridge profile edit {profile.name} --model M")
    key, source, label = key_for(profile)
    preset = profile.preset
    if need_key and key is None and preset is not None and preset.needs_key and not profile.base_url:
        var = f" or set {preset.env_var}" if preset.env_var else ""
        raise CLIError(f"no API key for {profile.provider}",
                       f"run `orbridge keys set {preset.key or profile.provider}`{var}")
    if need_key and key is None and profile.key_name:
        raise CLIError(f"no stored key named {profile.key_name!r}", f"orbridge keys set {profile.key_name}")
    info: dict = {}
    cat = catalogue.for_run(profile, key, network)
    if cat is not None:
        wanted = set(profile.tiers().values()) | {profile.model} | set(profile.fallbacks) | {
            m for _rule, m in Routes.of(profile.routes).rules}
        info = {m.id: m for m in cat.models if m.id in wanted}
    if profile.context_length or profile.max_output:
        for model in {profile.model, *profile.tiers().values()} - {None}:
            known = info.get(model) or catalogue.ModelEntry(id=model)
            # The profile's values are the user's word: they win over the catalogue's.
            info[model] = dataclasses.replace(known, context_length=profile.context_length or known.context_length,
                                              max_output=profile.max_output or known.max_output)
    return Resolved(profile, key, source, info, label)


def proxy_settings(r: Resolved, token: str, **extra):
    """The proxy's Settings (imports the proxy package: call only when serving)."""
    from orbridge.proxy.redaction import safe_url
    from orbridge.proxy.settings import ModelInfo, ModelMap, Settings, Upstream

    p = r.profile
    tiers = p.tiers()
    # Messages name the upstream by its preset, or by its URL (never "custom").
    name = p.provider if p.preset is not None else safe_url(p.url)
    preset = p.preset
    native = preset is not None and bool(preset.prefix)
    # A LiteLLM profile calls one provider: a native preset's own, or (with a key tied to it) the default
    # model's. Its key goes to no other, whatever model name a client asks for.
    family = preset.prefix if native else (p.model or tiers["sonnet"]).split("/", 1)[0] + "/" \
        if p.kind == "litellm" and r.api_key else ""
    upstream = Upstream(base_url=p.url, provider=name, kind=p.kind, api_key=r.api_key,
                        headers=dict(p.headers), timeout=p.timeout, key_fix=r.key_fix, model_prefix=family,
                        needs_key=native and bool(preset.env_var))
    models = ModelMap(default=p.model or tiers["sonnet"], opus=tiers["opus"], sonnet=tiers["sonnet"],
                      haiku=tiers["haiku"], fable=tiers["fable"])
    info = {k: ModelInfo.of(m) for k, m in r.model_info.items()}
    routes = Routes.of(p.routes, tuple(p.fallbacks))
    from .child_env import held_keys  # child_env imports this module

    return Settings(token=token, upstream=upstream, models=models, model_info=info, routes=routes, profile=p.name,
                    extra_secrets=tuple(sorted(held_keys(r.api_key))), **extra)
