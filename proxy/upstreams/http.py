"""The one place upstream HTTP happens: a pooled client, bounded reads, and failures in our own words.

aiohttp, not httpx, on the request path: its C parser and leaner request machinery cost a third of httpx's
per request and under half per streamed chunk (measured in bench/: docs/benchmarks.md), and LiteLLM already
installs it. It is imported when the first upstream client is made, in the proxy's thread, never on the
launcher's path.

An upstream is trusted with an API key, not with the proxy's memory: error bodies, whole completions and
SSE lines are read up to a cap, and past it the request fails with a 502 that names the limit. The client
keeps no cookies (a `Set-Cookie` from one answer must not be replayed on the next request), follows no
redirect and reads no proxy variables.
"""

from __future__ import annotations

import contextvars
import ssl
from collections.abc import AsyncIterator, Mapping

from ..errors import UpstreamError
from ..settings import Upstream

MB = 1024 * 1024
ERROR_BODY_LIMIT = 1 * MB  # an error page or JSON error: its wording is all we use
COMPLETION_LIMIT = 64 * MB  # a whole non-streamed answer
HEADER_LIMIT = 64 * 1024  # one response header line


class BodyTooLarge(Exception):
    """An upstream body went past its cap; the message names the limit."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} is larger than {_size(limit)} (orbridge's limit)")
        self.limit = limit


class ConnectionBroken(Exception):
    """The connection failed while a body was being read (reset, cut, timed out between reads)."""


def _size(n: int) -> str:
    return f"{n // MB} MB" if n % MB == 0 else f"{n} bytes"


class Response:
    """An upstream answer with its body unread: status, headers (lower-case names), then the body read
    within a cap or iterated as it arrives. Reads fail with ConnectionBroken or BodyTooLarge only."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.headers.items()}

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for data in self._raw.content.iter_any():
                yield data
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ConnectionBroken(_describe(exc)) from None

    async def read(self, limit: int, what: str) -> bytes:
        """The body, or BodyTooLarge as soon as more than `limit` bytes arrived (a declared length is
        checked first). The caller closes the response."""
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(what, limit)
        parts, size = [], 0
        async for part in self.iter_bytes():
            size += len(part)
            if size > limit:
                raise BodyTooLarge(what, limit)
            parts.append(part)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Free the connection: back to the pool when the body was read to its end, else closed."""
        self._raw.release() if self._raw.content.at_eof() else self._raw.close()


class Client:
    """A pooled connection to upstreams, made on first use inside the proxy's event loop."""

    def __init__(self, upstream: Upstream, max_connections: int = 512) -> None:
        self.provider = upstream.provider
        self._timeout, self._connect_timeout = upstream.timeout, upstream.connect_timeout
        self._max_connections = max_connections
        self._session = None

    def _open(self):
        import aiohttp

        return aiohttp.ClientSession(
            connector=_connector()(limit=self._max_connections, keepalive_timeout=30, ssl=_tls()),
            cookie_jar=aiohttp.DummyCookieJar(), trust_env=False, auto_decompress=True,
            # sock_connect, not connect: aiohttp's `connect` also counts the wait for a free pooled connection,
            # which is no sign that nothing listens (status 0).
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout, sock_read=self._timeout),
            max_line_size=HEADER_LIMIT, max_field_size=HEADER_LIMIT, skip_auto_headers=("user-agent",))

    async def post(self, url: str, content: bytes, headers: Mapping[str, str], timeout: float | None = None,
                   retry_stale: bool = True) -> Response:
        """POST, the body unread. A pooled keep-alive connection the upstream had already closed gets one
        fresh attempt. Failures: UpstreamError (status 0 only when nothing could be reached)."""
        return await self.request("POST", url, content, headers, timeout=timeout, retry_stale=retry_stale)

    async def request(self, method: str, url: str, content: bytes | AsyncIterator[bytes] | None,
                      headers: Mapping[str, str], params: Mapping[str, str] | None = None,
                      timeout: float | None = None, retry_stale: bool = True) -> Response:
        """Any method; `content` bytes (retried once on a stale pooled connection) or an async iterator of
        bytes sent as they come (never retried: it cannot be replayed)."""
        import aiohttp

        if self._session is None:
            self._session = self._open()
        extra = {} if timeout is None else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        retry_stale = retry_stale and not hasattr(content, "__aiter__")
        for attempt in (1, 2):
            _fresh.set(False)
            try:
                raw = await self._session.request(method, url, data=content, headers=dict(headers), params=params,
                                                  allow_redirects=False, **extra)
                return Response(raw)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # Only a pooled keep-alive connection the upstream had already closed is tried again: on a
                # fresh one the request may have reached the upstream, and a second would be billed twice.
                if attempt == 2 or not retry_stale or _fresh.get():
                    raise transport_error(exc, self.provider) from None
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                raise transport_error(exc, self.provider) from None
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


# Set when the current request's connection was made for it, not taken from the pool. A context variable:
# the connector runs inside the request's own task. (aiohttp's TraceConfig can say the same, but any trace
# config costs an awaited signal per response chunk: 0.1 ms of the time to first token in bench/.)
_fresh: contextvars.ContextVar[bool] = contextvars.ContextVar("orbridge_fresh_connection", default=False)
_connector_class = None


def _connector():
    """aiohttp's TCPConnector, noting each connection it creates (made once, when aiohttp is imported)."""
    global _connector_class
    if _connector_class is None:
        import aiohttp

        class Connector(aiohttp.TCPConnector):
            async def _create_connection(self, *args, **kwargs):
                _fresh.set(True)
                return await super()._create_connection(*args, **kwargs)

        _connector_class = Connector
    return _connector_class


def _tls() -> ssl.SSLContext:
    """certifi's roots, as httpx and the CLI use: a python.org macOS build has no system store."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def transport_error(exc: BaseException, provider: str) -> UpstreamError:
    """A client failure as an UpstreamError. Status 0 only when nothing could be reached at all (refused,
    no route, the name does not resolve, no connection within the connect timeout, not an http(s) URL):
    reachability.py may make that final. A connection that was made and then failed (read/write/protocol
    errors, a read timeout) is a retryable 502/504: something does listen there."""
    import aiohttp

    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL,
                        aiohttp.NonHttpUrlClientError, ValueError)):
        return UpstreamError(0, _describe(exc), {}, provider)
    if isinstance(exc, TimeoutError):
        return UpstreamError(504, f"timed out ({type(exc).__name__})", {}, provider)
    return UpstreamError(502, f"the connection failed ({_describe(exc)})", {}, provider)


async def answers(url: str, timeout: float) -> None:
    """GET `url` with no key, its body unread: returns when anything answered at all, else UpstreamError
    (status 0: nothing could be reached; 504: no answer within `timeout`)."""
    import aiohttp

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls()), trust_env=False,
                                         cookie_jar=aiohttp.DummyCookieJar(),
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(url, allow_redirects=False):
                pass
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise transport_error(exc, "upstream") from None
