"""Azure OpenAI's deployments API: `/openai/deployments/{d}/chat/completions?api-version=…`, `api-key` header,
content-filter annotations (a first stream chunk of `prompt_filter_results` with no choices), Azure's errors."""

from __future__ import annotations

import re
import time

from . import openai_like
from .script import Fail, Turn, token
from .server import Received, Reply, WireFake, json_reply

MAX_OUTPUT = 16384  # gpt-4o's completion limit
SAFE = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")}


def azure_error(status: int, code: str | None, message: str, headers: dict | None = None, **extra) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": message, **extra}}, headers)


def fail_reply(fail: Fail, message: str | None = None) -> Reply:
    if fail.kind == "auth":
        return azure_error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make "
                                       "sure to provide a valid key for an active subscription and use a correct "
                                       "regional API endpoint for your resource.")
    if fail.kind == "rate_limit":
        return azure_error(429, "429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
                                       "version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 "
                                       f"pricing tier. Please retry after {fail.retry_after} seconds.",
                           {"retry-after": str(fail.retry_after), "retry-after-ms": str(fail.retry_after * 1000),
                            "x-ratelimit-remaining-tokens": "0"})
    if fail.kind == "server":
        return azure_error(500, "InternalServerError", "The server had an error while processing your request. "
                                                       "Sorry about that!")
    if fail.kind == "context":
        return azure_error(400, "context_length_exceeded", "This model's maximum context length is 128000 tokens. "
                           "However, your messages resulted in 201000 tokens. Please reduce the length of the "
                           "messages.", type="invalid_request_error", param="messages")
    return azure_error(400, "invalid_value", message or f"max_tokens is too large: {MAX_OUTPUT * 2}. This model "
                       f"supports at most {MAX_OUTPUT} completion tokens, whereas you provided {MAX_OUTPUT * 2}.",
                       type="invalid_request_error", param="max_tokens")


def _filters() -> dict:
    return {"content_filter_results": dict(SAFE)}


def chunks(turn: Turn, model: str, include_usage: bool) -> list[dict]:
    base = {"id": "chatcmpl-" + token(29), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_" + token(10).lower()}
    first = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
             "prompt_filter_results": [{"prompt_index": 0, **_filters()}]}
    deltas = openai_like.deltas(turn, lambda: "call_" + token(24), whole_calls=False)
    out = [first] + [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None, "logprobs": None,
                                           "content_filter_results": {} if "role" in d else _filters()}]}
                     for d in deltas]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": openai_like.FINISH[turn.finish],
                                     "logprobs": None, "content_filter_results": {}}]})
    if include_usage:
        out.append({**base, "choices": [], "usage": openai_like.usage(turn)})
    return out


class AzureFake(WireFake):
    name = "azure"
    thinking = False
    route = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")

    def __init__(self) -> None:
        super().__init__()
        self.credentials = {"api_key": "az-test-key", "deployment": "gpt-4o-prod", "api_version": "2024-10-21"}

    def answer(self, req: Received) -> Reply:
        match = self.route.match(req.path)
        if req.method != "POST" or not match or "api-version" not in req.query:
            return azure_error(404, "404", "Resource not found")
        if req.headers.get("api-key") != self.credentials["api_key"]:
            return fail_reply(Fail("auth"))
        if match["deployment"] != self.credentials["deployment"]:
            return azure_error(404, "DeploymentNotFound", "The API deployment for this resource does not exist. If "
                               "you created the deployment within the last 5 minutes, please wait a moment and try "
                               "again.")
        body = req.body if isinstance(req.body, dict) else {}
        wanted = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(wanted, int) and wanted > MAX_OUTPUT:
            message = (f"max_tokens is too large: {wanted}. This model supports at most {MAX_OUTPUT} completion "
                       f"tokens, whereas you provided {wanted}.")
            self.violate([message])
            return fail_reply(Fail("output_cap"), message)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            self.violate(["'messages' is a required property"])
            return azure_error(400, "BadRequest", "'messages' is a required property")
        unanswered, orphans = openai_like.unanswered_calls(body["messages"])
        if unanswered or orphans:
            message = ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                       f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                       f"{', '.join(unanswered)}" if unanswered else "Invalid parameter: messages with role 'tool' "
                       "must be a response to a preceeding message with 'tool_calls'.")
            self.violate([message])
            return azure_error(400, None, message, type="invalid_request_error", param="messages")
        item = self.next_item()
        if item is None:
            return azure_error(500, "InternalServerError", "wire fake: no reply scripted for this request")
        if isinstance(item, Fail):
            return fail_reply(item)
        model = "gpt-4o-2024-11-20"
        if not body.get("stream"):
            return json_reply(200, {
                "id": "chatcmpl-" + token(29), "object": "chat.completion", "created": int(time.time()),
                "model": model, "prompt_filter_results": [{"prompt_index": 0, **_filters()}],
                "choices": [{"index": 0, "message": openai_like.message(item, lambda: "call_" + token(24)),
                             "finish_reason": openai_like.FINISH[item.finish], "logprobs": None, **_filters()}],
                "usage": openai_like.usage(item)})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return Reply(200, headers={"content-type": "text/event-stream; charset=utf-8"},
                     stream=openai_like.sse(chunks(item, model, include_usage)))
