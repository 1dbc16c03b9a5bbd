"""Local token counts: `count_tokens` for the count_tokens endpoint and routing thresholds, and a cheap
`estimate_tokens` for message_start usage and max_tokens room.

count_tokens is tiktoken's cl100k_base over the text Claude Code would send: system, messages (text, tool
inputs, tool results), tool schemas, plus a fixed cost per image and per message. No upstream call; an
estimate, not Anthropic's exact count. cl100k rather than o200k: the same accuracy for a non-Claude
tokenizer at half the memory (44 vs 79 MiB) and load time, loaded only when first needed, so the default
Claude Code path (which counts only for `/context`) never pays for it. Offline machines use the encoding
files LiteLLM ships (found without importing LiteLLM); without any encoding it falls back to chars / 4.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

IMAGE_TOKENS = 1600  # Anthropic's cost of a full-size image (about 1.15 megapixels)
MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 8

_lock = threading.Lock()
_encoder: Callable[[str], int] | None = None


def _bundled_cache_dir() -> str | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return str(path) if path.is_dir() else None


def _load() -> Callable[[str], int]:
    try:
        if "TIKTOKEN_CACHE_DIR" not in os.environ:
            bundled = _bundled_cache_dir()
            if bundled:
                os.environ["TIKTOKEN_CACHE_DIR"] = bundled
        import tiktoken

        enc = tiktoken.get_encoding("cl100k_base")
        encode = enc.encode_ordinary
        return lambda text: len(encode(text))
    except Exception:  # no encoding reachable: offline with no bundled copy
        return lambda text: (len(text) + 3) // 4


def encoder() -> Callable[[str], int]:
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = _load()
    return _encoder


def _collect(value: object, texts: list[str]) -> int:
    """Append the countable text of a content value; return the fixed-cost tokens (images)."""
    if isinstance(value, str):
        texts.append(value)
        return 0
    if not isinstance(value, list):
        return 0
    fixed = 0
    for block in value:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "image":
            fixed += IMAGE_TOKENS
        elif kind == "document":
            source = block.get("source") or {}
            data = source.get("data")
            if isinstance(data, str) and source.get("type") == "text":
                texts.append(data)
            elif isinstance(data, str):
                fixed += len(data) // 200  # a rough figure for a base64 PDF
        elif kind == "tool_use":
            texts.append(block.get("name") or "")
            texts.append(json.dumps(block.get("input") or {}, ensure_ascii=False))
        elif kind == "tool_result":
            fixed += _collect(block.get("content"), texts)
        elif kind == "thinking":
            texts.append(block.get("thinking") or "")
        elif kind == "tool_reference":
            texts.append(block.get("tool_name") or "")
    return fixed


def _texts(body: dict) -> tuple[list[str], int]:
    texts: list[str] = []
    fixed = _collect(body.get("system"), texts)
    messages = body.get("messages") or []
    for msg in messages:
        if isinstance(msg, dict):
            fixed += _collect(msg.get("content"), texts) + MESSAGE_OVERHEAD
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            fixed += TOOL_OVERHEAD
            texts.append(tool.get("name") or "")
            texts.append(tool.get("description") or "")
            if tool.get("input_schema") is not None:
                texts.append(json.dumps(tool["input_schema"], ensure_ascii=False))
    return texts, fixed


def count_tokens(body: dict) -> int:
    texts, fixed = _texts(body)
    return encoder()("\n".join(texts)) + fixed


def estimate_tokens(body: dict) -> int:
    """About 4 characters per token: within ~15% of count_tokens on Claude Code traffic, at no memory cost."""
    texts, fixed = _texts(body)
    return sum(len(t) for t in texts) // 4 + fixed
