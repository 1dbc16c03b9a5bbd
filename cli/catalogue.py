"""Provider model catalogues (`GET {base_url}/models`), cached for 24 h in the user cache dir.

OpenRouter's public catalogue carries context length, max output, prices and supported parameters;
other OpenAI-compatible servers list ids only. The same metadata feeds `orbridge models`, the child's
CLAUDE_CODE_MAX_* variables and the proxy's max_tokens clamp.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from orbridge.proxy import upstreams
from orbridge.proxy.redaction import safe_text

from . import paths
from .errors import CLIError

if TYPE_CHECKING:
    import httpx

    from .config import Profile

MAX_AGE = 24 * 3600
FAIL_AGE = 15 * 60  # an endpoint without a model list (or down) is not asked again by `run` for this long


@dataclass(frozen=True)
class ModelEntry:
    id: str
    name: str = ""
    context_length: int | None = None
    max_output: int | None = None
    price_in: float | None = None  # USD per million tokens
    price_out: float | None = None
    tools: bool | None = None
    reasoning: bool | None = None
    vision: bool | None = None


@dataclass
class Catalogue:
    models: list[ModelEntry]
    fetched_at: float
    source: str  # "network" | "cache"

    @property
    def age(self) -> float:
        return time.time() - self.fetched_at

    def get(self, model_id: str) -> ModelEntry | None:
        return next((m for m in self.models if m.id == model_id), None)


def _num(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _int(value: object) -> int | None:
    number = _num(value)
    return int(number) if number else None


def parse(data: object) -> list[ModelEntry]:
    rows = data.get("data") if isinstance(data, dict) else data
    out = []
    for row in rows or []:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            continue
        params = row.get("supported_parameters")
        params = set(params) if isinstance(params, list) else None
        top = row.get("top_provider") or {}
        pricing = row.get("pricing") or {}
        modalities = (row.get("architecture") or {}).get("input_modalities")
        price_in, price_out = _num(pricing.get("prompt")), _num(pricing.get("completion"))
        out.append(ModelEntry(
            id=row["id"],
            name=row.get("name") or "",
            context_length=_int(row.get("context_length") or top.get("context_length") or row.get("max_model_len")),
            max_output=_int(top.get("max_completion_tokens") or row.get("max_output_tokens")),
            price_in=price_in * 1e6 if price_in is not None else None,
            price_out=price_out * 1e6 if price_out is not None else None,
            tools=("tools" in params) if params is not None else None,
            reasoning=("reasoning" in params or "include_reasoning" in params) if params is not None else None,
            vision=("image" in modalities) if isinstance(modalities, list) else None,
        ))
    return out


def _cache_path(base_url: str) -> Path:
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    return paths.cache_dir() / f"models-{digest}.json"


def read_cache(base_url: str) -> Catalogue | None:
    try:  # a cache another account owns or can write, or a symlink, is no cache
        raw, _ = paths.read_private(_cache_path(base_url))
        data = json.loads(raw)
        return Catalogue(parse(data["payload"]), float(data["fetched_at"]), "cache")
    except (CLIError, OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(base_url: str, payload: object) -> None:
    data = json.dumps({"fetched_at": time.time(), "payload": payload}).encode("utf-8")
    try:  # 0600 in a 0700 folder, like every file orbridge writes
        paths.write_private(_cache_path(base_url), data)
        _cache_path(base_url).with_suffix(".failed").unlink(missing_ok=True)
    except (CLIError, OSError):
        pass


def failed_recently(base_url: str) -> bool:
    """`run` found no model list here less than FAIL_AGE ago: do not make it wait on the endpoint again."""
    try:
        raw, _ = paths.read_private(_cache_path(base_url).with_suffix(".failed"))
        return raw is not None and time.time() - float(raw) < FAIL_AGE
    except (CLIError, OSError, ValueError):
        return False


def _remember_failure(base_url: str) -> None:
    try:
        paths.write_private(_cache_path(base_url).with_suffix(".failed"), str(time.time()).encode())
    except (CLIError, OSError):
        pass


def url_for(profile: Profile) -> str | None:
    """Where a profile's model metadata comes from: OpenRouter's public catalogue, else the `/models` of
    any OpenAI-compatible endpoint (a gateway, vLLM, Ollama), so `models` and `run` read the same list."""
    if profile.catalogue_url:
        return profile.catalogue_url
    return profile.url if profile.transport.model_list == "openai" else None


def for_run(profile: Profile, api_key: str | None, network: bool = True) -> Catalogue | None:
    """The catalogue `run` uses, never waiting long: the cache (a stale one refreshed in the background), else
    one fetch of up to 3 s (a 1 s connect for endpoints other than OpenRouter), a failure remembered for a while."""
    import httpx

    if profile.preset is not None and profile.preset.prefix:
        return native(profile.provider, profile.preset.prefix)
    url = url_for(profile)
    if url is None:
        return None
    key = api_key if url == profile.url else None  # a key goes only to its own endpoint
    cat = read_cache(url)
    if cat is not None:
        if cat.age > MAX_AGE and network:  # stale: use it now, refresh for next time
            threading.Thread(target=load, args=(url, key), kwargs={"refresh": True}, daemon=True).start()
        return cat
    if not network or failed_recently(url):
        return None
    timeout = httpx.Timeout(3.0) if profile.catalogue_url else httpx.Timeout(3.0, connect=1.0)
    cat, _warning = load(url, key, timeout=timeout)
    if cat is None:
        _remember_failure(url)
    return cat


def fetch(base_url: str, api_key: str | None = None, timeout: float | httpx.Timeout = 10.0,
          kind: str = "openai") -> Catalogue:
    import httpx

    url, headers = upstreams.kind(kind).models_request(base_url, api_key)
    resp = httpx.get(url, headers=headers, timeout=timeout, trust_env=False)
    resp.raise_for_status()
    payload = resp.json()
    models = parse(payload)
    _write_cache(base_url, payload)
    return Catalogue(models, time.time(), "network")


LITELLM = "litellm:model_cost"  # the cache key of LiteLLM's table


def litellm_models(refresh: bool = False) -> Catalogue:
    """LiteLLM's bundled model table (no network): every provider it knows, with limits and prices. Importing
    LiteLLM and reading its table takes seconds, so the rows are cached for 24 h like a provider's list."""
    cached = None if refresh else _read_litellm()
    if cached is not None and cached.age < MAX_AGE:
        return cached
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    rows = []
    for model_id, info in litellm.model_cost.items():
        if not isinstance(info, dict) or info.get("mode") not in (None, "chat"):
            continue
        provider = (info.get("litellm_provider") or "").split("-")[0]  # vertex_ai-language-models -> vertex_ai
        full = model_id if "/" in model_id or not provider else f"{provider}/{model_id}"
        price_in, price_out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        rows.append(ModelEntry(
            id=full, name=provider, context_length=_int(info.get("max_input_tokens")),
            max_output=_int(info.get("max_output_tokens")),
            price_in=price_in * 1e6 if isinstance(price_in, (int, float)) else None,
            price_out=price_out * 1e6 if isinstance(price_out, (int, float)) else None,
            tools=info.get("supports_function_calling"), reasoning=info.get("supports_reasoning"),
            vision=info.get("supports_vision")))
    rows.sort(key=lambda m: m.id)
    data = json.dumps({"fetched_at": time.time(), "rows": [asdict(m) for m in rows]}).encode("utf-8")
    try:
        paths.write_private(_cache_path(LITELLM), data)
    except (CLIError, OSError):
        pass
    return Catalogue(rows, time.time(), "litellm")


