"""The probe's fixed battery: what a model must do to drive Claude Code, asked through the proxy as Claude
Code asks (streamed Messages requests, Claude Code's own tool definitions), each answer judged pass / fail
(with the reason) / n/a. Pure client code: it talks HTTP to a proxy that is already serving."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from dataclasses import asdict, dataclass, field
from secrets import token_hex

import httpx

from .claude_tools import BASH, READ, TOOLS, schema_problem

REQUIRED = ("text", "tool_call", "parallel_tools", "tool_result")  # "ready for Claude Code" needs these
CLIENT_MODEL = "claude-sonnet-4-5"  # any Claude id: the probe's proxy maps every tier to the probed model


@dataclass
class Check:
    name: str
    status: str  # pass | fail | n/a
    reason: str = ""


@dataclass
class Result:
    """One model's battery."""

    model: str
    checks: list[Check] = field(default_factory=list)
    ttft_ms: float | None = None
    tokens_per_s: float | None = None

    @property
    def ready(self) -> bool:
        passed = {c.name for c in self.checks if c.status == "pass"}
        return all(name in passed for name in REQUIRED)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def as_dict(self) -> dict:
        return {**asdict(self), "ready": self.ready}


@dataclass
class Answer:
    """A streamed answer put back together: blocks as Anthropic sends them, timing, and any error."""

    blocks: list[dict] = field(default_factory=list)
    error: str | None = None
    first: float | None = None
    end: float = 0.0
    output_tokens: int = 0

    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.blocks if b["type"] == "text")

    def tools(self) -> list[dict]:
        return [b for b in self.blocks if b["type"] == "tool_use"]


