"""Tool names and schemas made acceptable to OpenAI-style upstreams, and restored on the way back.

OpenAI-compatible APIs allow at most 64 characters from [a-zA-Z0-9_-]; Anthropic allows 128 and MCP tools
(`mcp__server__tool`) often exceed 64. Long or odd names get a deterministic alias (prefix + hash), so
the same name maps the same way on every turn and two long names with a shared prefix stay distinct.
"""

from __future__ import annotations

import hashlib
import re

_VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")

# Keywords some strict upstreams reject inside tool schemas; removing them loses no meaning for the model.
_ALWAYS_DROP = {"$schema", "$id", "$comment"}


def alias(name: str) -> str:
    """The upstream-safe name for a tool (the name itself when it is already valid)."""
    if _VALID.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    prefix = _INVALID_CHARS.sub("_", name)[:53]
    return f"{prefix}_{digest}"


class ToolNames:
    """Per-request map between the client's tool names and the aliases sent upstream."""

    __slots__ = ("_to_client",)

    def __init__(self) -> None:
        self._to_client: dict[str, str] = {}

    def outbound(self, name: str) -> str:
        short = alias(name)
        self._to_client[short] = name
        return short

    def inbound(self, name: str) -> str:
        return self._to_client.get(name, name)


def clean_schema(schema: object) -> dict:
    """A tool's input schema with keywords no chat-completions upstream needs removed."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    cleaned = {k: v for k, v in schema.items() if k not in _ALWAYS_DROP}
    if "type" not in cleaned:
        cleaned["type"] = "object"
    if cleaned.get("type") == "object" and "properties" not in cleaned:
        cleaned["properties"] = {}
    return cleaned