# A native preset's providers in LiteLLM's table (its `litellm_provider`, before any "-" suffix).
NATIVE = {"gemini": ("gemini",), "vertex": ("vertex_ai",), "bedrock": ("bedrock_converse", "bedrock"),
          "azure": ("azure",), "cohere": ("cohere_chat",), "mistral": ("mistral",)}


def native(provider: str, prefix: str, refresh: bool = False) -> Catalogue | None:
    """A native preset's models from LiteLLM's table, under the ids the preset sends (`bedrock/converse/…`),
    so thinking, vision and the output cap are known for them."""
    if provider not in NATIVE:
        return None
    table = litellm_models(refresh)
    rows: dict[str, ModelEntry] = {}
    for m in table.models:
        if m.name in NATIVE[provider]:
            bare = m.id.split("/", 1)[1] if m.id.startswith(m.name + "/") else m.id
            rows.setdefault(prefix + bare, replace(m, id=prefix + bare, name=provider))
    return Catalogue(sorted(rows.values(), key=lambda m: m.id), table.fetched_at, table.source)


def _read_litellm() -> Catalogue | None:
    try:
        raw, _ = paths.read_private(_cache_path(LITELLM))
        data = json.loads(raw)
        rows = [ModelEntry(**row) for row in data["rows"]]
        return Catalogue(rows, float(data["fetched_at"]), "cache")
    except (CLIError, OSError, ValueError, KeyError, TypeError):
        return None


def _unreachable(exc: Exception) -> bool:
    import httpx

    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


def load(base_url: str, api_key: str | None = None, refresh: bool = False, timeout: float | httpx.Timeout = 10.0,
         allow_network: bool = True, kind: str = "openai") -> tuple[Catalogue | None, str | None]:
    """The catalogue (fresh cache, else network, else a stale cache) and a warning if something failed."""
    cached = read_cache(base_url)
    if cached and not refresh and cached.age < MAX_AGE:
        return cached, None
    if not allow_network:
        return cached, None
    try:
        return fetch(base_url, api_key, timeout, kind), None
    except Exception as exc:  # offline, DNS, HTTP error, bad JSON: fall back to the cache
        # One line (httpx adds a "For more information" line), no URL password (httpx quotes the URL whole).
        reason = safe_text(" ".join(f"{type(exc).__name__}: {exc}".split()))[:200]
        if _unreachable(exc):
            from orbridge.proxy.reachability import Reachability

            reason = Reachability(base_url).describe(reason)
        if cached:
            return cached, f"could not refresh the model list ({reason}); using the cache from " \
                           f"{cached.age / 3600:.1f} h ago"
        return None, f"could not fetch the model list ({reason})"