def png(rgb: tuple[int, int, int], size: int = 32) -> bytes:
    """A one-colour PNG, written by hand (IHDR, one IDAT, IEND): no imaging library for one test image."""
    def part(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n" + part(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + part(b"IDAT", zlib.compress(row * size)) + part(b"IEND", b""))


def ask(client: httpx.Client, messages: list[dict], tools: list[dict] | None = None, max_tokens: int = 512,
        thinking: int | None = None) -> Answer:
    """One streamed /v1/messages request; the answer assembled from its events."""
    body: dict = {"model": CLIENT_MODEL, "max_tokens": max_tokens, "stream": True, "messages": messages}
    if tools:
        body["tools"] = tools
    if thinking:
        body["thinking"] = {"type": "enabled", "budget_tokens": thinking}
    answer = Answer()
    started = time.monotonic()
    try:
        with client.stream("POST", "/v1/messages", json=body) as resp:
            if resp.status_code != 200:
                resp.read()
                return Answer(error=f"upstream error: {resp.status_code} {_message(resp.text)}")
            for raw in resp.iter_lines():
                if raw.startswith("data:"):
                    _apply(answer, json.loads(raw[5:]), started)
    except httpx.TimeoutException:
        return Answer(error="timeout")
    except (httpx.HTTPError, ValueError) as exc:
        return Answer(error=f"upstream error: {type(exc).__name__}")
    answer.end = time.monotonic() - started
    return answer


def _message(text: str) -> str:
    try:
        return str(json.loads(text)["error"]["message"])[:120]
    except (ValueError, KeyError, TypeError):
        return text[:120]


def _apply(answer: Answer, event: dict, started: float) -> None:
    kind = event.get("type")
    if kind == "content_block_start":
        block = dict(event["content_block"])
        block["partial"] = ""
        answer.blocks.append(block)
    elif kind == "content_block_delta":
        if answer.first is None:
            answer.first = time.monotonic() - started
        delta, block = event["delta"], answer.blocks[-1]
        for key in ("text", "thinking"):
            if key in delta:
                block[key] = block.get(key, "") + delta[key]
        block["partial"] += delta.get("partial_json", "")
    elif kind == "message_delta":
        answer.output_tokens = (event.get("usage") or {}).get("output_tokens") or answer.output_tokens
    elif kind == "error":
        answer.error = f"upstream error: {_message(json.dumps(event))}"


def check_text(client: httpx.Client, result: Result) -> Check:
    answer = ask(client, [{"role": "user", "content": "Reply with one short sentence: what is 2 + 2?"}])
    if answer.error:
        return Check("text", "fail", answer.error)
    if answer.first is not None:
        result.ttft_ms = round(answer.first * 1000)
        streaming = answer.end - answer.first
        if answer.output_tokens and streaming > 0:
            result.tokens_per_s = round(answer.output_tokens / streaming, 1)
    return Check("text", "pass") if answer.text().strip() else Check("text", "fail", "no text")


def _tool_calls(answer: Answer, name: str, tool: dict) -> tuple[list[dict], str | None]:
    """The answer's calls to `name` with parsed arguments, or the reason they do not count."""
    calls = answer.tools()
    if not calls:
        return [], "no tool call"
    if any(c["name"] != name for c in calls):
        return [], f"wrong tool ({', '.join(sorted({c['name'] for c in calls}))[:40]})"
    for call in calls:
        try:
            call["input"] = json.loads(call["partial"] or "{}")
        except ValueError:
            return [], "invalid JSON arguments"
        problem = schema_problem(tool, call["input"])
        if problem:
            return [], f"arguments do not match the schema: {problem}"
    return calls, None


def check_tool_call(client: httpx.Client) -> Check:
    answer = ask(client, [{"role": "user", "content": "List the files in the current directory, with their "
                                                     "sizes. Use the Bash tool to run `ls -la`."}], TOOLS)
    if answer.error:
        return Check("tool_call", "fail", answer.error)
    calls, reason = _tool_calls(answer, "Bash", BASH)
    if reason:
        return Check("tool_call", "fail", reason)
    return Check("tool_call", "pass") if len(calls) >= 1 else Check("tool_call", "fail", "no tool call")


def check_parallel(client: httpx.Client) -> Check:
    answer = ask(client, [{"role": "user", "content": "Read the two files /tmp/probe/a.txt and /tmp/probe/b.txt. "
                                                     "Call the Read tool twice in this one reply, in parallel."}],
                 TOOLS)
    if answer.error:
        return Check("parallel_tools", "fail", answer.error)
    calls, reason = _tool_calls(answer, "Read", READ)
    if reason:
        return Check("parallel_tools", "fail", reason)
    if len(calls) < 2:
        return Check("parallel_tools", "fail", "one tool call instead of two")
    return Check("parallel_tools", "pass")


def check_tool_result(client: httpx.Client) -> Check:
    nonce = f"orb-{token_hex(4)}"
    messages = [
        {"role": "user", "content": "What is the code written in /tmp/probe/code.txt? Answer with the code."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_probe01", "name": "Read",
                                           "input": {"file_path": "/tmp/probe/code.txt"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_probe01",
                                      "content": f"     1\tThe code is {nonce}\n"}]},
    ]
    answer = ask(client, messages, TOOLS)
    if answer.error:
        return Check("tool_result", "fail", answer.error)
    if nonce in answer.text():
        return Check("tool_result", "pass")
    return Check("tool_result", "fail", "ignored the tool result" if not answer.tools() else "called a tool again")


def check_thinking(client: httpx.Client, reasoning: bool | None) -> Check:
    if reasoning is False:
        return Check("thinking", "n/a", "no reasoning (catalogue)")
    answer = ask(client, [{"role": "user", "content": "Think it through, then answer: is 1001 a prime?"}],
                 max_tokens=2048, thinking=1024)
    if answer.error:
        return Check("thinking", "fail", answer.error)
    thought = any(b["type"] in ("thinking", "redacted_thinking") and (b.get("thinking") or b.get("data"))
                  for b in answer.blocks)
    return Check("thinking", "pass") if thought else Check("thinking", "fail", "no reasoning returned")


def check_image(client: httpx.Client, vision: bool | None) -> Check:
    if vision is False:
        return Check("image", "n/a", "no vision (catalogue)")
    data = base64.b64encode(png((220, 20, 20))).decode()
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
               {"type": "text", "text": "What colour is this image? Answer with one word."}]
    answer = ask(client, [{"role": "user", "content": content}], max_tokens=64)
    if answer.error:
        return Check("image", "fail", answer.error)
    return Check("image", "pass") if "red" in answer.text().lower() else Check("image", "fail", "wrong colour")


def battery(client: httpx.Client, model: str, reasoning: bool | None, vision: bool | None) -> Result:
    """Every check for one model, through `client` (a proxy serving that model on every tier)."""
    result = Result(model)
    result.checks = [check_text(client, result), check_tool_call(client), check_parallel(client),
                     check_tool_result(client), check_thinking(client, reasoning), check_image(client, vision)]
    return result
