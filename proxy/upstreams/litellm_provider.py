"""Any LiteLLM provider (`gemini/…`, `vertex_ai/…`, `bedrock/…`, `azure/…`, …) fed the same OpenAI-format
request our translator builds, through `litellm.acompletion`.

LiteLLM costs 2.2 s and ~190 MiB to import, so it is imported only when a profile uses this transport, in a
background thread started with the proxy, with the bundled cost map (no network at import) and its debug
banner off. Its own retries are off: Claude Code retries, and 4xx must not be retried at all.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import AsyncIterator

import anyio

from ..errors import StreamFailed, UpstreamEOF, UpstreamError, from_upstream
from ..settings import Upstream
from . import litellm_fixes

# Fields of our OpenAI body that are OpenRouter-only; LiteLLM providers would reject or misread them.
_OPENROUTER_ONLY = ("usage", "reasoning", "top_k")

_lock = threading.Lock()
_module = None


def _load():
    global _module
    with _lock:
        if _module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            litellm_fixes.apply(litellm)
            _module = litellm
    return _module


def preload() -> threading.Thread:
    thread = threading.Thread(target=_load, name="orbridge-litellm-import", daemon=True)
    thread.start()
    return thread


_MISSING_KEY = re.compile(r"missing .{0,40}(?:api[_ ]?key|credential)|no api key|api[_ ]key (?:is )?(?:not set|"
                          r"required|missing)|set the `?\w+_(?:API_KEY|TOKEN)`?.{0,60}environment variable"
                          r"|unable to locate credentials|nocredentialserror|default credentials were not found"
                          r"|defaultcredentialserror|could not resolve project_id", re.I)
_UNREACHABLE = re.compile(r"connection error|cannot connect to host|connect call failed|connection refused"
                          r"|name or service not known|temporary failure in name resolution|nodename nor servname",
                          re.I)
_PREFIX = re.compile(r"^(?:litellm\.)?\w*(?:Error|Exception)\s*(?:-\s*|:\s*)")
_NOISE = re.compile(r"give feedback|get help|litellm\.info|_turn_on_debug|github\.com/berriai|litellm retried", re.I)


def clean_message(text: str) -> str:
    """LiteLLM's wording without its traceback, class-name prefixes, debug hints or "file a bug" links."""
    text = text.split("\nTraceback (most recent call last)")[0].split("Traceback (most recent call last)")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip() and not _NOISE.search(line)]
    message = " ".join(lines)
    for _ in range(3):
        message = _PREFIX.sub("", message).strip()
    return message[:1000] or "the provider failed without a message"


def missing_credentials(model: str) -> list[str]:
    """The provider variables LiteLLM needs for `model` that are not set (imports LiteLLM: doctor only)."""
    try:
        report = _load().validate_environment(model)
    except Exception:  # noqa: BLE001 - an unknown provider: nothing to say
        return []
    return list(report.get("missing_keys") or []) if not report.get("keys_in_environment") else []


def _error(exc: Exception, provider: str, model: str = "") -> UpstreamError:
    status = getattr(exc, "status_code", None)
    raw = str(exc)
    text = litellm_fixes.provider_message(clean_message(raw))
    if not isinstance(status, int) or not 400 <= status < 600:
        status = 0 if "Connection" in type(exc).__name__ else 502
    install = litellm_fixes.missing_extra(raw)
    if install:  # final: asking again cannot help
        return UpstreamError(400, f"{provider} needs a package orbridge installs only on request: {install}", {},
                             provider)
    if _MISSING_KEY.search(raw):
        # LiteLLM reports a missing key as a 500: it is final, and nothing was sent.
        missing = missing_credentials(model) if model else []
        named = f" (not set: {', '.join(missing)})" if missing else ""
        return UpstreamError(401, f"no credentials for {model or provider}{named}: {text}", {}, provider,
                             missing_credentials=True)
    if status >= 500 and _UNREACHABLE.search(raw):
        status = 0  # nothing answered: the same treatment as on the OpenAI-compatible path
    elif litellm_fixes.rejected_key(status, raw):
        status = 401
    retry_after = litellm_fixes.retry_after(exc, raw) if status in (429, 503, 529) else None
    return UpstreamError(status, text, {"retry-after": retry_after} if retry_after else {}, provider)


def with_cost(data: dict, model: str) -> dict:
    """Add LiteLLM's own price for the usage in a chunk or completion, where it knows the model."""
    usage = data.get("usage")
    if not isinstance(usage, dict) or usage.get("cost") is not None or _module is None:
        return data
    try:
        prompt, completion = _module.cost_per_token(model=model, prompt_tokens=usage.get("prompt_tokens") or 0,
                                                    completion_tokens=usage.get("completion_tokens") or 0)
    except Exception:  # noqa: BLE001 - an unpriced model simply has no cost
        return data
    if prompt or completion:
        usage["cost"] = prompt + completion
    return data


