"""Amazon Bedrock's Converse API (`/model/{modelId}/converse` and `/converse-stream`): SigV4-signed requests,
checked by re-deriving the signature with botocore's own signer; streams in AWS event-stream framing; errors as
`{"message"}` with `x-amzn-ErrorType`. Bedrock sends no retry hint on throttling, so Fail.retry_after is unused."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid

from .eventstream import event
from .script import Fail, Text, Thinking, ToolCall, Turn, split, token
from .server import Received, Reply, WireFake

MAX_OUTPUT = 64000  # Claude Sonnet 4 on Bedrock
STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
                  r"/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?Signature=(?P<signature>[0-9a-f]{64})$")
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def aws_error(status: int, kind: str, message: str, namespace: str = "com.amazon.bedrock") -> Reply:
    return Reply(status, json.dumps({"message": message}).encode(),
                 {"content-type": "application/json", "x-amzn-requestid": str(uuid.uuid4()),
                  "x-amzn-errortype": f"{kind}:http://internal.amazon.com/coral/{namespace}/"})


def fail_reply(fail: Fail, message: str | None = None) -> Reply:
    return {
        "auth": lambda: aws_error(403, "AccessDeniedException", "You don't have access to the model with the "
                                                                "specified model ID."),
        "rate_limit": lambda: aws_error(429, "ThrottlingException", "Too many requests, please wait before trying "
                                                                    "again."),
        "server": lambda: aws_error(500, "InternalServerException", "The system encountered an unexpected error "
                                                                    "during processing. Try your request again."),
        "context": lambda: aws_error(400, "ValidationException", "Input is too long for requested model."),
        "output_cap": lambda: aws_error(400, "ValidationException", message or output_cap_message(MAX_OUTPUT * 2)),
    }[fail.kind]()


def output_cap_message(wanted: int) -> str:
    return (f"The maximum tokens you requested ({wanted}) exceeds the model limit of {MAX_OUTPUT}. Try again with "
            f"a maximum tokens value that is lower than {MAX_OUTPUT}.")


def rule_breaks(body: dict) -> tuple[list[str], str | None]:
    problems: list[str] = []
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        problems.append("A conversation must start with a user message. Try again with a conversation that starts "
                        "with a user message.")
    for i, msg in enumerate(messages):
        if msg.get("role") not in ("user", "assistant"):
            problems.append(f"messages.{i}.role: Member must satisfy enum value set: [user, assistant]")
        if i and msg.get("role") == messages[i - 1].get("role"):
            problems.append("A conversation must alternate between user and assistant roles. Make sure the "
                            "conversation alternates between user and assistant roles and try again.")
        for j, block in enumerate(msg.get("content") or []):
            if "text" in block and not block["text"].strip():
                problems.append(f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. "
                                "Add text to the text field, and try again.")
            image = block.get("image")
            if image is not None and image.get("format") not in ("png", "jpeg", "gif", "webp"):
                problems.append(f"messages.{i}.content.{j}.member.image.format: Member must satisfy enum value set: "
                                "[png, jpeg, gif, webp]")
            for key in ("toolUse", "toolResult"):
                if key in block and not NAME.match(block[key].get("toolUseId", "")):
                    problems.append(f"messages.{i}.content.{j}.{key}.toolUseId: Member must satisfy regular "
                                    "expression pattern: [a-zA-Z0-9_-]+")
    problems += _pairing(messages)
    for k, tool in enumerate((body.get("toolConfig") or {}).get("tools") or []):
        spec = tool.get("toolSpec") or {}
        if not NAME.match(spec.get("name", "")):
            problems.append(f"toolConfig.tools.{k}.member.toolSpec.name: Member must satisfy regular expression "
                            "pattern: [a-zA-Z0-9_-]+")
        if "json" not in (spec.get("inputSchema") or {}):
            problems.append(f"toolConfig.tools.{k}.member.toolSpec.inputSchema: json is required")
    if problems:
        return problems, None
    wanted = (body.get("inferenceConfig") or {}).get("maxTokens")
    if isinstance(wanted, int) and wanted > MAX_OUTPUT:
        return [output_cap_message(wanted)], "output_cap"
    return [], None


def _ids(message: dict, key: str) -> list[str]:
    return [block[key].get("toolUseId") for block in message.get("content") or [] if key in block]


def _pairing(messages: list[dict]) -> list[str]:
    """Each toolResult answers a toolUse of the assistant turn right before it, and every toolUse is answered."""
    problems = []
    for i, msg in enumerate(messages):
        uses = _ids(messages[i - 1], "toolUse") if i else []
        results = _ids(msg, "toolResult")
        if results and len(results) > len(uses):
            problems.append(f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse "
                            "blocks of previous turn.")
        elif uses and msg.get("role") == "user" and set(uses) - set(results):
            problems.append(f"Expected toolResult blocks at messages.{i}.content for the following Ids: "
                            f"{', '.join(sorted(set(uses) - set(results)))}")
    return problems


def thinking_problems(body: dict, issued: set[str]) -> list[str]:
    """Claude's extended-thinking rules as Bedrock enforces them: when thinking is on, the final assistant turn
    of a tool loop starts with its reasoning block, and every reasoning block carries a signature we issued."""
    problems = []
    messages = body.get("messages") or []
    for i, msg in enumerate(messages):
        for j, block in enumerate(msg.get("content") or []):
            text = (block.get("reasoningContent") or {}).get("reasoningText")
            if text is not None and text.get("signature") not in issued:
                problems.append(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
    thinking = ((body.get("additionalModelRequestFields") or {}).get("thinking") or {}).get("type") == "enabled"
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)
    if thinking and last is not None and _ids(messages[last], "toolUse"):
        first = (messages[last].get("content") or [{}])[0]
        if "reasoningContent" not in first:
            problems.append(f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                            f"`{next(iter(first), 'nothing')}`. When `thinking` is enabled, a final `assistant` "
                            "message must start with a thinking block (preceeding the lastmost set of `tool_use` and "
                            "`tool_result` blocks). We recommend you include thinking blocks from previous turns. To "
                            "avoid this requirement, disable `thinking`.")
    return problems


def _signature(part: Thinking) -> str:
    if part.signature is None:  # Bedrock's Claude always signs its reasoning: the fake signs it once, for good
        part.signature = base64.b64encode(secrets.token_bytes(48)).decode()
    return part.signature


def _tool_id(call: ToolCall) -> str:
    return call.id or f"tooluse_{token(22)}"


def usage(turn: Turn) -> dict:
    prompt, output, *_ = turn.usage
    return {"inputTokens": prompt, "outputTokens": output, "totalTokens": prompt + output}


def message(turn: Turn) -> dict:
    content: list[dict] = []
    for part in turn.parts:
        if isinstance(part, Thinking):
            content.append({"reasoningContent": {"reasoningText": {"text": part.text,
                                                                   "signature": _signature(part)}}})
        elif isinstance(part, Text):
            content.append({"text": part.text})
        else:
            content.append({"toolUse": {"toolUseId": _tool_id(part), "name": part.name, "input": part.args}})
    return {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": STOP[turn.finish],
            "usage": usage(turn), "metrics": {"latencyMs": 420}}


def events(turn: Turn) -> list[bytes]:
    out = [event("messageStart", {"role": "assistant"})]
    for i, part in enumerate(turn.parts):
        if isinstance(part, ToolCall):
            out.append(event("contentBlockStart", {"contentBlockIndex": i, "start": {
                "toolUse": {"toolUseId": _tool_id(part), "name": part.name}}}))
            deltas = [{"toolUse": {"input": piece}} for piece in split(part.arguments, turn.chunks)]
        elif isinstance(part, Thinking):
            deltas = [{"reasoningContent": {"text": piece}} for piece in split(part.text, turn.chunks)]
            deltas.append({"reasoningContent": {"signature": _signature(part)}})
        else:
            deltas = [{"text": piece} for piece in split(part.text, turn.chunks)]
        out += [event("contentBlockDelta", {"contentBlockIndex": i, "delta": d}) for d in deltas]
        out.append(event("contentBlockStop", {"contentBlockIndex": i}))
    out.append(event("messageStop", {"stopReason": STOP[turn.finish]}))
    out.append(event("metadata", {"usage": usage(turn), "metrics": {"latencyMs": 420}}))
    return out


class BedrockFake(WireFake):
    name = "bedrock"
    route = re.compile(r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream)$")

    def __init__(self) -> None:
        super().__init__()
        self.issued: set[str] = set()  # reasoning signatures this fake handed out
        self.credentials = {"aws_access_key_id": "AKIAWIREFAKE" + token(8).upper(),
                            "aws_secret_access_key": token(40), "region": "us-east-1"}

    def auth_failure(self, req: Received) -> Reply | None:
        """None when the request carries a valid SigV4 signature for our key, region and `bedrock`."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        found = AUTH.match(req.headers.get("authorization", ""))
        if not found or "x-amz-date" not in req.headers:
            return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if found["key"] != self.credentials["aws_access_key_id"]:
            return aws_error(403, "UnrecognizedClientException", "The security token included in the request is "
                                                                 "invalid.", "com.amazon.coral.service")
        signed = {h: req.headers.get(h, "") for h in found["signed"].split(";")}
        query = "&".join(f"{k}={v}" for k, v in req.query.items())
        aws = AWSRequest(req.method, f"http://{req.headers['host']}{req.path}" + (f"?{query}" if query else ""),
                         data=req.raw, headers=signed)
        aws.context["timestamp"] = req.headers["x-amz-date"]
        signer = SigV4Auth(Credentials(self.credentials["aws_access_key_id"],
                                       self.credentials["aws_secret_access_key"]), "bedrock", found["region"])
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
        if (found["service"], found["region"]) != ("bedrock", self.credentials["region"]) or \
                expected != found["signature"]:
            return aws_error(403, "InvalidSignatureException", "The request signature we calculated does not match "
                             "the signature you provided. Check your AWS Secret Access Key and signing method. "
                             "Consult the service documentation for details.", "com.amazon.coral.service")
        return None

    def answer(self, req: Received) -> Reply:
        match = self.route.match(req.path)
        if req.method != "POST" or not match:
            return aws_error(404, "UnknownOperationException", f"no Converse operation at {req.path}")
        if (denied := self.auth_failure(req)) is not None:
            return denied
        body = req.body if isinstance(req.body, dict) else {}
        problems, kind = rule_breaks(body)
        problems = problems or thinking_problems(body, self.issued)
        if problems:
            self.violate(problems)
            return fail_reply(Fail(kind), problems[0]) if kind else aws_error(400, "ValidationException",
                                                                              problems[0])
        item = self.next_item()
        if item is None:
            return aws_error(500, "InternalServerException", "wire fake: no reply scripted for this request")
        if isinstance(item, Fail):
            return fail_reply(item)
        with self._lock:
            self.issued.update(_signature(p) for p in item.parts if isinstance(p, Thinking))
        headers = {"x-amzn-requestid": str(uuid.uuid4())}
        if match["action"] == "converse":
            return Reply(200, json.dumps(message(item)).encode(), {"content-type": "application/json", **headers})
        return Reply(200, headers={"content-type": "application/vnd.amazon.eventstream", **headers},
                     stream=events(item))
