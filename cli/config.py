"""Profiles and provider presets, kept in `config.toml` (read with tomllib, written atomically).

A user with only `OPENROUTER_API_KEY` set needs no file at all: the built-in `default` profile is
OpenRouter with current coding models.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import paths
from .errors import CLIError


@dataclass(frozen=True)
class Preset:
    base_url: str
    env_var: str | None
    kind: str = "openai"  # the transport: openai (httpx), anthropic (pass-through), litellm
    needs_key: bool = True
    key: str | None = None  # stored-key name when it is another preset's (one OpenRouter key for both)


PRESETS: dict[str, Preset] = {
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "openai": Preset("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "deepseek": Preset("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "groq": Preset("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "together": Preset("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "mistral": Preset("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "ollama": Preset("http://127.0.0.1:11434/v1", None, needs_key=False),
    "lmstudio": Preset("http://127.0.0.1:1234/v1", None, needs_key=False),
    "vllm": Preset("http://127.0.0.1:8000/v1", "VLLM_API_KEY", needs_key=False),
    # Anthropic Messages API upstreams: pass-through, no translation.
    "anthropic": Preset("https://api.anthropic.com", "ANTHROPIC_API_KEY", kind="anthropic"),
    "openrouter-anthropic": Preset("https://openrouter.ai/api", "OPENROUTER_API_KEY", kind="anthropic",
                                   key="openrouter"),
    "deepseek-anthropic": Preset("https://api.deepseek.com/anthropic", "DEEPSEEK_API_KEY", kind="anthropic",
                                 key="deepseek"),
    "moonshot": Preset("https://api.moonshot.ai/anthropic", "MOONSHOT_API_KEY", kind="anthropic"),
    "minimax": Preset("https://api.minimax.io/anthropic", "MINIMAX_API_KEY", kind="anthropic"),
    # Any LiteLLM model string (gemini/…, vertex_ai/…, bedrock/…, azure/…); LiteLLM reads the provider's
    # own environment variables, a stored key (key_name) is passed as api_key, base_url as api_base.
    "litellm": Preset("", None, kind="litellm", needs_key=False),
}

DEFAULT_PROFILE = "default"


@dataclass
class Profile:
    name: str = DEFAULT_PROFILE
    provider: str = "openrouter"
    base_url: str | None = None
    model: str | None = "qwen/qwen3-coder"
    opus: str | None = "moonshotai/kimi-k2"
    sonnet: str | None = None
    haiku: str | None = "openai/gpt-4o-mini"
    fable: str | None = None
    timeout: float = 600.0
    # The default model's window and output cap when no catalogue knows them (local models, gateways).
    context_length: int | None = None
    max_output: int | None = None
    key_name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Routing rules in the order written (background, think, long_context, web_search, image -> model),
    # plus `long_context_threshold`; fallbacks are tried in order when the upstream fails.
    routes: dict[str, object] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)

    @property
    def preset(self) -> Preset | None:
        return PRESETS.get(self.provider)

    @property
    def kind(self) -> str:
        return self.preset.kind if self.preset else "openai"

    @property
    def url(self) -> str:
        if self.base_url:
            return self.base_url
        if self.preset:
            return self.preset.base_url
        raise CLIError(f"profile {self.name!r}: provider {self.provider!r} is not a preset and has no base_url",
                       f"orbridge profile edit {self.name} --base-url URL")

    @property
    def key_id(self) -> str | None:
        """Name the key is stored under: `key_name`, else the preset's shared key, else the preset's name.
        None for an endpoint that is not a preset (`custom`, a `base_url` profile) without `key_name`:
        no stored key goes there, so `keys.lookup(None, …)` finds none."""
        if self.key_name:
            return self.key_name
        if self.preset is None:
            return None
        return self.preset.key or self.provider

    @property
    def env_var(self) -> str | None:
        return self.preset.env_var if self.preset and self.key_name is None else None

    @property
    def catalogue_url(self) -> str | None:
        """Where this profile's model metadata comes from (OpenRouter's public catalogue), if anywhere."""
        if self.provider == "openrouter":
            return self.url
        if self.provider == "openrouter-anthropic" and not self.base_url:
            return PRESETS["openrouter"].base_url
        return None

    def tiers(self) -> dict[str, str]:
        default = self.model or self.sonnet or self.opus or ""
        return {"opus": self.opus or default, "sonnet": self.sonnet or default,
                "haiku": self.haiku or default, "fable": self.fable or self.opus or default}

    def to_toml(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "name" and v not in (None, {}, "", [])}
        return data


BUILTIN = Profile()
_FIELDS = {f.name for f in fields(Profile)} - {"name"}


@dataclass
class Config:
    path: Path
    active: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)

    def get(self, name: str | None = None) -> Profile:
        name = name or os.environ.get("ORBRIDGE_PROFILE") or self.active or DEFAULT_PROFILE
        if name in self.profiles:
            return self.profiles[name]
        if name == DEFAULT_PROFILE:
            return Profile()
        known = ", ".join(sorted(set(self.profiles) | {DEFAULT_PROFILE}))
        raise CLIError(f"unknown profile {name!r} (known: {known})", "orbridge profile list")


def load(path: Path | None = None) -> Config:
    path = path or paths.config_file()
    raw, warnings = paths.read_private(path)
    for warning in warnings:
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    if raw is None:
        return Config(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"{path}: {exc}", f"fix the file by hand (it was not changed): {path}") from None
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path}: cannot read ({exc})") from None
    config = Config(path, active=data.get("active") if isinstance(data.get("active"), str) else None)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise CLIError(f"{path}: `profiles` must be a table", f"fix the file by hand: {path}")
    for name, raw in profiles.items():
        if not isinstance(raw, dict):
            raise CLIError(f"{path}: [profiles.{name}] must be a table", f"fix the file by hand: {path}")
        unknown = set(raw) - _FIELDS
        if unknown:
            raise CLIError(f"{path}: [profiles.{name}] has unknown keys: {', '.join(sorted(unknown))}",
                           f"fix the file by hand: {path}")
        routes = raw.get("routes", {})
        bad = set(routes) - {"background", "think", "long_context", "web_search", "image",
                             "long_context_threshold"} if isinstance(routes, dict) else {"(not a table)"}
        if bad:
            raise CLIError(f"{path}: [profiles.{name}.routes] has unknown rules: {', '.join(sorted(bad))}",
                           "rules: background, think, long_context, web_search, image, long_context_threshold")
        if raw.get("base_url") and "provider" not in raw:
            # A hand-written endpoint: never the default provider's key (or its preset) at someone else's URL.
            raw = {**raw, "provider": "custom"}
        try:
            config.profiles[name] = Profile(name=name, **{**_empty_tiers(), **raw})
        except TypeError as exc:
            raise CLIError(f"{path}: [profiles.{name}]: {exc}", f"fix the file by hand: {path}") from None
    return config


def _empty_tiers() -> dict:
    """Saved profiles start from nothing (not the built-in models), so unset tiers fall back to `model`."""
    return {"model": None, "opus": None, "haiku": None}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else _toml_value(name)


def dumps(config: Config) -> str:
    lines = ["# orbridge configuration: https://github.com/orbridge/orbridge#profiles", ""]
    if config.active:
        lines += [f"active = {_toml_value(config.active)}", ""]
    for name, profile in config.profiles.items():
        data = profile.to_toml()
        tables = {key: data.pop(key) for key in ("headers", "routes") if key in data}
        lines.append(f"[profiles.{_key(name)}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in data.items()]
        for key, table in tables.items():
            lines += ["", f"[profiles.{_key(name)}.{key}]"]
            lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    return "\n".join(lines)


def save(config: Config) -> None:
    text = dumps(config)
    tomllib.loads(text)  # never write a file we could not read back
    for warning in paths.write_private(config.path, text.encode("utf-8")):
        print(f"orbridge: warning: {warning}", file=sys.stderr)