class LiteLLMStream:
    def __init__(self, response, provider: str, model: str = "", key_fix: str = "", first=None) -> None:
        self._response = response
        self._first = first  # the chunk open_stream read to see the provider's answer begin
        self._key_fix = key_fix
        self._provider = provider
        self._model = model
        self.done = False

    def unparsed_text(self) -> str:
        return ""  # LiteLLM parses the provider's answer itself: nothing unparsed reaches us

    async def __aiter__(self) -> AsyncIterator[dict]:
        try:
            if self._first is not None:
                yield _chunk(self._first, self._model)
            async for chunk in self._response:
                yield _chunk(chunk, self._model)
        except Exception as exc:  # noqa: BLE001 - every LiteLLM failure becomes an Anthropic error event
            err = _error(exc, self._provider, self._model)
            if err.status == 0:
                raise UpstreamEOF(err.body) from exc
            raise StreamFailed(from_upstream(err, self._key_fix, self._model)) from exc
        self.done = True

    async def aclose(self) -> None:
        close = getattr(self._response, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass


def _chunk(chunk, model: str) -> dict:
    data = litellm_fixes.answer(chunk.model_dump(exclude_none=True) if hasattr(chunk, "model_dump") else dict(chunk))
    return with_cost(data, model) if "usage" in data else data


class LiteLLMTransport:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._import = preload()

    def _own_model(self, model: str) -> str:
        """The model with this profile's family prefix; a model of another provider is refused (a 404 before
        anything is sent): the profile's key and credentials are for its own provider only."""
        prefix = self.upstream.model_prefix
        if not prefix:
            return model
        if "/" not in model:
            return prefix + model
        family = prefix.split("/", 1)[0] + "/"
        if model.startswith(family):
            return model
        raise UpstreamError(404, f"model {model} is not a {self.upstream.provider} model: this profile sends "
                                 f"requests to {self.upstream.provider} only (ids starting {family})", {},
                            self.upstream.provider)

    def _kwargs(self, body: dict) -> dict:
        """LiteLLM's arguments; UpstreamError (nothing sent) for another provider's model or a missing key."""
        if self.upstream.needs_key and not self.upstream.api_key:
            where = self.upstream.base_url or f"{self.upstream.provider}'s API"
            raise UpstreamError(401, f"no API key to send to {where}", {}, self.upstream.provider,
                                missing_credentials=True)
        body = {**body, "model": self._own_model(body["model"])}
        kw = {k: v for k, v in litellm_fixes.request(body, self.upstream.provider).items() if k not in _OPENROUTER_ONLY}
        kw.update(litellm_fixes.endpoint_kwargs(self.upstream.provider, self.upstream.base_url))
        if self.upstream.api_key:
            kw["api_key"] = self.upstream.api_key
        if self.upstream.headers:
            kw["extra_headers"] = dict(self.upstream.headers)
        kw.update(timeout=self.upstream.timeout, num_retries=0, max_retries=0, drop_params=True)
        return kw

    async def _litellm(self):
        if _module is None:
            await anyio.to_thread.run_sync(_load)
        return _module

    async def open_stream(self, body: dict) -> LiteLLMStream:
        litellm = await self._litellm()
        litellm_fixes.ours.set(True)  # this task's LiteLLM calls get the fixes (litellm_fixes.apply)
        kw = self._kwargs(body)
        try:
            response = await litellm.acompletion(**kw)
        except Exception as exc:  # noqa: BLE001 - mapped by status code, as LiteLLM's classes are unreliable
            raise _error(exc, self.upstream.provider, body["model"]) from exc
        try:
            # LiteLLM sends some providers' requests (Gemini, Vertex) only when the stream is first read: read a
            # chunk, so that their HTTP errors are the request's (learned from, fallen back on) as elsewhere.
            first = await anext(aiter(response), None)
        except BaseException as exc:
            await LiteLLMStream(response, self.upstream.provider).aclose()
            if isinstance(exc, Exception):
                raise _error(exc, self.upstream.provider, body["model"]) from exc
            raise
        return LiteLLMStream(response, self.upstream.provider, body["model"], self.upstream.key_fix, first)

    async def complete(self, body: dict) -> dict:
        litellm = await self._litellm()
        litellm_fixes.ours.set(True)
        kw = self._kwargs(body)
        try:
            response = await litellm.acompletion(**kw)
        except Exception as exc:  # noqa: BLE001
            raise _error(exc, self.upstream.provider, body["model"]) from exc
        return with_cost(litellm_fixes.answer(response.model_dump(exclude_none=True)), body["model"])

    async def aclose(self) -> None:
        pass
