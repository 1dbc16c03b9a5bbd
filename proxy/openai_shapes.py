"""Conversions between OpenAI's two answer shapes (a completion, stream chunks): transports use them for servers
that ignore the `stream` flag, the translator to read a completion as a stream. Pure data, no imports."""

from __future__ import annotations


def completion_as_chunk(completion: dict) -> dict:
    """A whole chat completion as one stream chunk (message -> delta, tool calls indexed)."""
    choices = []
    for choice in completion.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = dict(choice.get("message") or choice.get("delta") or {})
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            message["tool_calls"] = [{**c, "index": i} for i, c in enumerate(calls) if isinstance(c, dict)]
        choices.append({**choice, "delta": message})
    return {"choices": choices, "usage": completion.get("usage")}


def merge_chunks(chunks: list[dict]) -> dict:
    """Stream chunks folded into one chat completion (content, reasoning, tool calls by index)."""
    message: dict = {"role": "assistant", "content": ""}
    calls: dict[int, dict] = {}
    finish, usage = None, None
    for chunk in chunks:
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            for key in ("content", "reasoning", "reasoning_content"):
                if isinstance(delta.get(key), str):
                    message[key] = message.get(key, "") + delta[key]
            if isinstance(delta.get("reasoning_details"), list):
                message.setdefault("reasoning_details", []).extend(delta["reasoning_details"])
            for call in delta.get("tool_calls") or ():
                slot = calls.setdefault(call.get("index", len(calls)), {
                    "id": None, "type": "function", "function": {"name": None, "arguments": ""}})
                slot["id"] = slot["id"] or call.get("id")
                fn = call.get("function") or {}
                slot["function"]["name"] = slot["function"]["name"] or fn.get("name")
                if isinstance(fn.get("arguments"), str):
                    slot["function"]["arguments"] += fn["arguments"]
            finish = choice.get("finish_reason") or finish
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage or {}}
