"""A strict checker of Anthropic Messages SSE streams, applied to every stream the tests produce."""

from __future__ import annotations

import json

DELTA_FOR = {"text": {"text_delta"}, "thinking": {"thinking_delta", "signature_delta"},
             "tool_use": {"input_json_delta"}, "redacted_thinking": set()}
STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                "model_context_window_exceeded"}


class StreamError(AssertionError):
    pass


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    """Split raw SSE bytes into (event name, data) pairs; every event must have both lines."""
    text = raw.decode("utf-8")
    assert "\ufffd" not in text, "stream contains U+FFFD (a UTF-8 character was split)"
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line.startswith(":"):
                continue
            else:
                raise StreamError(f"unexpected SSE line {line!r}")
        if name is None or data is None:
            raise StreamError(f"SSE event without event: and data: lines: {block!r}")
        if data.get("type") != name:
            raise StreamError(f"event name {name!r} differs from data type {data.get('type')!r}")
        events.append((name, data))
    return events


def validate(events: list[tuple[str, dict]]) -> dict:
    """Check the grammar; return a summary {blocks, stop_reason, error, usage}."""
    if not events:
        raise StreamError("empty stream")
    names = [n for n, _ in events]
    if names[0] != "message_start":
        raise StreamError(f"first event is {names[0]}, not message_start")
    if names.count("message_start") != 1:
        raise StreamError("more than one message_start")
    msg = events[0][1]["message"]
    for key in ("id", "type", "role", "model", "content", "usage"):
        if key not in msg:
            raise StreamError(f"message_start.message lacks {key}")
    if not msg["id"].startswith("msg_") or msg["content"] != [] or msg["role"] != "assistant":
        raise StreamError(f"bad message_start: {msg}")
    open_block: dict | None = None
    blocks: list[dict] = []
    partial = ""
    summary: dict = {"blocks": blocks, "stop_reason": None, "error": None, "usage": None}
    state = "blocks"
    for name, data in events[1:]:
        if name == "ping":
            continue
        if state == "stopped":
            raise StreamError(f"{name} after message_stop")
        if name == "error":
            summary["error"] = data["error"]
            if data["error"].get("type") is None or "message" not in data["error"]:
                raise StreamError("error event without type/message")
            state = "stopped"
            continue
        if state == "delta" and name != "message_stop":
            raise StreamError(f"{name} after message_delta")
        if name == "content_block_start":
            if open_block is not None:
                raise StreamError("content_block_start while another block is open")
            if data["index"] != len(blocks):
                raise StreamError(f"block index {data['index']}, expected {len(blocks)}")
            block = dict(data["content_block"])
            if block["type"] == "tool_use":
                if block.get("input") != {}:
                    raise StreamError("tool_use block must start with input {}")
                if not block.get("id") or not block.get("name"):
                    raise StreamError("tool_use block without id or name")
            if block["type"] == "text" and block.get("text") != "":
                raise StreamError("text block must start empty")
            if block["type"] == "thinking" and ("signature" not in block or block.get("thinking") != ""):
                raise StreamError("thinking block must start empty with a signature field")
            blocks.append(block)
            open_block = block
            partial = ""
            open_block["_sig"] = False
        elif name == "content_block_delta":
            if open_block is None or data["index"] != len(blocks) - 1:
                raise StreamError("delta for a block that is not open")
            dtype = data["delta"]["type"]
            if dtype not in DELTA_FOR[open_block["type"]]:
                raise StreamError(f"{dtype} inside a {open_block['type']} block")
            if open_block["_sig"]:
                raise StreamError("delta after signature_delta")
            if dtype == "text_delta":
                open_block["text"] += data["delta"]["text"]
            elif dtype == "thinking_delta":
                open_block["thinking"] += data["delta"]["thinking"]
            elif dtype == "signature_delta":
                open_block["signature"] = data["delta"]["signature"]
                open_block["_sig"] = True
            elif dtype == "input_json_delta":
                partial += data["delta"]["partial_json"]
        elif name == "content_block_stop":
            if open_block is None or data["index"] != len(blocks) - 1:
                raise StreamError("content_block_stop for a block that is not open")
            if open_block["type"] == "thinking" and not open_block["_sig"]:
                raise StreamError("thinking block closed without a signature_delta")
            if open_block["type"] == "tool_use":
                parsed = json.loads(partial) if partial else {}
                if not isinstance(parsed, dict):
                    raise StreamError("tool input is not a JSON object")
                open_block["input"] = parsed
            del open_block["_sig"]
            open_block = None
        elif name == "message_delta":
            if open_block is not None:
                raise StreamError("message_delta while a block is open")
            reason = data["delta"].get("stop_reason")
            if reason not in STOP_REASONS:
                raise StreamError(f"invalid stop_reason {reason!r}")
            if "output_tokens" not in data.get("usage", {}):
                raise StreamError("message_delta without usage.output_tokens")
            summary["stop_reason"] = reason
            summary["stop_sequence"] = data["delta"].get("stop_sequence")
            summary["usage"] = data["usage"]
            state = "delta"
        elif name == "message_stop":
            if state != "delta":
                raise StreamError("message_stop without message_delta")
            state = "stopped"
        else:
            raise StreamError(f"unknown event {name}")
    if state != "stopped":
        raise StreamError("stream did not end with message_stop or error")
    return summary


def check(raw: bytes) -> dict:
    return validate(parse_sse(raw))
