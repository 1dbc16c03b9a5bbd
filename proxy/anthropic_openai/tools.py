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


# Gemini accepts an OpenAPI 3.0 subset of JSON Schema and rejects the rest with a 400
# ("Unknown name additionalProperties", "$schema", "propertyNames", "exclusiveMinimum", "const", ...).
_GEMINI_KEYS = {"type", "format", "description", "nullable", "enum", "properties", "required", "items",
                "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern", "anyOf",
                "minProperties", "maxProperties", "title", "default", "propertyOrdering"}
_GEMINI_STRING_FORMATS = {"enum", "date-time"}


def gemini_schema(schema: object) -> dict:
    """A JSON Schema reduced to what Gemini accepts, keeping its meaning where a keyword has an equivalent."""
    if not isinstance(schema, dict):
        return {}
    s = dict(schema)
    if "const" in s and "enum" not in s:
        s["enum"] = [s["const"]]
    if "oneOf" in s and "anyOf" not in s:
        s["anyOf"] = s["oneOf"]
    if "exclusiveMinimum" in s and "minimum" not in s and isinstance(s["exclusiveMinimum"], (int, float)):
        s["minimum"] = s["exclusiveMinimum"]
    if "exclusiveMaximum" in s and "maximum" not in s and isinstance(s["exclusiveMaximum"], (int, float)):
        s["maximum"] = s["exclusiveMaximum"]
    kind = s.get("type")
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        s["type"] = others[0] if others else "string"
        if "null" in kind:
            s["nullable"] = True
    out = {k: v for k, v in s.items() if k in _GEMINI_KEYS}
    if out.get("type") == "string" and "format" in out and out["format"] not in _GEMINI_STRING_FORMATS:
        del out["format"]
    if isinstance(out.get("enum"), list):
        out["enum"] = [str(v) for v in out["enum"] if v is not None]
        out.setdefault("type", "string")
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: gemini_schema(v) for k, v in out["properties"].items()}
        if isinstance(out.get("required"), list):
            out["required"] = [r for r in out["required"] if r in out["properties"]]
    else:
        out.pop("required", None)
    if "items" in out:
        out["items"] = gemini_schema(out["items"])
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = [gemini_schema(v) for v in out["anyOf"]]
    return out
