"""The (Anthropic client, Anthropic upstream) pair: what the pass-through changes, pure, no I/O.

Two changes to the body only: the model name (routing still applies), and thinking blocks that orbridge minted
from another provider's reasoning are removed, since an Anthropic-format upstream would reject their signature
("Invalid signature in thinking block"). Answers come back byte for byte; this module only reads from them
what the request log needs, and maps a refusal to the error the client sees.
"""

from __future__ import annotations

import json

from . import sse
from .anthropic_openai import reasoning
from .errors import ProxyError, UpstreamError, from_upstream


def request(body: dict, upstream_model: str) -> bytes:
    """The body to forward: the upstream's model name, and no thinking blocks of our own minting."""
    out = dict(body)
    out["model"] = upstream_model
    messages = []
    for msg in body["messages"]:
        content = msg.get("content")
        if msg.get("role") == "assistant" and isinstance(content, list):
            kept = [b for b in content if not _minted(b)]
            if len(kept) != len(content):
                msg = {**msg, "content": kept or [{"type": "text", "text": "(earlier reasoning omitted)"}]}
        messages.append(msg)
    out["messages"] = messages
    return json.dumps(out, ensure_ascii=False).encode()


def _minted(block: dict) -> bool:
    if block.get("type") == "thinking":
        return reasoning.is_ours(block.get("signature")) or not block.get("signature")
    if block.get("type") == "redacted_thinking":
        return reasoning.is_ours(block.get("data"))
    return False


def usage_of(raw: bytes) -> dict[str, int]:
    """The integer usage fields of a whole message (any shape: it is not ours)."""
    try:
        usage = json.loads(raw).get("usage", {})
        return {k: v for k, v in usage.items() if isinstance(v, int)}
    except (ValueError, AttributeError):
        return {}


def stream_facts(events: list[sse.SSEEvent], usage: dict, stop: str | None) -> str | None:
    """Fold what a batch of relayed events says into the usage (updated in place); return the stop reason."""
    for ev in events:
        if ev.event not in ("message_start", "message_delta") or not ev.data:
            continue
        try:
            data = json.loads(ev.data)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        inner = data.get("message") if ev.event == "message_start" else data
        found = inner.get("usage") if isinstance(inner, dict) else None
        if isinstance(found, dict):
            usage.update({k: v for k, v in found.items() if isinstance(v, int)})
        delta = data.get("delta")
        if ev.event == "message_delta" and isinstance(delta, dict):
            stop = delta.get("stop_reason")
    return stop


def error(exc: UpstreamError, key_fix: str | None) -> ProxyError:
    """A refusal as the client sees it: an Anthropic error body keeps its status, type and wording exactly;
    a rejected key (401/403) and anything else are mapped like any upstream's."""
    mapped = from_upstream(exc, key_fix)
    try:
        data = json.loads(exc.body)
        native = data.get("error") if data.get("type") == "error" else None
    except (ValueError, AttributeError):
        native = None
    if isinstance(native, dict) and exc.status not in (401, 403) and isinstance(native.get("type"), str):
        return ProxyError(exc.status, native["type"], str(native.get("message", "")), mapped.headers)
    return mapped
