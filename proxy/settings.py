"""What the proxy needs to run: plain data, filled in by the CLI (or by tests), never read from globals.

Also the configuration's one vocabulary (families, tiers, routing rules, model fields): `cli/` builds its
profiles from these names, so the launcher and the proxy cannot disagree on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

FAMILIES = ("opus", "sonnet", "haiku", "fable")  # Claude Code's model families, each a profile tier
RULES = ("background", "think", "long_context", "web_search", "image")  # routing rules (routing._matches)
THRESHOLD = "long_context_threshold"  # the one non-rule key of a routes table
DEFAULT_THRESHOLD = 60_000


def tiers(default: str, opus: str | None, sonnet: str | None, haiku: str | None, fable: str | None) -> dict[str, str]:
    """Each family's model: its own, else the default (fable: else opus)."""
    return {"opus": opus or default, "sonnet": sonnet or default, "haiku": haiku or default,
            "fable": fable or opus or default}


@dataclass(frozen=True)
class ModelInfo:
    """What is known about one upstream model (from a catalogue); None means unknown."""

    context_length: int | None = None
    max_output: int | None = None
    reasoning: bool | None = None
    vision: bool | None = None
    tools: bool | None = None
    price_in: float | None = None  # USD per million input tokens
    price_out: float | None = None

    @classmethod
    def of(cls, source: object) -> ModelInfo:
        """The model fields of any record that has them (a catalogue entry), read by name, not retyped."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class ModelMap:
    """Claude Code's model names resolve to these upstream models: by family tier, else the default."""

    default: str
    opus: str | None = None
    sonnet: str | None = None
    haiku: str | None = None
    fable: str | None = None

    def tiers(self) -> dict[str, str]:
        return tiers(self.default, self.opus, self.sonnet, self.haiku, self.fable)


@dataclass(frozen=True)
class Routes:
    """Per-request routing: rules in profile order (first match wins), then fallbacks on failure."""

    rules: tuple[tuple[str, str], ...] = ()  # (background | think | long_context | web_search | image, model)
    long_context_threshold: int = DEFAULT_THRESHOLD
    fallbacks: tuple[str, ...] = ()

    @classmethod
    def of(cls, table: Mapping[str, object], fallbacks: tuple[str, ...] = ()) -> Routes:
        """A profile's routes table split into its rules (in the order written) and the threshold."""
        rules = tuple((rule, str(model)) for rule, model in table.items() if rule != THRESHOLD)
        return cls(rules, int(table.get(THRESHOLD, DEFAULT_THRESHOLD)), tuple(fallbacks))


@dataclass(frozen=True)
class Upstream:
    """Where requests go. `kind` is the transport: openai (aiohttp), litellm, or anthropic (pass-through)."""

    base_url: str
    provider: str = "openrouter"
    kind: str = "openai"
    api_key: str | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 600.0
    connect_timeout: float = 10.0
    # What to do when the upstream rejects the key: names the key actually sent, or how to tie one.
    key_fix: str = ""  # empty: "orbridge keys set <provider>"
    # LiteLLM profiles: the model family this profile may call (`gemini/`): a bare id gets the prefix, a model of
    # another family is refused, since the key is for this provider only. Empty: any model.
    model_prefix: str = ""
    # A key must be sent: a native preset whose key LiteLLM would otherwise read from the environment by
    # itself, also for a --base-url it was not meant for. Without one the request fails before leaving.
    needs_key: bool = False

    @property
    def is_openrouter(self) -> bool:
        return self.provider == "openrouter" or "openrouter.ai" in self.base_url


@dataclass(frozen=True)
class Settings:
    token: str
    upstream: Upstream
    models: ModelMap
    model_info: dict[str, ModelInfo] = field(default_factory=dict)
    routes: Routes = Routes()
    ping_interval: float = 10.0
    # How long to wait for the upstream's first chunk before committing to a 200 stream (then pings flow).
    first_byte_grace: float = 8.0
    max_body_bytes: int = 32 * 1024 * 1024
    allow_remote: bool = False
    log_path: Path | None = None
    log_bodies_path: Path | None = None
    profile: str = "default"
    # A background check of the upstream at start (reachability.py); tests of other things turn it off.
    check_upstream: bool = True
    # Other keys the redactor masks (stored keys, provider variables LiteLLM reads), beside upstream.api_key.
    extra_secrets: tuple[str, ...] = field(default=(), repr=False)
    # The Message Batches database (proxy/batches); None: this proxy keeps no batches.
    batch_db_path: Path | None = None
    batch_concurrency: int = 8  # batch requests in flight at once
    budget: float | None = None  # USD this run may spend (`--budget`); None: no cap (proxy/budget.py)
