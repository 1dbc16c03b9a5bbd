"""The one place upstream httpx clients are made, and bounded reads of what upstreams send back.

An upstream is trusted with an API key, not with the proxy's memory: error bodies, whole completions and
SSE lines are read up to a cap, and past it the request fails with a 502 that names the limit. The
clients keep no cookies: a `Set-Cookie` from one answer must not be replayed on the next request.
"""

from __future__ import annotations

from http.cookiejar import CookieJar

import httpx

from ..errors import UpstreamError
from ..settings import Upstream

MB = 1024 * 1024
ERROR_BODY_LIMIT = 1 * MB  # an error page or JSON error: its wording is all we use
COMPLETION_LIMIT = 64 * MB  # a whole non-streamed answer


class BodyTooLarge(Exception):
    """An upstream body went past its cap; the message names the limit."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} is larger than {_size(limit)} (orbridge's limit)")
        self.limit = limit


def _size(n: int) -> str:
    return f"{n // MB} MB" if n % MB == 0 else f"{n} bytes"


class _NoCookies(CookieJar):
    """A cookie jar that stores nothing."""

    def extract_cookies(self, response, request) -> None:  # noqa: D102 - httpx calls this on every answer
        pass

    def set_cookie(self, cookie) -> None:
        pass


def make_client(upstream: Upstream, max_connections: int = 512, max_keepalive: int = 64) -> httpx.AsyncClient:
    """Timeouts from the profile, pooled connections, no proxy variables, no redirects, no cookies."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(upstream.timeout, connect=upstream.connect_timeout),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive),
        trust_env=False,
        follow_redirects=False,
        cookies=_NoCookies(),
    )


def transport_error(exc: httpx.HTTPError, provider: str) -> UpstreamError:
    """An httpx failure as an UpstreamError. Status 0 only when nothing could be reached at all (refused,
    no route, the name does not resolve, no connection within the connect timeout): reachability.py may make
    that final. A connection that was made and then failed (read/write/protocol errors, a read timeout) is a
    retryable 502/504: something does listen there."""
    name = type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)):
        return UpstreamError(0, f"{name}: {exc}", {}, provider)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(504, f"timed out ({name})", {}, provider)
    return UpstreamError(502, f"the connection failed ({name}: {exc})", {}, provider)


async def read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    """The body, or BodyTooLarge as soon as more than `limit` bytes arrived (a declared length is checked
    first). The caller closes the response."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(what, limit)
    parts, size = [], 0
    async for part in response.aiter_bytes():
        size += len(part)
        if size > limit:
            raise BodyTooLarge(what, limit)
        parts.append(part)
    return b"".join(parts)
