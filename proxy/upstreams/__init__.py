"""Upstream transports: the I/O half of a provider. No translation happens here.

A transport takes the OpenAI-format body the translator built and either opens a stream of parsed chunks
or completes the request (`anthropic.py`, for Anthropic-format upstreams, carries the client's own body and
the upstream's bytes instead: see its docstring). Its failures are the `errors.TransportError` family, nothing
else:

- `UpstreamError` from `open_stream`/`complete`: the upstream refused (status, body, headers; status 0 when
  nothing could be reached). Nothing reached the client yet: the handler may learn, retry or fall back.
- `StreamFailed` (carrying the client's `ProxyError`): the upstream sent an error inside a 200 answer.
- `UpstreamEOF`: the connection ended before the upstream finished its answer.

`KINDS` is the table of transport kinds: a new transport is one row there. See docs/architecture.md,
"How to add a transport".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


class ChunkStream(Protocol):
    """An open upstream stream: parsed JSON chunks until the upstream finishes; aclose() frees it."""

    done: bool  # the upstream said its answer is complete (`[DONE]`, or its own end of stream)

    def __aiter__(self) -> AsyncIterator[dict]: ...

    def unparsed_text(self) -> str:
        """What the upstream sent that was not a chunk (an error page), to quote when no answer came; or ""."""
        ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def open_stream(self, body: dict) -> ChunkStream: ...

    async def complete(self, body: dict) -> dict: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Kind:
    """One way of reaching an upstream (a profile's `kind`): what the proxy and the CLI do differently for it."""

    display: str  # how doctor names the transport
    transport: str  # "module:Class" in upstreams/, imported only when used
    provider_variables: bool  # the SDK reads the provider's own variables: no key is looked up unless tied by name
    model_list: str | None  # the wire shape of GET …/models: "openai", "anthropic"; None: no endpoint list
    relays: bool = False  # Anthropic format both sides: the pass-through handler relays the upstream's bytes

    def models_request(self, base_url: str, api_key: str | None) -> tuple[str, dict[str, str]]:
        """(URL, headers) that list the endpoint's models."""
        base = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        if self.model_list != "anthropic":
            return base + "/models", headers
        headers.update({"x-api-key": api_key or "", "anthropic-version": "2023-06-01"})
        return base + ("/models" if base.endswith("/v1") else "/v1/models"), headers


KINDS: dict[str, Kind] = {
    "openai": Kind("OpenAI-compatible (aiohttp)", "openai_compatible:OpenAICompatible", False, "openai"),
    "anthropic": Kind("Anthropic pass-through", "anthropic:AnthropicTransport", False, "anthropic", relays=True),
    "litellm": Kind("LiteLLM", "litellm_provider:LiteLLMTransport", True, None),
}


def kind(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"unknown upstream kind {name!r}")
    return KINDS[name]
