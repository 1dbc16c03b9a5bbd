"""Has the upstream answered at all in this run? It decides how a connection failure is reported.

Before the upstream has ever answered, a connection failure is a configuration problem (nothing listens at
the URL, the host does not resolve): retrying cannot fix it, and Claude Code would retry a 5xx for minutes in
silence. So it is final (`x-should-retry: false`) and names the URL and the next step. Once the upstream has
answered, the same failure is a blip, and Claude Code's retries are right for it.

A cheap check runs in the background when the proxy starts (a GET with a short timeout, no key sent), so a
dead upstream is known, and logged, before Claude Code's first request, and a live one is marked answered.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from .errors import ProxyError, UpstreamError, final
from .listen import is_loopback
from .redaction import safe_url
from .upstreams.http import answers

log = logging.getLogger("orbridge.proxy")
_DNS = re.compile(r"name or service not known|nodename nor servname|temporary failure in name resolution"
                  r"|getaddrinfo|no address associated|name resolution", re.I)


class Reachability:
    def __init__(self, base_url: str) -> None:
        self.url = safe_url(base_url)
        self.answered = False
        self.failure: str | None = None

    def saw_answer(self) -> None:
        self.answered = True
        self.failure = None

    def describe(self, detail: str, who: str = "") -> str:
        """Why nothing could be reached, in the words a user can act on. `who` names the upstream when
        there is no URL (LiteLLM's providers pick their own endpoint)."""
        if not self.url:
            return (f"cannot reach {who or 'the upstream'} ({detail}) — check your network; "
                    "`orbridge doctor` checks the setup")
        host = urlsplit(self.url).hostname or ""
        if _DNS.search(detail):
            return (f"cannot resolve the host of {self.url} ({detail}) — check the URL or your network; "
                    "`orbridge doctor` checks the setup")
        if is_loopback(host):
            return f"nothing answers at {self.url} — is the server running? `orbridge doctor` checks the setup"
        return (f"cannot connect to {self.url} ({detail}) — check the URL or your network; "
                "`orbridge doctor` checks the setup")

    def error(self, err: UpstreamError) -> ProxyError:
        """The client's error for an upstream that could not be reached (UpstreamError status 0)."""
        message = self.describe(err.body, err.provider)
        if self.answered:
            return ProxyError(502, "api_error", message)
        self.failure = message
        return final(502, "api_error", message)

    async def check(self, timeout: float = 3.0) -> None:
        """The launch-time check: connect and ask for a page; any HTTP answer counts, no key is sent."""
        if not self.url or self.answered:
            return
        try:
            await answers(self.url.rstrip("/") + "/models", timeout)  # the status is enough, the body unread
        except UpstreamError as exc:
            if exc.status == 504:
                log.warning("upstream check: %s did not answer within %.0f s", self.url, timeout)
                return
            self.failure = self.describe(exc.body)
            log.warning("upstream check: %s", self.failure)
            return
        except Exception:  # noqa: BLE001 - a malformed URL must not stop the proxy; requests will say why
            log.warning("upstream check of %s failed", self.url, exc_info=True)
            return
        self.saw_answer()
