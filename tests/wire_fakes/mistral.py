"""Mistral's chat completions (`/v1/chat/completions`): OpenAI-like, with Mistral's own strictness: unknown
fields are a 422 (pydantic `extra_forbidden`), tool call ids are 9 characters of [a-zA-Z0-9]."""

from __future__ import annotations

import re
import time

from . import openai_like
from .script import Fail, token
from .server import Received, Reply, WireFake, json_reply

TOP_KEYS = {"model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "metadata",
            "response_format", "tools", "tool_choice", "presence_penalty", "frequency_penalty", "n", "prediction",
            "parallel_tool_calls", "prompt_mode", "safe_prompt"}
MESSAGE_KEYS = {"system": {"role", "content"}, "user": {"role", "content"},
                "assistant": {"role", "content", "tool_calls", "prefix"},
                "tool": {"role", "content", "tool_call_id", "name"}}
TOOL_CHOICES = {"auto", "none", "any", "required"}  # Mistral's ToolChoiceEnum lists both any and required
CALL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")


def mistral_error(status: int, message: object, type_: str = "invalid_request_error", code: str | None = None,
                  headers: dict | None = None) -> Reply:
    return json_reply(status, {"object": "error", "message": message, "type": type_, "param": None, "code": code},
                      headers)


def fail_reply(fail: Fail) -> Reply:
    if fail.kind == "auth":
        return json_reply(401, {"message": "Unauthorized", "request_id": token(32).lower()})
    if fail.kind == "rate_limit":
        # no retry hint: Mistral sends its x-ratelimit-* counters, not retry-after (Fail.retry_after is unused)
        return mistral_error(429, "Rate limit exceeded", "rate_limited", "1300",
                             {"x-ratelimit-limit-req-minute": "60", "x-ratelimit-remaining-req-minute": "0"})
    if fail.kind == "server":
        return mistral_error(500, "Internal server error", "internal_server_error")
    return mistral_error(400, "Prompt contains 201000 tokens and 0 draft tokens, too large for model with 131072 "
                              "maximum context length", code="3051")


def extra_fields(body: dict) -> list[dict]:
    """pydantic's `extra_forbidden` entries for the request, as Mistral's 422 lists them."""
    def entry(loc: list, value: object) -> dict:
        return {"type": "extra_forbidden", "loc": ["body", *loc], "msg": "Extra inputs are not permitted",
                "input": value}

    found = [entry([k], v) for k, v in body.items() if k not in TOP_KEYS]
    for i, msg in enumerate(body.get("messages") or []):
        role = msg.get("role")
        found += [entry(["messages", i, role, k], v) for k, v in msg.items() if k not in MESSAGE_KEYS.get(role, {})]
    return found


def rule_breaks(body: dict) -> list[str]:
    ids = [c.get("id", "") for m in body.get("messages") or [] for c in m.get("tool_calls") or []]
    ids += [m["tool_call_id"] for m in body.get("messages") or [] if "tool_call_id" in m]
    problems = [f"Tool call id was {i} but must be a-z, A-Z, 0-9, with a length of 9." for i in ids
                if not CALL_ID.match(str(i))]
    unanswered, orphans = openai_like.unanswered_calls(body.get("messages") or [])
    if unanswered:
        problems.append("Not the same number of function calls and responses")
    if orphans:
        problems.append(f"Unexpected role 'tool' after role "
                        f"'{body['messages'][orphans[0] - 1].get('role') if orphans[0] else 'none'}'")
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice not in TOOL_CHOICES:
        problems.append(f"tool_choice: Input should be 'auto', 'none', 'any' or 'required' (got {choice!r})")
    return problems


class MistralFake(WireFake):
    name = "mistral"
    thinking = False
    route = re.compile(r"^(?:/v1)?/chat/completions$")

    def __init__(self) -> None:
        super().__init__()
        self.credentials = {"api_key": "ms-test-key"}

    def answer(self, req: Received) -> Reply:
        if req.method != "POST" or not self.route.match(req.path):
            return json_reply(404, {"detail": "Not Found"})
        if req.headers.get("authorization") != f"Bearer {self.credentials['api_key']}":
            return fail_reply(Fail("auth"))
        body = req.body if isinstance(req.body, dict) else {}
        if extra := extra_fields(body):
            self.violate([f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in extra])
            return mistral_error(422, {"detail": extra})
        if problems := rule_breaks(body):
            self.violate(problems)
            return mistral_error(400, problems[0])
        item = self.next_item()
        if item is None:
            return mistral_error(500, "wire fake: no reply scripted for this request", "internal_server_error")
        if isinstance(item, Fail):
            return fail_reply(item)
        model, rid, created = body.get("model", "mistral-large-latest"), token(32).lower(), int(time.time())
        make_id = lambda: token(9)  # noqa: E731
        if not body.get("stream"):
            return json_reply(200, {"id": rid, "object": "chat.completion", "created": created, "model": model,
                                    "choices": [{"index": 0, "message": {**openai_like.message(item, make_id),
                                                                         "prefix": False},
                                                 "finish_reason": openai_like.FINISH[item.finish]}],
                                    "usage": openai_like.usage(item)})
        base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
        chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
                  for d in openai_like.deltas(item, make_id, whole_calls=True)]
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": ""},
                                            "finish_reason": openai_like.FINISH[item.finish]}],
                       "usage": openai_like.usage(item)})
        return Reply(200, headers={"content-type": "text/event-stream"}, stream=openai_like.sse(chunks))
