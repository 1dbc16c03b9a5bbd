"""Claude Code from a fresh machine: the tested version, installed with npm into orbridge's own data dir.

Why not `npm install -g`: it needs root on most systems (sudo runs a package's install script as root) and
replaces whatever claude the user already has. orbridge installs the version its end-to-end tests pin, under
`user_data_dir/claude-code/<version>`, and finds it there after `--claude`, `ORBRIDGE_CLAUDE` and PATH.

Imported only when claude is not on PATH (or by `setup` and `doctor`): `orbridge run` stays fast.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs

from orbridge.proxy.private_files import make_private_dir

from .errors import CLIError

TESTED_VERSION = "2.1.332"  # the version the e2e suite runs (tests/claude_setup.py imports it)
PACKAGE = "@anthropic-ai/claude-code"
NODE_HINT = ("install Node.js 22+ and npm (https://nodejs.org, or your package manager: apt install nodejs npm), "
             "then `orbridge setup claude`")
ERROR_LINES = 20


def root() -> Path:
    return Path(platformdirs.user_data_dir("orbridge")) / "claude-code"


def binary(version: str = TESTED_VERSION) -> Path:
    return root() / version / "node_modules" / ".bin" / "claude"


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name))


def installed() -> Path | None:
    """orbridge's own claude: the tested version if present, else the newest one installed earlier (an
    orbridge upgrade does not make a working install vanish)."""
    try:
        others = sorted((d.name for d in root().iterdir() if not d.name.startswith(".")), key=_version_key,
                        reverse=True)
    except OSError:
        return None
    for version in [TESTED_VERSION, *others]:
        path = binary(version)
        if os.access(path, os.X_OK):
            return path
    return None


def locate(claude: str | None = None) -> tuple[str | None, str]:
    """(path or None, where it was looked for): --claude > ORBRIDGE_CLAUDE > PATH > orbridge's data dir.
    An explicit path is the only one tried: running another claude than the one named would surprise."""
    env = os.environ.get("ORBRIDGE_CLAUDE")
    given = claude or env
    if given:  # Typer hands ORBRIDGE_CLAUDE over as --claude's value
        return shutil.which(given), f"{'ORBRIDGE_CLAUDE' if given == env else '--claude'} {given}"
    exe = shutil.which("claude")
    if exe:
        return exe, "PATH"
    own = installed()
    return (str(own), "orbridge's data dir") if own else (None, "PATH and orbridge's data dir")


def version_note(version_line: str) -> str:
    """`2.1.332 (tested)`, or the version with the one orbridge is tested with."""
    match = re.search(r"\d+\.\d+\.\d+", version_line)
    version = match.group(0) if match else version_line or "?"
    if version == TESTED_VERSION:
        return f"{version} (tested)"
    return f"{version} (orbridge is tested with {TESTED_VERSION})"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise CLIError("Claude Code is not installed, and npm (which installs it) is not on PATH", NODE_HINT,
                       code=127)
    return npm


def _ask(question: str) -> bool:
    """Enter, y or yes is yes; anything else, or end of input, is no."""
    sys.stderr.write(f"{question} [Y/n] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return bool(answer) and answer.strip().lower() in ("", "y", "yes")


def find_or_install(install: bool) -> str | None:
    """The claude to run when none is on PATH: orbridge's own, or one installed now (asked on a terminal,
    without asking when `install`); None when not wanted. Raises CLIError when npm is missing or fails."""
    own = installed()
    if own:
        return str(own)
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if not (install or interactive):
        return None
    npm = _npm()
    prefix = root() / TESTED_VERSION
    if not install and not _ask(f"Claude Code is not installed. Install Claude Code {TESTED_VERSION} into "
                                f"{prefix} with npm?"):
        return None
    return str(_install(npm, prefix))


def _npm_env() -> dict[str, str]:
    """npm runs the package's install script: it gets no provider key."""
    from .child_env import SECRET_VARS

    return {k: v for k, v in os.environ.items() if k not in SECRET_VARS}


def _install(npm: str, prefix: Path) -> Path:
    """`npm install --prefix` into a private folder (removed again when npm fails or is interrupted)."""
    from rich.console import Console

    created = not prefix.exists()
    make_private_dir(prefix)
    argv = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"{PACKAGE}@{TESTED_VERSION}"]
    try:
        with Console(stderr=True).status(f"installing Claude Code {TESTED_VERSION} with npm…"):
            done = subprocess.run(argv, env=_npm_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace")
        if done.returncode != 0:
            lines = (done.stderr.strip() or done.stdout.strip()).splitlines()[-ERROR_LINES:]
            print("\n".join(f"  npm: {line}" for line in lines), file=sys.stderr)
            raise CLIError(f"npm could not install {PACKAGE}@{TESTED_VERSION} (exit {done.returncode})",
                           "fix what npm says above (network, registry, Node.js 22+), then `orbridge setup claude`")
        path = prefix / "node_modules" / ".bin" / "claude"
        if not os.access(path, os.X_OK):
            raise CLIError(f"npm finished but {path} is missing", "run `orbridge setup claude` again")
    except BaseException:
        if created:
            shutil.rmtree(prefix, ignore_errors=True)
        raise
    print(f"orbridge: installed Claude Code {TESTED_VERSION} into {prefix}", file=sys.stderr)
    return path


def setup() -> None:
    """`orbridge setup claude`: install the tested version (nothing to do when it is there)."""
    path = binary()
    if os.access(path, os.X_OK):
        print(f"Claude Code {TESTED_VERSION} is already installed: {path}")
    else:
        path = _install(_npm(), root() / TESTED_VERSION)
    on_path = shutil.which("claude")
    if on_path:
        print(f"note: `orbridge run` uses the claude on PATH first ({on_path}); for this one: --claude {path}")
