"""OpenAI chat completion (non-streaming) -> Anthropic message.

The completion is fed through the same state machine as a stream, then folded, so both paths give the
same blocks, ids, stop reasons and usage.
"""

from __future__ import annotations

import json

from ..openai_shapes import completion_as_chunk
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
    events = translator.start() + translator.feed(completion_as_chunk(completion)) + translator.finish()
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
