"""Anthropic Messages request -> OpenAI Chat Completions request. Pure: no I/O, no globals.

The body has already passed `validation.validate_request`, so shapes are trusted here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..settings import ModelInfo
from . import reasoning
from .tools import ToolNames, clean_schema, gemini_schema

BILLING_PREFIX = "x-anthropic-billing-header:"
PLACEHOLDER_TOOL = "DeferredToolPlaceholder"
MAX_STOP_SEQUENCES = 4

_EFFORTS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "high",
            "max": "high"}


@dataclass(frozen=True)
class Target:
    """The upstream model and the dialect its endpoint speaks."""

    model: str
    openrouter: bool = True
    info: ModelInfo = ModelInfo()
    keep_cache_control: bool = False
    # The endpoint wants `max_completion_tokens` (OpenAI reasoning models) instead of `max_tokens`.
    max_completion_tokens: bool = False
    # Gemini models accept only an OpenAPI subset of JSON Schema in tool parameters.
    gemini: bool = False
    # Some chat templates refuse a system message after the first turn: fold them into the leading one.
    leading_system_only: bool = False
    # Optional parameters the endpoint rejected (learned at run time, see adapt.py): left out of the body.
    omit: frozenset[str] = frozenset()

    @classmethod
    def for_model(cls, model: str, openrouter: bool, info: ModelInfo | None = None) -> Target:
        lower = model.lower()
        keep = openrouter and (lower.startswith(("anthropic/", "google/gemini")) or "claude" in lower)
        bare = lower.rsplit("/", 1)[-1]
        completion = not openrouter and bare.startswith(("o1", "o3", "o4", "gpt-5"))
        return cls(model, openrouter, info or ModelInfo(), keep, completion, "gemini" in lower)


@dataclass
class Translated:
    body: dict
    tool_names: ToolNames
    stop_sequences: list[str]


# Never clamp below this for lack of context room: the upstream's own "too long" error is better than a
# uselessly short answer, and our input count is an estimate.
MIN_ROOM = 1024


def translate_request(req: dict, target: Target, stream: bool, input_tokens: int = 0) -> Translated:
    names = ToolNames()
    keep_cc = target.keep_cache_control
    loaded = _referenced_tools(req.get("messages", []))

    messages: list[dict] = []
    system = _system_message(req.get("system"), keep_cc)
    if system:
        messages.append(system)
    for msg in req["messages"]:
        messages.extend(_message(msg, names, keep_cc, target.openrouter))
    if target.leading_system_only:
        messages = _merge_system(messages)

    body: dict = {"model": target.model, "messages": messages}
    tools = _tools(req.get("tools") or [], loaded, names, target.gemini)
    if tools:
        body["tools"] = tools
        choice = _tool_choice(req.get("tool_choice"), names, {t["function"]["name"] for t in tools})
        if choice is not None:
            body["tool_choice"] = choice
        tc = req.get("tool_choice")
        if isinstance(tc, dict) and tc.get("disable_parallel_tool_use"):
            body["parallel_tool_calls"] = False
    stops = _sampling(req, target, input_tokens, body)
    _extras(req, target, stream, body)
    for key in target.omit:
        body.pop(key, None)
    return Translated(body, names, stops)


def _sampling(req: dict, target: Target, input_tokens: int, body: dict) -> list[str]:
    """Output length, stop sequences and sampling parameters into `body`; the stop sequences asked for."""
    max_tokens = req["max_tokens"]
    if target.info.max_output:
        max_tokens = min(max_tokens, target.info.max_output)
    if target.info.context_length and input_tokens:
        max_tokens = min(max_tokens, max(target.info.context_length - input_tokens, MIN_ROOM))
    body["max_completion_tokens" if target.max_completion_tokens else "max_tokens"] = max_tokens

    stops = [s for s in req.get("stop_sequences") or [] if isinstance(s, str) and s]
    if stops:
        body["stop"] = stops[:MAX_STOP_SEQUENCES]
    for key in ("temperature", "top_p"):
        if req.get(key) is not None:
            body[key] = req[key]
    if req.get("top_k") is not None and target.openrouter:
        body["top_k"] = req["top_k"]
    user_id = (req.get("metadata") or {}).get("user_id")
    if isinstance(user_id, str) and user_id:
        body["user"] = user_id[:256]
    return stops


def _extras(req: dict, target: Target, stream: bool, body: dict) -> None:
    """Reasoning, web search, structured output and the streaming and usage options into `body`."""
    body.update(_reasoning(req, target))
    search = next((t for t in req.get("tools") or [] if str(t.get("type", "")).startswith("web_search")), None)
    if search is not None and target.openrouter:
        # Anthropic's server-side web search has an OpenRouter equivalent: the web plugin. Elsewhere the
        # tool is simply dropped (see _tools) and the request proceeds without it.
        body["plugins"] = [{"id": "web", "max_results": min(int(search.get("max_uses") or 5), 10)}]
    fmt = (req.get("output_config") or {}).get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": fmt.get("name") or "output", "schema": fmt["schema"]},
        }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if target.openrouter:
        body["usage"] = {"include": True}


def _merge_system(messages: list[dict]) -> list[dict]:
    """Every system message folded into one at the start (for templates that allow no other)."""
    texts, rest = [], []
    for msg in messages:
        if msg["role"] != "system":
            rest.append(msg)
        elif isinstance(msg["content"], str):
            texts.append(msg["content"])
        else:
            texts.append("\n\n".join(p.get("text", "") for p in msg["content"]))
    return ([{"role": "system", "content": "\n\n".join(texts)}] if texts else []) + rest


def _text_part(block: dict, keep_cc: bool) -> dict:
    part = {"type": "text", "text": block.get("text", "")}
    if keep_cc and block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _system_message(system: object, keep_cc: bool) -> dict | None:
    if isinstance(system, str):
        return {"role": "system", "content": system} if system else None
    if not system:
        return None
    blocks = [b for b in system if not b.get("text", "").startswith(BILLING_PREFIX)]
    if not blocks:
        return None
    if keep_cc and any(b.get("cache_control") for b in blocks):
        return {"role": "system", "content": [_text_part(b, True) for b in blocks]}
    return {"role": "system", "content": "\n\n".join(b.get("text", "") for b in blocks)}


def _referenced_tools(messages: list[dict]) -> set[str]:
    """Deferred tools the conversation has loaded through `tool_reference` blocks (tool search)."""
    found: set[str] = set()
    for msg in messages:
        content = msg.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for inner in block["content"]:
                    if inner.get("type") == "tool_reference" and inner.get("tool_name"):
                        found.add(inner["tool_name"])
            elif block.get("type") == "tool_reference" and block.get("tool_name"):
                found.add(block["tool_name"])
    return found


def _tools(tools: list[dict], loaded: set[str], names: ToolNames, gemini: bool = False) -> list[dict]:
    out = []
    for tool in tools:
        name = tool.get("name")
        if not name or name == PLACEHOLDER_TOOL:
            continue
        kind = tool.get("type")
        if kind not in (None, "custom"):
            continue  # server tools (web_search_*, bash_*, ...) run on Anthropic's side only
        if tool.get("defer_loading") and name not in loaded:
            continue
        schema = clean_schema(tool.get("input_schema"))
        fn: dict = {"name": names.outbound(name), "parameters": gemini_schema(schema) if gemini else schema}
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: object, names: ToolNames, declared: set[str]) -> object:
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool":
        alias = names.outbound(choice.get("name", ""))
        if alias in declared:
            return {"type": "function", "function": {"name": alias}}
    return None


def _reasoning(req: dict, target: Target) -> dict:
    thinking = req.get("thinking") or {}
    kind = thinking.get("type")
    effort = (req.get("output_config") or {}).get("effort")
    effort = _EFFORTS.get(effort) if isinstance(effort, str) else None
    if kind not in ("enabled", "adaptive"):
        return {}
    budget = thinking.get("budget_tokens") if kind == "enabled" else None
    if target.openrouter:
        if budget:
            return {"reasoning": {"max_tokens": int(budget)}}
        return {"reasoning": {"effort": effort} if effort else {"enabled": True}}
    # Plain OpenAI-compatible endpoints reject `reasoning_effort` on models that do not reason, and
    # Claude Code sends adaptive thinking to every model: only send it where the model is known to reason
    # or the client asked for a budget explicitly.
    if target.info.reasoning is False:
        return {}
    if budget and (target.info.reasoning or kind == "enabled"):
        return {"reasoning_effort": "low" if budget < 4096 else "medium" if budget < 16384 else "high"}
    if effort and target.info.reasoning:
        return {"reasoning_effort": effort}
    return {}


def _image_url(source: dict) -> str | None:
    kind = source.get("type")
    if kind == "base64":
        return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    if kind == "url":
        return source.get("url")
    return None


def _user_parts(block: dict, keep_cc: bool) -> list[dict]:
    """A user-side content block as OpenAI content parts (text, image_url, file)."""
    kind = block.get("type")
    if kind == "text":
        return [_text_part(block, keep_cc)]
    if kind == "image":
        url = _image_url(block.get("source") or {})
        return [{"type": "image_url", "image_url": {"url": url}}] if url else []
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return [{"type": "text", "text": source.get("data", "")}]
        if source.get("type") == "content" and isinstance(source.get("content"), list):
            return [p for b in source["content"] for p in _user_parts(b, keep_cc)]
        url = _image_url(source)
        if url:
            name = block.get("title") or "document.pdf"
            return [{"type": "file", "file": {"filename": name, "file_data": url}}]
        return []
    if kind == "tool_reference":
        return [{"type": "text", "text": f"Tool {block.get('tool_name')} is now available."}]
    if kind == "search_result":
        inner = "\n".join(str(b.get("text", "")) for b in block.get("content") or [] if isinstance(b, dict))
        return [{"type": "text", "text": f"{block.get('title', '')} ({block.get('source', '')})\n{inner}"}]
    return []


def _tool_message(block: dict, keep_cc: bool) -> tuple[dict, list[dict]]:
    """A tool_result as a `tool` message, plus image parts that must travel in a user message."""
    content = block.get("content")
    texts: list[str] = []
    media: list[dict] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for inner in content:
            for part in _user_parts(inner, False):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    media.append(part)
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    if media and not text:
        text = "(see the attached image)" if len(media) == 1 else f"(see the {len(media)} attached images)"
    return {"role": "tool", "tool_call_id": block.get("tool_use_id", ""), "content": text}, media


def _message(msg: dict, names: ToolNames, keep_cc: bool, openrouter: bool) -> list[dict]:
    role = msg["role"]
    content = msg["content"]
    if role == "system":
        if isinstance(content, str):
            return [{"role": "system", "content": content}] if content else []
        text = "\n\n".join(b.get("text", "") for b in content if b.get("type") == "text")
        return [{"role": "system", "content": text}] if text else []
    if role == "assistant":
        return [_assistant(content, names, openrouter)]
    if isinstance(content, str):
        return [{"role": "user", "content": content}]

    out: list[dict] = []
    parts: list[dict] = []
    late_media: list[dict] = []
    for block in content:
        if block.get("type") == "tool_result":
            tool_msg, media = _tool_message(block, keep_cc)
            out.append(tool_msg)
            late_media.extend(media)
        else:
            parts.extend(_user_parts(block, keep_cc))
    parts = late_media + parts
    if parts:
        if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
            out.append({"role": "user", "content": parts[0]["text"]})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _assistant(content: object, names: ToolNames, openrouter: bool) -> dict:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind in ("tool_use", "server_tool_use"):
            calls.append({
                "id": block.get("id", ""),
                "type": "function",
                "function": {
                    "name": names.outbound(block.get("name", "")),
                    "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
                },
            })
    msg: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        msg["tool_calls"] = calls
    msg.update(reasoning.history_fields(content, openrouter))
    return msg
