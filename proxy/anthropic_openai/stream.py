"""OpenAI chat-completion chunks -> Anthropic stream events. A pure state machine: no I/O.

Guarantees, whatever order the upstream sends things in: one message_start; blocks with strictly
increasing indexes, each started, fed only deltas of its own type, and stopped before the next begins;
a thinking block always ends with a signature_delta; a tool_use block starts with `input: {}` and its
input_json_delta pieces concatenate to exactly the arguments the upstream sent; then one message_delta
and one message_stop. Tool calls other than the one being streamed are buffered and emitted whole after
it, so calls interleaved by index never mix.
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass, field

from ..errors import ProxyError
from ..sse import dumps
from . import reasoning
from .partial_json import repair_suffix
from .think_tags import ThinkTags
from .tools import ToolNames

_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "safety": "refusal",
    "recitation": "refusal",
    "eos": "end_turn",
}


# Ids only need to be unique, not secret: a generator seeded once from the OS, not a system call per id
# (two or more a request, on every request's path).
_ids = random.Random(secrets.randbits(128))


def new_message_id() -> str:
    return f"msg_{_ids.getrandbits(96):024x}"


def new_tool_id() -> str:
    return f"toolu_{_ids.getrandbits(96):024x}"


@dataclass
class _Tool:
    id: str | None = None
    name: str | None = None
    args: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # argument text already streamed to the client
    state: str = "pending"  # pending -> open -> done


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    reported: bool = False


def read_usage(raw: dict, usage: Usage) -> None:
    """OpenAI usage (prompt tokens include cached ones) -> Anthropic convention (input excludes cache)."""
    prompt = int(raw.get("prompt_tokens") or 0)
    details = raw.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or raw.get("cache_read_input_tokens") or 0)
    written = int(details.get("cache_write_tokens") or raw.get("cache_creation_input_tokens") or 0)
    usage.cache_read = cached
    usage.cache_write = written
    usage.input_tokens = max(prompt - cached - written, 0)
    usage.output_tokens = int(raw.get("completion_tokens") or 0)
    usage.reasoning_tokens = int((raw.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    if isinstance(raw.get("cost"), (int, float)):
        usage.cost = float(raw["cost"])
    usage.reported = True


def usage_dict(usage: Usage) -> dict:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": usage.output_tokens,
    }


class StreamTranslator:
    """Feed parsed upstream chunks; collect the Anthropic events to send, in order."""

    def __init__(
        self,
        client_model: str,
        names: ToolNames,
        stop_sequences: list[str] | None = None,
        input_tokens: int = 0,
        message_id: str | None = None,
    ) -> None:
        self.message_id = message_id or new_message_id()
        self.client_model = client_model
        self.names = names
        self.stop_sequences = stop_sequences or []
        self.usage = Usage(input_tokens=input_tokens)
        self.finish_reason: str | None = None
        self.matched_stop: str | None = None
        self.emitted_text_chars = 0
        self.first_content = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._open_tool: _Tool | None = None
        self._tools: dict[int, _Tool] = {}
        self._tool_order: list[_Tool] = []
        self._ids: set[str] = set()
        self._think_source = "reasoning"
        self._think_sig: str | None = None
        self._think_fmt: str | None = None
        self._think_enc: list[dict] = []
        self._ended = False
        self._citations: dict[str, str] = {}  # url -> title, from OpenRouter's web plugin
        self._tags = ThinkTags()  # a leading <think>…</think> in the content becomes a thinking block

    # -- public API -------------------------------------------------------------------------------

    def start(self) -> list[dict]:
        return [{
            "type": "message_start",
            "message": {
                "id": self.message_id,
                "type": "message",
                "role": "assistant",
                "model": self.client_model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": self.usage.input_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                },
            },
        }]

    def feed(self, chunk: dict) -> list[dict]:
        out: list[dict] = []
        if isinstance(chunk.get("usage"), dict):
            read_usage(chunk["usage"], self.usage)
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            if delta:
                self._annotations(delta.get("annotations"))
                self._reasoning(delta, out)
                content = delta.get("content")
                if isinstance(content, str) and content:
                    self._content(content, out)
                elif isinstance(content, list):  # content parts (Mistral's thinking models, some gateways)
                    self._parts(content, out)
                for call in delta.get("tool_calls") or ():
                    self._tool_piece(call, out)
            reason = choice.get("finish_reason")
            if reason:
                if reason == "error":
                    raise ProxyError(502, "api_error", "The upstream model stopped with an error mid-answer.")
                self.finish_reason = reason
                stop = choice.get("stop_reason") or choice.get("matched_stop")
                if isinstance(stop, str) and stop in self.stop_sequences:
                    self.matched_stop = stop
        return out

    def finish(self) -> list[dict]:
        """Close every block and end the message; call once, after the upstream finished."""
        out: list[dict] = []
        self._pieces(self._tags.flush(), out)
        if self._citations:
            lines = "\n".join(f"- {title}: {url}" if title else f"- {url}" for url, title in self._citations.items())
            self._text(f"\n\nSources:\n{lines}", out)
        self._close(out)
        for tool in self._tool_order:
            if tool.state == "pending":
                self._open_tool_block(tool, out)
                self._close(out)
        self._ended = True
        if not self.usage.reported:
            self.usage.output_tokens = max(1, self.emitted_text_chars // 4)
        out.append({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(), "stop_sequence": self.matched_stop},
            "usage": usage_dict(self.usage),
        })
        out.append({"type": "message_stop"})
        return out

    def stop_reason(self) -> str:
        reason = STOP_REASONS.get((self.finish_reason or "stop").lower(), "end_turn")
        if self.matched_stop:
            return "stop_sequence"
        if self._tool_order and reason == "end_turn":
            return "tool_use"
        if reason == "tool_use" and not self._tool_order:
            return "end_turn"  # "tool_calls" with no call in it: there is no tool to run
        return reason

    @property
    def ended(self) -> bool:
        return self._ended

    # -- blocks -----------------------------------------------------------------------------------

    def _begin(self, kind: str, block: dict, out: list[dict]) -> None:
        self._close(out)
        self._index += 1
        self._open = kind
        self.first_content = True
        out.append({"type": "content_block_start", "index": self._index, "content_block": block})

    def _delta(self, delta: dict, out: list[dict]) -> None:
        out.append({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self, out: list[dict]) -> None:
        if self._open is None:
            return
        if self._open == "thinking":
            sig = reasoning.make_signature(self._think_source, self._think_sig, self._think_fmt,
                                           self._think_enc)
            self._delta({"type": "signature_delta", "signature": sig}, out)
            self._think_sig, self._think_fmt, self._think_enc = None, None, []
        elif self._open == "tool" and self._open_tool is not None:
            suffix = repair_suffix("".join(self._open_tool.sent))
            if suffix:  # arguments cut off upstream: close them so the input still parses
                self._delta({"type": "input_json_delta", "partial_json": suffix}, out)
            self._open_tool.state = "done"
            self._open_tool = None
        out.append({"type": "content_block_stop", "index": self._index})
        self._open = None

    def _flush_tools(self, out: list[dict]) -> None:
        """Before text or thinking follows tool calls: finish every tool so far, buffered ones whole."""
        if self._open == "tool":
            self._close(out)
        for tool in self._tool_order:
            if tool.state == "pending" and tool.name:
                self._open_tool_block(tool, out)
                self._close(out)

    def _text(self, text: str, out: list[dict]) -> None:
        if self._open != "text":
            self._flush_tools(out)
            self._begin("text", {"type": "text", "text": ""}, out)
        self.emitted_text_chars += len(text)
        self._delta({"type": "text_delta", "text": text}, out)

    def _content(self, text: str, out: list[dict]) -> None:
        if self._tags.done:
            self._text(text, out)
            return
        self._pieces(self._tags.feed(text), out)

    def _pieces(self, pieces: list[tuple[bool, str]], out: list[dict]) -> None:
        for thinking, piece in pieces:
            if thinking:
                self._think_text(piece, out)
            else:
                self._text(piece, out)

    def _parts(self, parts: list, out: list[dict]) -> None:
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str) and part["text"]:
                self._content(part["text"], out)
            elif part.get("type") in ("thinking", "reasoning"):
                inner = part.get("thinking", part.get("text", ""))
                text = inner if isinstance(inner, str) else "".join(
                    p.get("text", "") for p in inner if isinstance(p, dict)) if isinstance(inner, list) else ""
                if text:
                    self._think_text(text, out)

    def _think_text(self, text: str, out: list[dict]) -> None:
        if self._open != "thinking":
            self._flush_tools(out)
            self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            self._think_source = "think_tag"
        if text:
            self.emitted_text_chars += len(text)
            self._delta({"type": "thinking_delta", "thinking": text}, out)

    def _reasoning(self, delta: dict, out: list[dict]) -> None:
        text = delta.get("reasoning_content")
        source = "reasoning_content"
        if not isinstance(text, str) or not text:
            text, source = delta.get("reasoning"), "reasoning"
        details = delta.get("reasoning_details")
        detail_text = []
        encrypted = []
        if isinstance(details, list):
            for d in details:
                if not isinstance(d, dict):
                    continue
                kind = d.get("type")
                if kind == "reasoning.encrypted":
                    encrypted.append(d)
                elif kind in ("reasoning.text", "reasoning.summary"):
                    piece = d.get("text") if kind == "reasoning.text" else d.get("summary")
                    if isinstance(piece, str):
                        detail_text.append(piece)
                    if d.get("signature"):
                        self._think_sig = d["signature"]
                    if d.get("format"):
                        self._think_fmt = d["format"]
        if not isinstance(text, str) or not text:
            text = "".join(detail_text)
        if detail_text or encrypted or self._think_sig:
            source = "reasoning_details"  # the upstream speaks reasoning_details: it gets them back, signed
        if not text and not encrypted:
            return
        if self._open != "thinking":
            if self._open == "text" and not text:
                self._think_enc.extend(encrypted)  # carried on the next thinking block's signature
                return
            self._flush_tools(out)
            self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            self._think_source = source
        if source == "reasoning_details":
            self._think_source = source
        self._think_enc.extend(encrypted)
        if text:
            self.emitted_text_chars += len(text)
            self._delta({"type": "thinking_delta", "thinking": text}, out)

    def _annotations(self, annotations: object) -> None:
        for note in annotations or () if isinstance(annotations, list) else ():
            cite = note.get("url_citation") if isinstance(note, dict) else None
            if isinstance(cite, dict) and isinstance(cite.get("url"), str):
                self._citations.setdefault(cite["url"], str(cite.get("title") or ""))

    def _tool_piece(self, call: dict, out: list[dict]) -> None:
        if not isinstance(call, dict):
            return
        idx = call.get("index")
        if not isinstance(idx, int):
            idx = len(self._tool_order) if call.get("id") and call.get("id") not in {
                t.id for t in self._tool_order} else max(self._tools, default=0)
        tool = self._tools.get(idx)
        if tool is None:
            tool = self._tools[idx] = _Tool()
            self._tool_order.append(tool)
        if tool.state == "done":
            return  # a late fragment for a finished call cannot be sent any more
        if call.get("id") and not tool.id:
            tool.id = str(call["id"])
        fn = call.get("function") or {}
        if fn.get("name") and not tool.name:
            tool.name = self.names.inbound(fn["name"])
        piece = fn.get("arguments")
        if isinstance(piece, dict):  # some servers send the arguments as an object
            piece = dumps(piece)
        if tool.state == "open":
            if isinstance(piece, str) and piece:
                self.emitted_text_chars += len(piece)
                tool.sent.append(piece)
                self._delta({"type": "input_json_delta", "partial_json": piece}, out)
            return
        if isinstance(piece, str) and piece:
            tool.args.append(piece)
        if tool.name and self._open != "tool":
            self._open_tool_block(tool, out)

    def _open_tool_block(self, tool: _Tool, out: list[dict]) -> None:
        tool_id = tool.id if tool.id and _TOOL_ID.match(tool.id) and tool.id not in self._ids else None
        tool.id = tool_id or new_tool_id()
        self._ids.add(tool.id)
        self._begin("tool", {"type": "tool_use", "id": tool.id, "name": tool.name or "unknown_tool",
                             "input": {}}, out)
        self._open_tool = tool
        tool.state = "open"
        args = "".join(tool.args)
        tool.args = []
        if args:
            self.emitted_text_chars += len(args)
            tool.sent.append(args)
            self._delta({"type": "input_json_delta", "partial_json": args}, out)
