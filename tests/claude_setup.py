"""Install the pinned Claude Code from npm into `.cache/claude-code` (reused when present)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from orbridge.cli.claude_install import TESTED_VERSION

# the version orbridge installs for users, so the two cannot drift (the newest: tool search on)
VERSION = os.environ.get("ORBRIDGE_TEST_CLAUDE_VERSION", TESTED_VERSION)
OLDER = "2.1.197"  # the version the traffic research was captured with; still in users' hands
ROOT = Path(__file__).resolve().parent.parent


def binary(version: str = VERSION) -> Path:
    return ROOT / ".cache" / "claude-code" / version / "node_modules" / ".bin" / "claude"


BIN = binary()


def install(version: str = VERSION) -> Path:
    """Return the claude binary, installing it first if needed; raise RuntimeError when impossible."""
    path = binary(version)
    if path.exists():
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    prefix = ROOT / ".cache" / "claude-code" / version
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                             f"@anthropic-ai/claude-code@{version}"], capture_output=True, text=True, timeout=900)
    if result.returncode != 0 or not path.exists():
        raise RuntimeError(f"npm install failed: {result.stderr[-2000:]}")
    return path


if __name__ == "__main__":
    try:
        print(install())
    except RuntimeError as exc:
        print(f"claude setup: {exc}", file=sys.stderr)
        sys.exit(1)
