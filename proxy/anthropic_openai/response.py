"""OpenAI chat completion (non-streaming) -> Anthropic message.

The completion is fed through the same state machine as a stream, then folded, so both paths give the
same blocks, ids, stop reasons and usage.
"""

from __future__ import annotations

import json

from .stream import StreamTranslator
from .tools import ToolNames


def translate_response(
    completion: dict,
    client_model: str,
    names: ToolNames,
    stop_sequences: list[str] | None = None,
    input_tokens: int = 0,
) -> dict:
    translator = StreamTranslator(client_model, names, stop_sequences, input_tokens)
    choices = []
    for choice in completion.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = dict(choice.get("message") or {})
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            message["tool_calls"] = [
                {**c, "index": i} for i, c in enumerate(calls) if isinstance(c, dict)
            ]
        choices.append({**choice, "delta": message})
    chunk = {"choices": choices, "usage": completion.get("usage")}
    events = translator.start() + translator.feed(chunk) + translator.finish()
    return fold_events(events)


def fold_events(events: list[dict]) -> dict:
    """Anthropic stream events -> the final message, the way the official SDKs accumulate them."""
    message: dict = {}
    partial: dict[int, list[str]] = {}
    for ev in events:
        kind = ev["type"]
        if kind == "message_start":
            message = {**ev["message"], "content": []}
        elif kind == "content_block_start":
            message["content"].append(dict(ev["content_block"]))
        elif kind == "content_block_delta":
            block = message["content"][ev["index"]]
            delta = ev["delta"]
            dtype = delta["type"]
            if dtype == "text_delta":
                block["text"] += delta["text"]
            elif dtype == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif dtype == "signature_delta":
                block["signature"] = delta["signature"]
            elif dtype == "input_json_delta":
                partial.setdefault(ev["index"], []).append(delta["partial_json"])
        elif kind == "content_block_stop":
            pieces = partial.pop(ev["index"], None)
            if pieces:
                try:
                    value = json.loads("".join(pieces))
                except ValueError:
                    value = {}
                message["content"][ev["index"]]["input"] = value if isinstance(value, dict) else {}
        elif kind == "message_delta":
            message["stop_reason"] = ev["delta"].get("stop_reason")
            message["stop_sequence"] = ev["delta"].get("stop_sequence")
            message["usage"] = {**message.get("usage", {}), **ev.get("usage", {})}
    return message
