"""What the proxy needs to run: plain data, filled in by the CLI (or by tests), never read from globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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


@dataclass(frozen=True)
class ModelMap:
    """Claude Code's model names resolve to these upstream models: by family tier, else the default."""

    default: str
    opus: str | None = None
    sonnet: str | None = None
    haiku: str | None = None
    fable: str | None = None

    def tiers(self) -> dict[str, str]:
        return {
            "opus": self.opus or self.default,
            "sonnet": self.sonnet or self.default,
            "haiku": self.haiku or self.default,
            "fable": self.fable or self.opus or self.default,
        }


@dataclass(frozen=True)
class Routes:
    """Per-request routing: rules in profile order (first match wins), then fallbacks on failure."""

    rules: tuple[tuple[str, str], ...] = ()  # (background | think | long_context | web_search | image, model)
    long_context_threshold: int = 60_000
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Upstream:
    """Where requests go. `kind` is the transport: openai (httpx), litellm, or anthropic (pass-through)."""

    base_url: str
    provider: str = "openrouter"
    kind: str = "openai"
    api_key: str | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 600.0
    connect_timeout: float = 10.0
    # What to do when the upstream rejects the key: names the key actually sent, or how to tie one.
    key_fix: str = ""  # empty: "orbridge keys set <provider>"

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
