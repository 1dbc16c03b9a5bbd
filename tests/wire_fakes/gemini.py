"""Google AI Studio's Gemini API (`generateContent`, `streamGenerateContent?alt=sse`), after its REST reference.

Vertex shares the body and answer shapes (vertex.py subclasses this with its own path and auth).
"""

from __future__ import annotations

import base64
import json
import re

from .gemini_rules import MAX_OUTPUT, request_problems
from .script import Fail, Text, Thinking, ToolCall, Turn, split, token
from .server import Received, Reply, WireFake, json_reply

FINISH = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


def google_error(code: int, message: str, details: list | None = None, headers: dict | None = None) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "status": STATUS[code],
                                       **({"details": details} if details else {})}}, headers)


def fail_reply(fail: Fail, model: str, message: str | None = None) -> Reply:
    limit = MAX_OUTPUT.get(model, 65536)
    if fail.kind == "auth":
        return google_error(400, "API key not valid. Please pass a valid API key.", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
             "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])
    if fail.kind == "rate_limit":
        return google_error(429, "You exceeded your current quota, please check your plan and billing details. "
                                 f"Please retry in {fail.retry_after}.0s.", [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                 "quotaDimensions": {"location": "global", "model": model}, "quotaValue": "2"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fail.retry_after}s"}])
    if fail.kind == "server":
        return google_error(500, "An internal error has occurred. Please retry or report in "
                                 "https://developers.generativeai.google/guide/troubleshooting")
    if fail.kind == "context":
        return google_error(400, "The input token count (1200000) exceeds the maximum number of tokens allowed "
                                 "(1048576).")
    return google_error(400, message or f"Unable to submit request because it has a maxOutputTokens value of "
                                        f"{limit * 2} but the supported range is from 1 (inclusive) to {limit + 1} "
                                        "(exclusive). Update the value and try again.")


def _parts(turn: Turn, pieces: bool) -> list[dict]:
    """Gemini parts; a thought's signature rides on the first function call (else the next part), as 2.5 does.
    With thinking and function calls the API always signs: an unsigned scripted Thinking then gets one."""
    out: list[dict] = []
    pending: str | None = None
    for part in turn.parts:
        if isinstance(part, Thinking):
            out += [{"text": t, "thought": True} for t in (split(part.text, turn.chunks) if pieces else [part.text])]
            if part.signature is None and turn.calls:
                part.signature = base64.b64encode(token(48).encode()).decode()
            pending = part.signature or pending
            continue
        if isinstance(part, Text):
            new = [{"text": t} for t in (split(part.text, turn.chunks) if pieces else [part.text])]
        else:
            new = [{"functionCall": {"name": part.name, "args": part.args, **({"id": part.id} if part.id else {})}}]
        if pending and (isinstance(part, ToolCall) or not turn.calls):
            new[0]["thoughtSignature"] = pending
            pending = None
        out += new
    if pending:
        next(p for p in reversed(out) if p.get("thought"))["thoughtSignature"] = pending
    return out


def usage_metadata(turn: Turn) -> dict:
    prompt, output, *rest = turn.usage
    thoughts = rest[0] if rest else 0
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": output - thoughts, "totalTokenCount": prompt + output,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def responses(turn: Turn, model: str, stream: bool) -> list[dict]:
    """The GenerateContentResponse objects for a turn: one whole answer, or the stream's chunks."""
    rid = token(22)
    parts = _parts(turn, pieces=stream) or [{"text": ""}]
    groups = [[p] for p in parts] if stream else [parts]
    out = []
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        candidate: dict = {"content": {"parts": group, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = FINISH.get(turn.finish, "STOP")
        usage = usage_metadata(turn) if last else {"promptTokenCount": turn.usage[0],
                                                   "totalTokenCount": turn.usage[0]}
        out.append({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": rid})
    return out


def model_info(name: str) -> dict:
    """One entry of models.list, with the limits the fake enforces."""
    return {"name": f"models/{name}", "version": name.split("-")[1], "displayName": name.replace("-", " ").title(),
            "inputTokenLimit": 1048576, "outputTokenLimit": MAX_OUTPUT[name],
            "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent"],
            "temperature": 1, "maxTemperature": 2, "topP": 0.95, "topK": 64, "thinking": name != "gemini-2.0-flash"}


class GeminiFake(WireFake):
    name = "gemini"
    route = re.compile(r"^(?:/v1beta|/v1)?/models/(?P<model>[^/:]+):(?P<method>generateContent|"
                       r"streamGenerateContent)$")

    def __init__(self) -> None:
        super().__init__()
        self.credentials = {"api_key": "gm-test-key"}

    def auth_failure(self, req: Received) -> Reply | None:
        key = req.headers.get("x-goog-api-key") or req.query.get("key")
        if key is None:
            return google_error(403, "Method doesn't allow unregistered callers (callers without established "
                                     "identity). Please use API Key or other form of API consumer identity to "
                                     "call this API.")
        return None if key == self.credentials["api_key"] else fail_reply(Fail("auth"), "")

    def fail(self, fail: Fail, model: str, message: str | None = None) -> Reply:
        return fail_reply(fail, model, message)

    def listing(self, req: Received) -> Reply | None:
        """models.list and models.get (GET /v1beta/models[/{m}]), or None for another path."""
        found = re.match(r"^(?:/v1beta|/v1)?/models(?:/(?P<model>[^/:]+))?$", req.path)
        if req.method != "GET" or not found:
            return None
        if (denied := self.auth_failure(req)) is not None:
            return denied
        if found["model"] is None:
            return json_reply(200, {"models": [model_info(m) for m in MAX_OUTPUT]})
        if found["model"] in MAX_OUTPUT:
            return json_reply(200, model_info(found["model"]))
        return google_error(404, f"models/{found['model']} is not found for API version v1beta.")

    def answer(self, req: Received) -> Reply:
        if (listed := self.listing(req)) is not None:
            return listed
        match = self.route.match(req.path)
        if req.method != "POST" or not match:
            return google_error(404, f"models/... is not found for API version v1beta, or {req.path} is not "
                                     "supported for generateContent.")
        if (denied := self.auth_failure(req)) is not None:
            return denied
        model = match["model"]
        problems, kind = request_problems(req.body, model)
        if problems:
            self.violate(problems)
            return self.fail(Fail(kind), model, problems[0]) if kind else google_error(400, problems[0])
        item = self.next_item()
        if item is None:
            return google_error(500, "wire fake: no reply scripted for this request")
        if isinstance(item, Fail):
            return self.fail(item, model)
        chunks = responses(item, model, stream=match["method"] == "streamGenerateContent")
        if match["method"] == "generateContent":
            return json_reply(200, chunks[0])
        if req.query.get("alt") != "sse":  # without alt=sse the stream is one JSON array, sent in pieces
            body = json.dumps(chunks).encode()
            return Reply(200, headers={"content-type": "application/json; charset=UTF-8"},
                         stream=[body[i:i + 64] for i in range(0, len(body), 64)])
        return Reply(200, headers={"content-type": "text/event-stream"},
                     stream=[b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\r\n\r\n" for c in chunks])
