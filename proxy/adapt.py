"""What the proxy learns about an endpoint at run time, from its 400s, so the next request is accepted.

Three lessons, each kept per upstream model for the life of the proxy: an output cap lower than the catalogue
says, optional parameters the endpoint rejects, and a chat template that wants a single leading system
message. `learn` reads an error and says whether asking again is worth it; `target` applies every lesson.
"""

from __future__ import annotations

import dataclasses
import re

from .anthropic_openai.request import Target
from .errors import UpstreamError, upstream_message
from .settings import ModelInfo, Settings

_NUMBERS = re.compile(r"\d[\d,]*")
_OUTPUT_WORDS = re.compile(r"max_tokens|max_completion_tokens|completion tokens|output tokens|max_?output"
                           r"|maximum tokens you requested", re.I)  # …, Gemini's maxOutputTokens, Bedrock's words
_EXCLUSIVE = re.compile(r"(\d[\d,]*) \(exclusive\)", re.I)  # Gemini: "from 1 (inclusive) to 65537 (exclusive)"
_IN_COMPLETION = re.compile(r"maximum context length is (\d+).*?\((\d+) in the messages, (\d+) in the completion",
                            re.I | re.S)

# Parameters orbridge adds that a request can do without, when an upstream says it does not take them.
OPTIONAL_PARAMS = ("response_format", "reasoning_effort", "reasoning", "parallel_tool_calls", "stream_options",
                   "user", "top_k", "usage", "plugins", "stop", "temperature", "top_p", "tool_choice")
_REJECTED = re.compile(r"unsupported|unrecogni[sz]ed|not supported|not permitted|extra (?:inputs|fields)"
                       r"|unknown (?:field|param|argument|name)|invalid (?:parameter|argument)|not allowed"
                       r"|additional properties", re.I)
_BODY_LOC = re.compile(r"""["']loc["']\s*:\s*\[\s*["']body["']\s*,\s*["'](\w+)["']\s*\]""")
_SYSTEM_POSITION = re.compile(r"system (?:message|role|prompt)s?\b.{0,60}(?:beginning|first|start|only|not "
                              r"supported|must|position)|roles must alternate", re.I)


class Adaptations:
    """Per upstream model: the lessons learned so far. One per proxy, shared by every request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.caps: dict[str, int] = {}  # upstream model -> output cap its errors revealed
        self.dropped: dict[str, set[str]] = {}  # upstream model -> optional parameters it rejected
        self.leading_system: set[str] = set()  # models whose template wants one leading system message

    def target(self, model: str) -> Target:
        """The model's dialect: the catalogue's facts, corrected by what its errors taught."""
        info = self.settings.model_info.get(model, ModelInfo())
        learned = self.caps.get(model)
        if learned is not None and (info.max_output is None or learned < info.max_output):
            info = dataclasses.replace(info, max_output=learned)
        openrouter = self.settings.upstream.is_openrouter and self.settings.upstream.kind == "openai"
        target = Target.for_model(model, openrouter, info)
        if model in self.leading_system or model in self.dropped:
            target = dataclasses.replace(target, leading_system_only=model in self.leading_system,
                                         omit=frozenset(self.dropped.get(model, ())))
        return target

    def learn(self, model: str, err: UpstreamError, body: dict, learned: set[str]) -> bool:
        """Whether `err` taught something that makes asking again worthwhile. `learned` is this request's
        lessons so far: an output cap is learned once per request (a second cap error is final)."""
        if model not in self.leading_system and system_position_hint(err):
            self.leading_system.add(model)
            return True
        drop = unsupported_param_hint(err, body)
        if drop is not None:
            self.dropped.setdefault(model, set()).add(drop)
            return True
        cap = None if "cap" in learned else output_cap_hint(err, body)
        if cap is not None:
            # The model allows fewer output tokens than Claude Code asked for: remember its cap.
            self.caps[model] = cap
            learned.add("cap")
            return True
        return False


def output_cap_hint(err: UpstreamError, body: dict) -> int | None:
    """When a 400 says the requested output is too large, the largest output it would accept."""
    if err.status not in (400, 422):
        return None
    sent = body.get("max_tokens") or body.get("max_completion_tokens")
    if not isinstance(sent, int):
        return None
    message = upstream_message(err.body)
    both = _IN_COMPLETION.search(message)
    if both:  # vLLM and friends: context = prompt + completion; only the completion part can shrink
        room = int(both.group(1)) - int(both.group(2)) - 16
        return room if 0 < room < sent else None
    if not _OUTPUT_WORDS.search(message):
        return None
    message = _EXCLUSIVE.sub(lambda m: str(int(m.group(1).replace(",", "")) - 1), message)
    numbers = [int(n.replace(",", "")) for n in _NUMBERS.findall(message)]
    below = [n for n in numbers if 256 <= n < sent]
    return max(below) if below else None


def unsupported_param_hint(err: UpstreamError, body: dict) -> str | None:
    """When a 400 says a parameter we sent is not accepted, that parameter (if the request can do without)."""
    if err.status not in (400, 422):
        return None
    message = upstream_message(err.body)
    if not _REJECTED.search(message):
        return None
    # pydantic servers (Mistral's 422) name the field only in `loc`: ["body", "reasoning_effort"]
    named = set(_BODY_LOC.findall(err.body if isinstance(err.body, str) else str(err.body)))
    for key in OPTIONAL_PARAMS:
        if key in body and (key in named or re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", message)):
            return key
    return None


def system_position_hint(err: UpstreamError) -> bool:
    """A 400 from a chat template that allows a system message only at the start."""
    return err.status in (400, 422) and bool(_SYSTEM_POSITION.search(upstream_message(err.body)))
