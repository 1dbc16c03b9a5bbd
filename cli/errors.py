"""One kind of user-facing failure: a one-line message with the fix, never a traceback."""

from __future__ import annotations


class CLIError(Exception):
    def __init__(self, message: str, fix: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.code = code
