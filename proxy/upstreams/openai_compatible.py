"""OpenAI-compatible chat completions over one pooled client (OpenRouter, OpenAI, Ollama, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .. import __version__
from ..errors import ProxyError, StreamFailed, UpstreamEOF, UpstreamError, from_stream_error
from ..json_codec import dumpb, loads
from ..openai_shapes import completion_as_chunk, merge_chunks
from ..settings import Upstream
from ..sse import SSEDecoder, SSETooLarge
from .http import COMPLETION_LIMIT, ERROR_BODY_LIMIT, BodyTooLarge, Client, ConnectionBroken, Response


class OpenAIStream:
    """Parsed chunks of one streamed completion; ends at `[DONE]` or end of body."""

    def __init__(self, response: Response, provider: str, secret: str | None = None,
                 max_total: int | None = None) -> None:
        self._response = response
        self._provider = provider
        self._secret = secret
        self._max_total = max_total  # a stream folded into one completion is bounded like a completion body
        self.done = False
        self.head = b""  # the first bytes, to quote when the body turns out not to be an SSE stream

    def unparsed_text(self) -> str:
        """What the upstream sent instead of events (an error page, plain text), for the error message."""
        lines = self.head.decode("utf-8", "replace").splitlines()
        text = " ".join(line.strip() for line in lines if line.strip() and not line.startswith(":"))
        return text[:500]

    async def __aiter__(self) -> AsyncIterator[dict]:
        decoder = SSEDecoder()
        total = 0
        try:
            async for raw in self._response.iter_bytes():
                if len(self.head) < 2048:
                    self.head += raw[: 2048 - len(self.head)]
                if self._max_total is not None:
                    total += len(raw)
                    if total > self._max_total:
                        raise BodyTooLarge("the streamed answer", self._max_total)
                for event in decoder.feed(raw):
                    chunk = self._parse(event)
                    if chunk is not None:
                        yield chunk
                    if self.done:
                        return
            for event in decoder.close():
                chunk = self._parse(event)
                if chunk is not None:
                    yield chunk
        except ConnectionBroken as exc:
            raise UpstreamEOF(str(exc)) from None
        except (SSETooLarge, BodyTooLarge) as exc:
            raise StreamFailed(ProxyError(502, "api_error", f"{self._provider}: {exc}")) from None

    def _parse(self, event) -> dict | None:
        if event.comment or not event.data:
            return None
        if event.data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            chunk = loads(event.data)
        except ValueError:
            return None  # a garbage line is skipped; a cut stream is caught by its missing finish
        if not isinstance(chunk, dict):
            return None
        if chunk.get("error") is not None or event.event == "error":
            raise StreamFailed(from_stream_error(chunk, self._provider), chunk)
        return chunk

    async def aclose(self) -> None:
        await self._response.aclose()


class _Single:
    """A stream of exactly one chunk (from a non-streamed answer)."""

    def __init__(self, chunk: dict) -> None:
        self._chunk = chunk
        self.done = True

    def unparsed_text(self) -> str:
        return ""

    async def __aiter__(self) -> AsyncIterator[dict]:
        yield self._chunk

    async def aclose(self) -> None:
        pass


class OpenAICompatible:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.url = upstream.base_url.rstrip("/") + "/chat/completions"
        self._client = Client(upstream)
        headers = {"content-type": "application/json", "user-agent": f"orbridge/{__version__}"}
        if upstream.is_openrouter:
            headers["HTTP-Referer"] = "https://github.com/orbridge/orbridge"
            headers["X-Title"] = "orbridge"
        if upstream.api_key:
            headers["authorization"] = f"Bearer {upstream.api_key}"
        headers.update(upstream.headers)
        self._headers = headers

    async def _send(self, body: dict) -> Response:
        """The upstream's answer with its body unread (every body is read with a cap), or UpstreamError."""
        content = dumpb(body)
        response = await self._client.post(self.url, content, self._headers)
        if response.status >= 400:
            try:
                text = (await response.read(ERROR_BODY_LIMIT, "its error body")).decode("utf-8", "replace")
            except ConnectionBroken:
                text = ""
            except BodyTooLarge as exc:
                raise UpstreamError(502, f"{self.upstream.provider} answered {response.status}, and {exc}", {},
                                    self.upstream.provider) from None
            finally:
                await response.aclose()
            raise UpstreamError(response.status, text, response.headers, self.upstream.provider)
        return response

    async def open_stream(self, body: dict) -> OpenAIStream | _Single:
        response = await self._send(body)
        if "json" in response.headers.get("content-type", ""):
            # The server ignored `stream`: its whole answer becomes one chunk.
            return _Single(completion_as_chunk(await self._json(response)))
        return OpenAIStream(response, self.upstream.provider, self.upstream.api_key)

    async def complete(self, body: dict) -> dict:
        response = await self._send(body)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            stream = OpenAIStream(response, self.upstream.provider, self.upstream.api_key, COMPLETION_LIMIT)
            try:
                return merge_chunks([c async for c in stream])
            except UpstreamEOF as exc:
                raise UpstreamError(502, str(exc), {}, self.upstream.provider) from exc
            finally:
                await stream.aclose()
        return await self._json(response)

    async def _json(self, response: Response) -> dict:
        raw = b""
        try:
            raw = await response.read(COMPLETION_LIMIT, "the completion body")
            data = loads(raw)
        except (ValueError, ConnectionBroken) as exc:
            text = raw[:500].decode("utf-8", "replace")
            raise UpstreamError(502, f"invalid JSON from upstream: {text}", {}, self.upstream.provider) from exc
        except BodyTooLarge as exc:
            raise UpstreamError(502, f"{self.upstream.provider}: {exc}", {}, self.upstream.provider) from None
        finally:
            await response.aclose()
        if not isinstance(data, dict):
            raise UpstreamError(502, "upstream answered with a non-object JSON body", {},
                                self.upstream.provider)
        if data.get("error") is not None and not data.get("choices"):
            raise StreamFailed(from_stream_error(data, self.upstream.provider))
        return data

    async def aclose(self) -> None:
        await self._client.aclose()
