"""The transport of an Anthropic-format upstream (Anthropic, OpenRouter's /api/v1/messages, DeepSeek's,
Moonshot's, MiniMax's Anthropic endpoints): POST the body, hand back the upstream's answer as it came.

Unlike the OpenAI-format transports it carries bytes, not parsed chunks: the pass-through relays them to the
client unchanged. Its failures are the same `errors.TransportError` family: `UpstreamError` for a refusal
(the error body read within its cap) or an unreachable upstream, `StreamFailed` for an answer too large to
read, `UpstreamEOF` for a connection that broke mid-answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from .. import __version__
from ..errors import ProxyError, StreamFailed, UpstreamEOF, UpstreamError, bad_request
from ..settings import Upstream
from .http import COMPLETION_LIMIT, ERROR_BODY_LIMIT, BodyTooLarge, Client, ConnectionBroken, Response

FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")  # the client's, sent on (printable ASCII only)
KEPT_HEADERS = ("content-type", "request-id")  # the upstream's, given back to the client


class Answer:
    """A successful upstream answer: its status and kept headers, then the body whole (`body`) or as the
    bytes arrive (`async for`). `aclose()` frees the connection and may be called any number of times."""

    def __init__(self, response: Response, body: bytes | None = None) -> None:
        self.status = response.status
        self.headers = {k: v for k, v in response.headers.items() if k in KEPT_HEADERS}
        self.is_event_stream = "event-stream" in response.headers.get("content-type", "")
        self.body = body
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for raw in self._response.iter_bytes():
                yield raw
        except ConnectionBroken as exc:
            raise UpstreamEOF(str(exc)) from None

    async def aclose(self) -> None:
        await self._response.aclose()


class AnthropicTransport:
    def __init__(self, upstream: Upstream) -> None:
        self.provider = upstream.provider
        base = upstream.base_url.rstrip("/")
        self.url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        self.client = Client(upstream)
        self._headers = {"content-type": "application/json", "user-agent": f"orbridge/{__version__}",
                         **upstream.headers}
        if upstream.api_key:
            self._headers["x-api-key"] = upstream.api_key
            self._headers["authorization"] = f"Bearer {upstream.api_key}"

    def headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        """Ours, plus the client's Anthropic version and beta flags; a 400 for a value that is not printable
        ASCII (it would go upstream)."""
        headers = dict(self._headers)
        for name in FORWARDED_HEADERS:
            value = client_headers.get(name)
            if value:
                if not (value.isascii() and value.isprintable()):
                    raise bad_request(f"{name} header: only printable ASCII is accepted")
                headers[name] = value
        headers.setdefault("anthropic-version", "2023-06-01")
        return headers

    async def send(self, content: bytes, headers: dict[str, str], query: str = "", stream: bool = True) -> Answer:
        """POST /v1/messages. A non-streamed answer is read whole (within its cap) before returning."""
        url = f"{self.url}?{query}" if query else self.url
        response = await self.client.post(url, content, headers)
        try:
            if response.status >= 400:
                raw = await response.read(ERROR_BODY_LIMIT, "its error body")
                raise UpstreamError(response.status, raw.decode("utf-8", "replace"), response.headers, self.provider)
            if stream:
                return Answer(response)
            return Answer(response, await response.read(COMPLETION_LIMIT, "the answer body"))
        except (BodyTooLarge, ConnectionBroken) as exc:
            raise StreamFailed(ProxyError(502, "api_error", f"{self.provider} answered {response.status}, "
                                                            f"and {exc}")) from None
        finally:
            if response.status >= 400 or not stream:
                await response.aclose()

    async def count_tokens(self, content: bytes, headers: dict[str, str]) -> bytes | None:
        """The upstream's own token count body (Anthropic has the endpoint), or None when it has none."""
        try:
            response = await self.client.post(self.url + "/count_tokens", content, headers, timeout=5.0,
                                              retry_stale=False)
            try:
                raw = await response.read(ERROR_BODY_LIMIT, "the count")
            finally:
                await response.aclose()
        except (UpstreamError, ConnectionBroken, BodyTooLarge):
            return None
        return raw if response.status == 200 else None

    async def aclose(self) -> None:
        await self.client.aclose()
