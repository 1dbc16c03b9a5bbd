"""`<think>…</think>` at the start of the content, as reasoning: models served without a reasoning parser
(Ollama, vLLM, llama.cpp) put their reasoning there. A pure splitter: content pieces in, (is_thinking, text)
pieces out, with a tag cut across two chunks held back until it can be told apart from text.
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class ThinkTags:
    """start -> in_think -> after_think -> done; once `done`, every piece is plain text."""

    def __init__(self) -> None:
        self.done = False
        self._state = "start"
        self._buf = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """The pieces `text` completes. A thinking piece may be "" (a thinking block opened, nothing in it yet)."""
        out: list[tuple[bool, str]] = []
        self._feed(text, out)
        return out

    def _feed(self, text: str, out: list[tuple[bool, str]]) -> None:
        if self._state == "after_think":  # the blank lines that follow </think> are not the answer
            text = text.lstrip("\n")
            if not text:
                return
            self._state, self.done = "done", True
        if self._state == "done":
            out.append((False, text))
            return
        buf = self._buf + text
        if self._state == "start":
            head = buf.lstrip()
            if len(head) < len(THINK_OPEN) and THINK_OPEN.startswith(head):
                self._buf = buf  # could still become "<think>"
                return
            if not head.startswith(THINK_OPEN):
                self._state, self._buf, self.done = "done", "", True
                out.append((False, buf))
                return
            self._state, buf = "in_think", head[len(THINK_OPEN):]
        end = buf.find(THINK_CLOSE)
        if end >= 0:
            out.append((True, buf[:end]))
            self._state, self._buf = "after_think", ""
            rest = buf[end + len(THINK_CLOSE):]
            if rest:
                self._feed(rest, out)
            return
        keep = next((n for n in range(min(len(buf), len(THINK_CLOSE) - 1), 0, -1)
                     if THINK_CLOSE.startswith(buf[-n:])), 0)
        out.append((True, buf[:len(buf) - keep]))
        self._buf = buf[len(buf) - keep:]

    def flush(self) -> list[tuple[bool, str]]:
        """At the end of the answer: what was held back (an unclosed think, or text that looked like a tag)."""
        buf, thinking = self._buf, self._state == "in_think"
        self._buf, self._state, self.done = "", "done", True
        return [(thinking, buf)] if buf else []
