"""What a wire fake is told to answer: turns made of parts, or failures, one per request in order."""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field


@dataclass
class Text:
    text: str


@dataclass
class Thinking:
    """Reasoning text. `signature` None: the fake invents one only where the provider always sends one."""

    text: str
    signature: str | None = None


@dataclass
class ToolCall:
    """A function call; `id` None: the fake makes a provider-style id (or none, where the provider has none)."""

    name: str
    args: dict
    id: str | None = None

    @property
    def arguments(self) -> str:
        return json.dumps(self.args, ensure_ascii=False)


Part = Text | Thinking | ToolCall


@dataclass
class Turn:
    """One model reply. finish: "stop" | "tool_calls" | "length" (None: tool_calls when a call is in it).
    usage: (input_tokens, output_tokens[, reasoning_tokens]), output counting the reasoning.
    chunks: how many deltas each text (and tool arguments, where the provider streams them) is split in."""

    parts: list[Part] = field(default_factory=list)
    finish: str | None = None
    usage: tuple[int, ...] = (12, 7)
    chunks: int = 1

    def __post_init__(self) -> None:
        if self.finish is None:
            self.finish = "tool_calls" if self.calls else "stop"

    @property
    def calls(self) -> list[ToolCall]:
        return [p for p in self.parts if isinstance(p, ToolCall)]


FAIL_KINDS = ("auth", "rate_limit", "server", "context", "output_cap")


@dataclass
class Fail:
    """A provider error, rendered as that provider's real body, status and headers. `retry_after` (seconds) goes
    where the provider gives a hint: Gemini's RetryInfo, Azure's retry-after; Bedrock, Cohere, Mistral give none."""

    kind: str
    retry_after: int = 17

    def __post_init__(self) -> None:
        if self.kind not in FAIL_KINDS:
            raise ValueError(f"Fail kind must be one of {FAIL_KINDS}")


def split(text: str, n: int) -> list[str]:
    """`text` in `n` pieces (fewer when it is shorter), never empty pieces unless the text is empty."""
    if not text or n <= 1:
        return [text]
    size = -(-len(text) // n)
    return [text[i:i + size] for i in range(0, len(text), size)]


def token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))
