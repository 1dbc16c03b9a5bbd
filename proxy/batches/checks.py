"""Each request of a batch checked as Anthropic checks it: a 400 names `requests[i].<field>`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from ..errors import ProxyError, bad_request
from ..validation import validate_request

MAX_REQUESTS = 100_000
CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def checked(items: Iterator[object]) -> Iterator[tuple[str, str]]:
    """(custom_id, params JSON) for each request, or a 400 naming `requests[i].<field>` as Anthropic does."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"requests[{i}]"
        if i >= MAX_REQUESTS:
            raise bad_request(f"requests: at most {MAX_REQUESTS:,} requests in a batch")
        if not isinstance(item, dict):
            raise bad_request(f"{where}: expected an object")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
            raise bad_request(f"{where}.custom_id: expected 1 to 64 characters of letters, digits, '_' and '-'")
        if custom_id in seen:
            raise bad_request(f"{where}.custom_id: {custom_id!r} is used twice; each must be unique in the batch")
        seen.add(custom_id)
        params = item.get("params")
        if not isinstance(params, dict):
            raise bad_request(f"{where}.params: " + ("field required" if params is None else "expected an object"))
        if params.get("stream"):
            raise bad_request(f"{where}.params.stream: streaming is not supported in a batch")
        try:
            validate_request(params)
        except ProxyError as exc:
            raise bad_request(f"{where}.params.{exc.message}") from None
        except RecursionError:
            raise bad_request(f"{where}.params: nested too deeply") from None
        yield custom_id, json.dumps(params, ensure_ascii=False, separators=(",", ":"))
    if not seen:
        raise bad_request("requests: at least one request is required")
