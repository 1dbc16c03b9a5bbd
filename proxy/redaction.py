"""One redactor for every text that leaves the process: client error bodies and SSE error events, the request
log, proxy.log, doctor and CLI output.

It runs on decoded text, where a secret is plain, and also on raw upstream text, where an upstream may have
JSON-escaped it (`\\/`, `\\u0073`): each secret becomes a pattern matching any mix of those spellings. URL
userinfo (`https://user:pass@host`) is removed wherever a URL appears.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MIN_SECRET = 8  # shorter strings are not worth masking (and would mask ordinary words)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"'<>]*@")


def _spellings(char: str) -> str:
    """A pattern for one character: itself, or its JSON escapes."""
    code = f"{ord(char):04x}"
    hex_any = "".join(f"[{h.lower()}{h.upper()}]" if h.isalpha() else h for h in code)
    options = [re.escape(char), r"\\u" + hex_any]
    if char == "/":
        options.append(r"\\/")
    return "(?:" + "|".join(options) + ")"


def mask(secret: str) -> str:
    """How a secret is shown everywhere (CLI and proxy): enough to tell two keys apart, never enough to use."""
    if len(secret) > 12:
        return f"{secret[:4]}…{secret[-4:]}"
    return secret[:2] + "…" if len(secret) > 4 else "…"


class Redactor:
    """Masks the given secrets (keys, the per-run token, URL passwords) in any text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        kept = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        self._secrets = kept
        self._pattern = re.compile("|".join("".join(_spellings(c) for c in s) for s in kept)) if kept else None
        self._masks = {s: mask(s) for s in kept}

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if "@" in text:
            text = _USERINFO.sub(r"\1", text)
        if self._pattern is None:
            return text
        # Fast path: most texts quote nothing; the pattern search is the slow part.
        if not any(s[:MIN_SECRET] in text for s in self._secrets) and "\\" not in text:
            return text
        return self._pattern.sub(lambda m: self._mask_of(m.group(0)), text)

    def _mask_of(self, found: str) -> str:
        plain = found if found in self._masks else _unescape(found)
        return self._masks.get(plain, "…")


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text).replace("\\/", "/")


def safe_text(text: str) -> str:
    """Any text with the userinfo of every URL in it removed."""
    return _USERINFO.sub(r"\1", text) if "@" in text else text


def safe_url(url: str | None) -> str:
    """A URL fit to show: no user, no password."""
    if not url:
        return url or ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\1", url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def url_secrets(url: str | None) -> list[str]:
    """The password (and user) a URL carries, as secrets to mask wherever they appear on their own."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    return [s for s in (parts.password, parts.username) if s]


_SECRET_HEADER = re.compile(r"authorization|key|token|secret|password|cookie", re.I)


def for_upstream(api_key: str | None, base_url: str | None, headers: dict[str, str], token: str | None = None,
                 extra: Iterable[str | None] = ()) -> Redactor:
    """The redactor for one proxy: its key, its client token, its URL's password, secret-looking headers."""
    header_secrets = []
    for name, value in headers.items():
        if _SECRET_HEADER.search(name) and value:
            header_secrets += [value, value.split(" ", 1)[-1]]  # "Bearer X": X alone too
    return Redactor([api_key, token, *url_secrets(base_url), *header_secrets, *extra])


def for_settings(settings) -> Redactor:
    """The proxy's redactor: its key and every other key it knows of, its token, its URL's password."""
    up = settings.upstream
    return for_upstream(up.api_key, up.base_url, up.headers, settings.token, settings.extra_secrets)


class RedactingFilter(logging.Filter):
    """A handler filter: the message and any traceback are redacted before they are written."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True
