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

from ..errors import UpstreamError, from_upstream, redact
from ..settings import Upstream
from .openai_compatible import StreamFailed, UpstreamEOF

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
            _module = litellm
    return _module


def preload() -> threading.Thread:
    thread = threading.Thread(target=_load, name="orbridge-litellm-import", daemon=True)
    thread.start()
    return thread


_MISSING_KEY = re.compile(r"missing credentials|no api key|api[_ ]key (?:is )?(?:not set|required|missing)"
                          r"|set the `?\w+_API_KEY`? environment variable", re.I)


def _error(exc: Exception, provider: str, secret: str | None) -> UpstreamError:
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or not 400 <= status < 600:
        status = 0 if "Connection" in type(exc).__name__ else 502
    text = redact(str(exc), secret)
    if _MISSING_KEY.search(text):
        status = 401  # LiteLLM reports a missing key as a 500; it is final, not worth ten retries
    return UpstreamError(status, text, {}, provider)


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
    def __init__(self, response, provider: str, secret: str | None, model: str = "") -> None:
        self._response = response
        self._provider = provider
        self._secret = secret
        self._model = model
        self.done = False

    async def __aiter__(self) -> AsyncIterator[dict]:
        try:
            async for chunk in self._response:
                data = chunk.model_dump(exclude_none=True) if hasattr(chunk, "model_dump") else dict(chunk)
                yield with_cost(data, self._model) if "usage" in data else data
        except Exception as exc:  # noqa: BLE001 - every LiteLLM failure becomes an Anthropic error event
            err = _error(exc, self._provider, self._secret)
            if err.status == 0:
                raise UpstreamEOF(err.body) from exc
            raise StreamFailed(from_upstream(err)) from exc
        self.done = True

    async def aclose(self) -> None:
        close = getattr(self._response, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass


class LiteLLMTransport:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._import = preload()

    def _kwargs(self, body: dict) -> dict:
        kw = {k: v for k, v in body.items() if k not in _OPENROUTER_ONLY}
        if self.upstream.base_url:
            kw["api_base"] = self.upstream.base_url
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
        try:
            response = await litellm.acompletion(**self._kwargs(body))
        except Exception as exc:  # noqa: BLE001 - mapped by status code, as LiteLLM's classes are unreliable
            raise _error(exc, self.upstream.provider, self.upstream.api_key) from exc
        return LiteLLMStream(response, self.upstream.provider, self.upstream.api_key, body["model"])

    async def complete(self, body: dict) -> dict:
        litellm = await self._litellm()
        try:
            response = await litellm.acompletion(**self._kwargs(body))
        except Exception as exc:  # noqa: BLE001
            raise _error(exc, self.upstream.provider, self.upstream.api_key) from exc
        return with_cost(response.model_dump(exclude_none=True), body["model"])

    async def aclose(self) -> None:
        pass
