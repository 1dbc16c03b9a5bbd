"""Cohere's v2 chat (`POST /v2/chat`, bearer key): stream events in SSE framing with `event:` lines
(message-start, content-start/delta/end, tool-plan-delta, tool-call-start/delta/end, message-end with
billed_units and tokens). Text before a tool call is a tool plan, as the real API returns it."""

from __future__ import annotations

import json
import re
import string
import uuid

from .script import Fail, Text, Thinking, ToolCall, Turn, split, token
from .server import Received, Reply, WireFake, json_reply

TOP_KEYS = {"model", "messages", "tools", "documents", "citation_options", "response_format", "safety_mode",
            "max_tokens", "stop_sequences", "temperature", "seed", "frequency_penalty", "presence_penalty", "k",
            "p", "logprobs", "tool_choice", "strict_tools", "thinking", "stream", "priority"}
ROLES = {"system", "user", "assistant", "tool"}
MAX_OUTPUT = 8000  # command-a-03-2025
FINISH = {"stop": "COMPLETE", "tool_calls": "TOOL_CALL", "length": "MAX_TOKENS"}


def cohere_error(status: int, message: str, headers: dict | None = None) -> Reply:
    return json_reply(status, {"id": str(uuid.uuid4()), "message": message}, headers)


def fail_reply(fail: Fail, message: str | None = None) -> Reply:
    return {
        "auth": lambda: cohere_error(401, "invalid api token"),
        "rate_limit": lambda: cohere_error(429, "You are past the per minute request limit, please wait and try "
                                                "again later."),  # no retry hint known: Fail.retry_after unused
        "server": lambda: cohere_error(500, "internal server error, this has been reported to our developers. "
                                            "id " + str(uuid.uuid4())),
        "context": lambda: cohere_error(400, "too many tokens: size limit exceeded by 73000 tokens. Try using "
                                             "shorter or fewer inputs."),
        "output_cap": lambda: cohere_error(400, message or f"invalid request: max_tokens cannot exceed "
                                                           f"{MAX_OUTPUT} for this model"),
    }[fail.kind]()


def rule_breaks(body: dict) -> tuple[list[str], str | None]:
    problems = [f"invalid request: unknown field {k!r}" for k in body if k not in TOP_KEYS]
    if not body.get("model") or not isinstance(body.get("messages"), list):
        problems.append("invalid request: model and messages are required")
    for i, msg in enumerate(body.get("messages") or []):
        if msg.get("role") not in ROLES:
            problems.append(f"invalid request: messages[{i}].role must be one of {sorted(ROLES)}")
        if msg.get("role") == "tool" and not msg.get("tool_call_id"):
            problems.append(f"invalid request: messages[{i}].tool_call_id is required for a tool message")
    if body.get("tool_choice") not in (None, "REQUIRED", "NONE"):
        problems.append("invalid request: tool_choice must be one of REQUIRED, NONE")
    if problems:
        return problems, None
    wanted = body.get("max_tokens")
    if isinstance(wanted, int) and wanted > MAX_OUTPUT:
        return [f"invalid request: max_tokens cannot exceed {MAX_OUTPUT} for this model (got {wanted})"], \
            "output_cap"
    return [], None


def _call_id(call: ToolCall) -> str:
    return call.id or f"{call.name}_{token(12, string.ascii_lowercase + string.digits)}"


def usage(turn: Turn) -> dict:
    prompt, output, *_ = turn.usage
    counts = {"input_tokens": prompt, "output_tokens": output}  # the script's numbers in both, so either reads right
    return {"billed_units": dict(counts), "tokens": dict(counts)}


def message(turn: Turn) -> dict:
    texts = [p.text for p in turn.parts if isinstance(p, Text)]
    msg: dict = {"role": "assistant"}
    if turn.calls:
        msg["tool_plan"] = "".join(texts)
        msg["tool_calls"] = [{"id": _call_id(c), "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}} for c in turn.calls]
    content = [{"type": "thinking", "thinking": p.text} for p in turn.parts if isinstance(p, Thinking)]
    content += [{"type": "text", "text": t} for t in texts] if not turn.calls else []
    if content:
        msg["content"] = content
    return msg


def events(turn: Turn, rid: str) -> list[dict]:
    out: list[dict] = [{"id": rid, "type": "message-start", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}]
    content = calls = 0
    for part in turn.parts:
        if isinstance(part, ToolCall):
            out.append({"type": "tool-call-start", "index": calls, "delta": {"message": {"tool_calls": {
                "id": _call_id(part), "type": "function", "function": {"name": part.name, "arguments": ""}}}}})
            out += [{"type": "tool-call-delta", "index": calls,
                     "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}
                    for piece in split(part.arguments, turn.chunks)]
            out.append({"type": "tool-call-end", "index": calls})
            calls += 1
        elif isinstance(part, Text) and turn.calls:
            out += [{"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}
                    for piece in split(part.text, turn.chunks)]
        else:
            kind = "thinking" if isinstance(part, Thinking) else "text"
            out.append({"type": "content-start", "index": content,
                        "delta": {"message": {"content": {"type": kind, kind: ""}}}})
            out += [{"type": "content-delta", "index": content, "delta": {"message": {"content": {kind: piece}}}}
                    for piece in split(part.text, turn.chunks)]
            out.append({"type": "content-end", "index": content})
            content += 1
    out.append({"type": "message-end", "delta": {"finish_reason": FINISH[turn.finish], "usage": usage(turn)}})
    return out


class CohereFake(WireFake):
    name = "cohere"
    route = re.compile(r"^(?:/v2/chat|/)$")  # LiteLLM posts to api_base as given

    def __init__(self) -> None:
        super().__init__()
        self.credentials = {"api_key": "co-test-key"}

    def answer(self, req: Received) -> Reply:
        if req.method != "POST" or not self.route.match(req.path):
            return cohere_error(404, f"no route for {req.path}")
        if req.headers.get("authorization") != f"Bearer {self.credentials['api_key']}":
            return fail_reply(Fail("auth"))
        body = req.body if isinstance(req.body, dict) else {}
        problems, kind = rule_breaks(body)
        if problems:
            self.violate(problems)
            return fail_reply(Fail(kind), problems[0]) if kind else cohere_error(400, problems[0])
        item = self.next_item()
        if item is None:
            return cohere_error(500, "wire fake: no reply scripted for this request")
        if isinstance(item, Fail):
            return fail_reply(item)
        rid = str(uuid.uuid4())
        if not body.get("stream"):
            return json_reply(200, {"id": rid, "finish_reason": FINISH[item.finish], "message": message(item),
                                    "usage": usage(item)})
        return Reply(200, headers={"content-type": "text/event-stream"},
                     stream=[f"event: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n".encode()
                             for e in events(item, rid)])
