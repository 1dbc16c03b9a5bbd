"""Google AI Studio's Gemini API (`generateContent`, `streamGenerateContent?alt=sse`), after its REST reference.

Vertex shares the body and answer shapes (vertex.py subclasses this with its own path and auth).
"""

from __future__ import annotations

import json
import re

from .script import Fail, Text, Thinking, ToolCall, Turn, split, token
from .server import Received, Reply, WireFake, json_reply

MAX_OUTPUT = {"gemini-2.5-pro": 65536, "gemini-2.5-flash": 65536, "gemini-2.0-flash": 8192}
SCHEMA_KEYS = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
               "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
               "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
TOP_KEYS = {"contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig",
            "cachedContent", "labels"}
FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")
FINISH = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)


def google_error(code: int, message: str, details: list | None = None, headers: dict | None = None) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "status": STATUS[code],
                                       **({"details": details} if details else {})}}, headers)


def schema_problems(schema: object, where: str) -> list[str]:
    """Fields outside the OpenAPI subset Gemini's Schema accepts (the real API refuses them with a 400)."""
    if not isinstance(schema, dict):
        return [f"{where}: a schema must be an object"]
    problems = [f'Invalid JSON payload received. Unknown name "{k}" at \'{where}\': Cannot find field.'
                for k in schema if _camel(k) not in SCHEMA_KEYS]
    if "type" in schema and not isinstance(schema["type"], str):
        problems.append(f"Invalid JSON payload received. Proto field is not repeating, cannot start list "
                        f"at '{where}.type'.")
    for name, sub in (schema.get("properties") or {}).items():
        problems += schema_problems(sub, f"{where}.properties[{name}]")
    if "items" in schema:
        problems += schema_problems(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf") or schema.get("any_of") or []):
        problems += schema_problems(sub, f"{where}.any_of[{i}]")
    return problems


def request_problems(body: object, model: str) -> tuple[list[str], str | None]:
    """(broken rules, Fail kind to answer with): the checks the real API makes before the model runs."""
    if not isinstance(body, dict):
        return ["Invalid JSON payload received."], None
    problems = [f'Invalid JSON payload received. Unknown name "{k}": Cannot find field.'
                for k in body if _camel(k) not in TOP_KEYS]
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        problems.append("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents or []):
        if content.get("role", "user") not in ("user", "model"):
            problems.append(f"Please use a valid role: user, model. (contents[{i}].role={content.get('role')!r})")
        if not content.get("parts"):
            problems.append(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
    for t, tool in enumerate(body.get("tools") or []):
        for f, decl in enumerate(tool.get("functionDeclarations") or tool.get("function_declarations") or []):
            if not FUNCTION_NAME.match(decl.get("name", "")):
                problems.append(f"* GenerateContentRequest.tools[{t}].function_declarations[{f}].name: Invalid "
                                f"function name {decl.get('name')!r}.")
            if "parameters" in decl:
                problems += schema_problems(decl["parameters"], f"tools[{t}].function_declarations[{f}].parameters")
    config = body.get("generationConfig") or body.get("generation_config") or {}
    wanted = config.get("maxOutputTokens", config.get("max_output_tokens"))
    limit = MAX_OUTPUT.get(model, 65536)
    if problems:
        return problems, None
    if isinstance(wanted, int) and wanted > limit:
        return [f"Unable to submit request because it has a maxOutputTokens value of {wanted} but the supported "
                f"range is from 1 (inclusive) to {limit + 1} (exclusive). Update the value and try again."], \
            "output_cap"
    return [], None


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
    """Gemini parts; a thought's signature rides on the first function call (else the next part), as 2.5 does."""
    out: list[dict] = []
    pending: str | None = None
    for part in turn.parts:
        if isinstance(part, Thinking):
            out += [{"text": t, "thought": True} for t in (split(part.text, turn.chunks) if pieces else [part.text])]
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

    def answer(self, req: Received) -> Reply:
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
