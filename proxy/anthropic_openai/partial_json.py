"""Close a tool call's JSON arguments that the upstream cut off (max_tokens reached, a model's slip).

Only text can be appended, since earlier pieces have already been streamed; the suffix makes the whole
parse, so Claude Code gets a tool_use input it can validate (and report) instead of unparseable JSON.
"""

from __future__ import annotations

import json


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def repair_suffix(text: str) -> str | None:
    """'' when `text` already parses (or is empty), a suffix that makes it parse, or None if none does."""
    if not text.strip() or _parses(text):
        return ""
    stack: list[str] = []
    in_string = escaped = False
    last = ""
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
        if not ch.isspace():
            last = ch
    closing = "".join(reversed(stack))
    candidates = []
    if in_string:
        close = ("\\" if escaped else "") + '"'
        candidates += [close + closing, close + ": null" + closing]  # a value, or a key awaiting one
    elif last == ":":
        candidates.append("null" + closing)
    elif last == ",":
        candidates.append(('"_truncated": true' if stack and stack[-1] == "}" else "null") + closing)
    else:
        candidates.append(closing)
        for literal in ("true", "false", "null"):
            for i in range(1, len(literal)):
                if text.endswith(literal[:i]):
                    candidates.append(literal[i:] + closing)
        candidates.append("0" + closing)  # a number cut after "-" or "."
    return next((c for c in candidates if _parses(text + c)), None)
