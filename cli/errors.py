"""One kind of user-facing failure: a one-line message with the fix, never a traceback."""

from __future__ import annotations

import sys


class CLIError(Exception):
    def __init__(self, message: str, fix: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.code = code


def report(exc: CLIError) -> int:
    """Print the failure as users see it (`orbridge: …` and `  fix: …` on stderr); its exit code. The one
    printer for both entries (entry.py's fast `run` path and the Typer app)."""
    fix = f"\n  fix: {exc.fix}" if exc.fix else ""
    print(f"orbridge: {exc.message}{fix}", file=sys.stderr)
    return exc.code
