"""OpenAI chat-completions answers, the shape Azure and Mistral both speak (each adds its own fields)."""

from __future__ import annotations

import json
from collections.abc import Callable

from .script import Text, ToolCall, Turn, split

FINISH = {"stop": "stop", "tool_calls": "tool_calls", "length": "length"}


def usage(turn: Turn) -> dict:
    prompt, output, *_ = turn.usage
    return {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}


def message(turn: Turn, make_id: Callable[[], str]) -> dict:
    text = "".join(p.text for p in turn.parts if isinstance(p, Text))
    msg: dict = {"role": "assistant", "content": text or None}
    if turn.calls:
        msg["tool_calls"] = [{"id": c.id or make_id(), "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}} for c in turn.calls]
    return msg


def deltas(turn: Turn, make_id: Callable[[], str], whole_calls: bool) -> list[dict]:
    """Stream deltas: role, text pieces, then each call (arguments in pieces unless `whole_calls`)."""
    out: list[dict] = [{"role": "assistant", "content": ""}]
    index = 0
    for part in turn.parts:
        if isinstance(part, Text):
            out += [{"content": piece} for piece in split(part.text, turn.chunks)]
        elif isinstance(part, ToolCall):
            head = {"index": index, "id": part.id or make_id(), "type": "function",
                    "function": {"name": part.name, "arguments": part.arguments if whole_calls else ""}}
            out.append({"tool_calls": [head]})
            if not whole_calls:
                out += [{"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                        for piece in split(part.arguments, turn.chunks)]
            index += 1
    return out


def sse(objects: list[dict]) -> list[bytes]:
    return [b"data: " + json.dumps(o, ensure_ascii=False).encode() + b"\n\n" for o in objects] + [b"data: [DONE]\n\n"]


def unanswered_calls(messages: list[dict]) -> tuple[list[str], list[int]]:
    """(call ids that no tool message answers, indexes of tool messages that answer no preceding call)."""
    unanswered: list[str] = []
    orphans: list[int] = []
    waiting: list[str] = []
    for i, msg in enumerate(messages):
        if msg.get("role") == "tool":
            if msg.get("tool_call_id") in waiting:
                waiting.remove(msg["tool_call_id"])
            else:
                orphans.append(i)
            continue
        unanswered += waiting
        waiting = [str(c.get("id")) for c in msg.get("tool_calls") or []] if msg.get("role") == "assistant" else []
    return unanswered + waiting, orphans
