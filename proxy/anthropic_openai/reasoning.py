"""Thinking blocks minted from an OpenAI-style upstream's reasoning, and their way back upstream.

Claude Code echoes thinking blocks (with their `signature`) on the next turn. The signature we emit is an
envelope, `orbridge.v1.<base64url json>`, holding what the upstream needs to continue its reasoning: the
field it used (`reasoning` / `reasoning_content` / `reasoning_details`), its own signature, format and any
encrypted reasoning. It is never a fake Anthropic signature: pass-through upstreams drop blocks carrying it.
"""

from __future__ import annotations

import base64
import json

PREFIX = "orbridge.v1."


def make_signature(source: str, signature: str | None, fmt: str | None, encrypted: list[dict]) -> str:
    data: dict = {"src": source}
    if signature:
        data["sig"] = signature
    if fmt:
        data["fmt"] = fmt
    if encrypted:
        data["enc"] = encrypted
    raw = json.dumps(data, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_signature(signature: object) -> dict | None:
    """The envelope's content, or None when the signature is not one of ours."""
    if not isinstance(signature, str) or not signature.startswith(PREFIX):
        return None
    payload = signature[len(PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def is_ours(signature: object) -> bool:
    return isinstance(signature, str) and signature.startswith(PREFIX)


def history_fields(blocks: list[dict], openrouter: bool) -> dict:
    """Fields to add to an assistant message so the upstream sees its own earlier reasoning again, in the
    field it used: `reasoning_details` (with its signature and encrypted items, on any endpoint: gateways relay
    OpenRouter's), `reasoning_content`, or plain `reasoning` (as `reasoning_details` on OpenRouter itself)."""
    texts: dict[str, list[str]] = {}
    details: list[dict] = []
    for block in blocks:
        env = read_signature(block.get("signature")) if block.get("type") == "thinking" else None
        if block.get("type") == "redacted_thinking":
            env = read_signature(block.get("data"))
        if env is None or env.get("src") == "think_tag":
            continue  # <think> content is not sent back: chat templates drop earlier reasoning themselves
        source = env.get("src")
        if source == "reasoning" and openrouter:
            source = "reasoning_details"
        text = block.get("thinking") or ""
        if source == "reasoning_details":
            if text:
                detail = {"type": "reasoning.text", "text": text}
                if env.get("sig"):
                    detail["signature"] = env["sig"]
                if env.get("fmt"):
                    detail["format"] = env["fmt"]
                details.append(detail)
            details.extend(env.get("enc") or [])
        elif text and source in ("reasoning_content", "reasoning"):
            texts.setdefault(source, []).append(text)
    out: dict = {field: "".join(parts) for field, parts in texts.items()}
    if details:
        out["reasoning_details"] = details
    return out
