"""Install the pinned Claude Code from npm into `.cache/claude-code` (reused when present)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = os.environ.get("ORBRIDGE_TEST_CLAUDE_VERSION", "2.1.332")
ROOT = Path(__file__).resolve().parent.parent
PREFIX = ROOT / ".cache" / "claude-code" / VERSION
BIN = PREFIX / "node_modules" / ".bin" / "claude"


def installed() -> Path | None:
    return BIN if BIN.exists() else None


def install() -> Path:
    """Return the claude binary, installing it first if needed; raise RuntimeError when impossible."""
    if BIN.exists():
        return BIN
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    PREFIX.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(PREFIX),
                             f"@anthropic-ai/claude-code@{VERSION}"], capture_output=True, text=True, timeout=900)
    if result.returncode != 0 or not BIN.exists():
        raise RuntimeError(f"npm install failed: {result.stderr[-2000:]}")
    return BIN


if __name__ == "__main__":
    try:
        print(install())
    except RuntimeError as exc:
        print(f"claude setup: {exc}", file=sys.stderr)
        sys.exit(1)
