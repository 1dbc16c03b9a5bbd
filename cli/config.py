"""Profiles and provider presets, kept in `config.toml` (read with tomllib, written atomically).

A user with only `OPENROUTER_API_KEY` set needs no file at all: the built-in `default` profile is
OpenRouter with current coding models.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from orbridge.proxy import settings as vocab
from orbridge.proxy import upstreams

from . import paths
from .errors import CLIError

DEFAULT_KIND = "openai"  # the transport of a preset that names none, and of a `custom` endpoint


@dataclass(frozen=True)
class Preset:
    base_url: str
    env_var: str | None
    kind: str = DEFAULT_KIND  # the transport, a key of orbridge.proxy.upstreams.KINDS
    needs_key: bool = True
    key: str | None = None  # stored-key name when it is another preset's (one OpenRouter key for both)
    prefix: str = ""  # a native (LiteLLM) provider's model prefix: `gemini-2.5-pro` is sent as `gemini/gemini-2.5-pro`


PRESETS: dict[str, Preset] = {
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "openai": Preset("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "deepseek": Preset("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "groq": Preset("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "together": Preset("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
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
    # Native providers: LiteLLM speaks their own API (the endpoint is LiteLLM's default unless --base-url).
    # Vertex and Bedrock take cloud credentials from their usual chains, not one key (doctor checks them).
    "gemini": Preset("", "GEMINI_API_KEY", kind="litellm", prefix="gemini/"),
    "vertex": Preset("", None, kind="litellm", needs_key=False, prefix="vertex_ai/"),
    "bedrock": Preset("", None, kind="litellm", needs_key=False, prefix="bedrock/converse/"),
    "azure": Preset("", "AZURE_API_KEY", kind="litellm", prefix="azure/"),
    "cohere": Preset("", "COHERE_API_KEY", kind="litellm", prefix="cohere_chat/"),
    "mistral": Preset("", "MISTRAL_API_KEY", kind="litellm", prefix="mistral/"),
}

DEFAULT_PROFILE = "default"
ROUTE_KEYS = (*vocab.RULES, vocab.THRESHOLD)  # what a profile's routes table may hold
MAX_TIMEOUT = 86_400.0
MAX_BUDGET = 1_000_000.0  # USD per run: a cap, not an account balance
MAX_TOKENS = 1_000_000_000  # context_length, max_output, long_context_threshold: room to spare, no overflow anywhere
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # an HTTP token


def shown(value: object) -> str:
    """A value fit for a one-line message: text quoted with every unprintable character escaped, others by kind."""
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:80] + "…"
        escaped = "".join(c if c.isprintable() and c not in '"\\' else
                          ("\\" + c if c in '"\\' else f"\\u{ord(c):04x}") for c in text)
        return f'"{escaped}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**40:
        return "a number with over 40 digits"
    if isinstance(value, (int, float)):
        return repr(value)
    return {dict: "a table", list: "a list"}.get(type(value), f"a {type(value).__name__}")


class FieldError(CLIError):
    """A profile field of the wrong type or out of range; the caller says where it came from (file or option)."""

    def __init__(self, name: str, expected: str, value: object) -> None:
        self.field, self.expected, self.got = name, expected, shown(value)
        super().__init__(f"{name}: expected {expected}, got {self.got}", f"give {name} {expected}", code=2)


def _text(value: object) -> bool:
    """Non-empty text that prints on one line: no control, line-break or unencodable (surrogate) character."""
    return isinstance(value, str) and bool(value.strip()) and all(c.isprintable() for c in value)


def _url(value: object) -> bool:
    if not _text(value) or " " in value:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _tokens(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TOKENS


def _seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_TIMEOUT \
        and math.isfinite(value)


def _usd(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_BUDGET \
        and math.isfinite(value)


MODEL = "a model name (text without control characters)"
TOKENS = f"a whole number of tokens > 0 and ≤ {MAX_TOKENS}"
# The one place that knows each field's type and range: (what is expected, the check). None is "not set".
SPECS: dict[str, tuple[str, object]] = {
    "name": ("a profile name (text without control characters)", _text),
    "provider": ('a preset (' + ", ".join(PRESETS) + ') or "custom"',
                 lambda v: isinstance(v, str) and (v in PRESETS or v == "custom")),
    "base_url": ("an http:// or https:// URL", _url),
    "model": (MODEL, _text), **{family: (MODEL, _text) for family in vocab.FAMILIES},
    "timeout": (f"a number of seconds > 0 and ≤ {MAX_TIMEOUT:g}", _seconds),
    "context_length": (TOKENS, _tokens), "max_output": (TOKENS, _tokens),
    "key_name": ("a plain name (letters, digits, '.', '_', '-'; at most 64)",
                 lambda v: isinstance(v, str) and bool(_KEY_NAME.fullmatch(v))),
    "headers": ("a table of header names to values", lambda v: isinstance(v, dict)),
    "routes": ("a table of rules (" + ", ".join(ROUTE_KEYS) + ")", lambda v: isinstance(v, dict)),
    "fallbacks": ("a list of model names", lambda v: isinstance(v, list)),
    "batch_concurrency": ("a whole number from 1 to 256",
                          lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 256),
    "budget_per_run": (f"an amount in USD > 0 and ≤ {MAX_BUDGET:g}", _usd),
}
NULLABLE = {"base_url", "model", *vocab.FAMILIES, "context_length", "max_output", "key_name", "batch_concurrency",
            "budget_per_run"}


def check(name: str, value: object) -> None:
    """Raise FieldError unless `value` fits field `name` (tables and lists checked item by item)."""
    if value is None and name in NULLABLE:
        return
    expected, ok = SPECS[name]
    if not ok(value):
        if name == "provider" and isinstance(value, str):
            import difflib

            near = difflib.get_close_matches(value, PRESETS, n=2)
            expected += f" (did you mean {' or '.join(near)}?)" if near else ""
        raise FieldError(name, expected, value)
    if name == "headers":
        for key, text in value.items():
            if not _HEADER_NAME.fullmatch(key):
                raise FieldError("headers", "header names made of letters, digits and !#$%&'*+-.^_`|~", key)
            if not (isinstance(text, str) and text.isascii() and text.isprintable()):
                raise FieldError(f"headers.{key}", "printable ASCII text (no line break or control character)", text)
    elif name == "routes":
        for rule, model in value.items():
            if rule == vocab.THRESHOLD:
                if not _tokens(model):
                    raise FieldError(f"routes.{vocab.THRESHOLD}", TOKENS, model)
            elif rule not in vocab.RULES:
                raise FieldError("routes", "rules named " + ", ".join(ROUTE_KEYS), rule)
            elif not _text(model):
                raise FieldError(f"routes.{rule}", MODEL, model)
    elif name == "fallbacks":
        for model in value:
            if not _text(model):
                raise FieldError("fallbacks", "a list of model names", model)


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
    batch_concurrency: int | None = None  # Message Batches requests in flight at once (None: the proxy's 8)
    budget_per_run: float | None = None  # USD one `orbridge run` / `serve` may spend (`--budget` wins)

    def __post_init__(self) -> None:
        """Every profile, from the file, an option or `dataclasses.replace`, holds only values that fit."""
        for f in fields(self):
            check(f.name, getattr(self, f.name))
        self.timeout = float(self.timeout)

    @property
    def preset(self) -> Preset | None:
        return PRESETS.get(self.provider)

    @property
    def kind(self) -> str:
        return self.preset.kind if self.preset else DEFAULT_KIND

    @property
    def transport(self) -> upstreams.Kind:
        """What differs by transport (the key, the model list, doctor's checks): one row of upstreams.KINDS."""
        return upstreams.kind(self.kind)

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
        return vocab.tiers(self.model or self.sonnet or self.opus or "", self.opus, self.sonnet, self.haiku,
                           self.fable)

    def to_toml(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "name" and v not in (None, {}, "", [])}
        return data


BUILTIN = Profile()
_FIELDS = {f.name for f in fields(Profile)} - {"name"}
UNSETTABLE = tuple(f.name for f in fields(Profile) if f.name != "name")


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
        raise CLIError(f"unknown profile {name!r} (known: {known})", "orbridge profile list", code=2)


def load(path: Path | None = None) -> Config:
    """The config file, every field checked: a wrong one is named with its profile, and nothing is written."""
    path = path or paths.config_file()
    raw, warnings = paths.read_private(path)
    for warning in warnings:
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    if raw is None:
        return Config(path)
    fix = f"fix the file by hand (it was not changed): {path}"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", fix, code=2) from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or an integer past Python's digit limit
        raise CLIError(f"{path}: {str(exc).splitlines()[0][:200]}", fix, code=2) from None
    # Names orbridge does not know (a typo, a newer version's key) exit 1 like a syntax error; a known field
    # with a wrong value exits 2.
    unknown = set(data) - {"active", "profiles"}
    if unknown:
        raise CLIError(f"{path}: unknown keys: {', '.join(shown(k) for k in sorted(unknown))}", fix, code=2)
    active = data.get("active")
    if active is not None and not _text(active):
        raise CLIError(f"{path}: active: expected a profile name, got {shown(active)}", fix, code=2)
    config = Config(path, active=active)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise CLIError(f"{path}: profiles: expected a table of profiles, got {shown(profiles)}", fix, code=2)
    for name, table in profiles.items():
        where = f"{path}: [profiles.{_key(name)}]"
        if not isinstance(table, dict):
            raise CLIError(f"{where}: expected a table, got {shown(table)}", fix, code=2)
        unknown = set(table) - _FIELDS
        if unknown:
            raise CLIError(f"{where} has unknown keys: {', '.join(shown(k) for k in sorted(unknown))}", fix, code=2)
        routes = table.get("routes")
        unknown = set(routes) - set(ROUTE_KEYS) if isinstance(routes, dict) else set()
        if unknown:
            names = ", ".join(shown(k)[1:-1] for k in sorted(unknown))
            raise CLIError(f"{where[:-1]}.routes] has unknown rules: {names}",
                           f"rules: {', '.join(ROUTE_KEYS)}; {fix}", code=2)
        try:
            config.profiles[name] = from_table(name, table)
        except FieldError as exc:
            raise CLIError(f"{where} {exc.message}", fix, code=2) from None
    return config


def unknown_provider(name: str) -> CLIError:
    """A provider that is no preset, with the closest preset names."""
    import difflib

    near = difflib.get_close_matches(name, PRESETS, n=2)
    hint = f" — did you mean {' or '.join(near)}?" if near else f" (presets: {', '.join(PRESETS)})"
    return CLIError(f"unknown provider {name!r}{hint}",
                    "use a preset name, or --base-url URL for any OpenAI-compatible endpoint", code=2)


def from_table(name: str, table: dict) -> Profile:
    """A saved profile from its TOML table (checked): unset tiers fall back to `model`, not to the built-in
    models, and a hand-written endpoint without a provider is `custom`, never the default provider's key at
    someone else's URL."""
    if table.get("base_url") and "provider" not in table:
        table = {**table, "provider": "custom"}
    return Profile(name=name, **{"model": None, "opus": None, "haiku": None, **table})


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join("\\" + c if c in '"\\' else c if c.isprintable() else f"\\U{ord(c):08x}" for c in value)
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_value(name)


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
