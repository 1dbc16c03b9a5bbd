"""End to end: `orbridge run --profile e2e -- claude -p … --output-format stream-json --verbose` as a
real subprocess, with a scratch HOME and config, against the fake upstream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from .. import claude_setup

ORBRIDGE = [sys.executable, "-m", "orbridge.cli"]


def _claude(version: str) -> Path:
    try:
        return claude_setup.install(version)
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Claude Code {version} is required in CI: {exc}")
        pytest.skip(f"Claude Code {version} not available ({exc}); install npm to run the e2e tests")


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return _claude(claude_setup.VERSION)


@pytest.fixture(scope="session")
def older_claude_bin() -> Path:
    return _claude(claude_setup.OLDER)


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def events(self) -> list[dict]:
        out = []
        for line in self.stdout.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    @property
    def result(self) -> dict:
        return next(e for e in self.events if e.get("type") == "result")

    def tool_uses(self) -> list[dict]:
        return [b for e in self.events if e.get("type") == "assistant"
                for b in e["message"]["content"] if b.get("type") == "tool_use"]


class Runner:
    def __init__(self, root: Path, claude: Path, fake) -> None:
        self.root = root
        self.claude = claude
        self.fake = fake
        self.home = root / "home"
        self.work = root / "work"
        for d in (self.home, self.work, root / "cfg"):
            d.mkdir(parents=True, exist_ok=True)
        (root / "cfg" / "orbridge").mkdir(parents=True, exist_ok=True)
        (root / "cfg" / "orbridge" / "config.toml").write_text(
            f'active = "e2e"\n\n[profiles.e2e]\nprovider = "openrouter"\nbase_url = "{fake.base_url}"\n'
            'key_name = "openrouter"\n'
            'model = "fake/model"\nhaiku = "fake/haiku"\n', encoding="utf-8")
        (root / "cfg" / "orbridge" / "keys.json").write_text('{"openrouter": "sk-or-e2e-canary-0042"}')
        os.chmod(root / "cfg" / "orbridge" / "keys.json", 0o600)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.root / "cfg"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
            "XDG_STATE_HOME": str(self.root / "state"),
            "ORBRIDGE_CLAUDE": str(self.claude),
            "CLAUDE_CODE_MAX_RETRIES": "2",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def run(self, prompt: str, *claude_args: str, timeout: float = 90, env: dict | None = None,
            orbridge_args: tuple = ()) -> Result:
        cmd = [*ORBRIDGE, "run", "--profile", "e2e", *orbridge_args, "--", "claude", "-p", prompt,
               "--output-format", "stream-json", "--verbose", *claude_args]
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=self.work, env=self.env(**(env or {})), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def leftovers(home: Path) -> list[str]:
    """Processes of this test (their HOME is its scratch HOME) that are still alive."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if p.environ().get("HOME") == str(home) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.fixture
def e2e(tmp_path, upstream, claude_bin):
    yield from _runner(tmp_path, upstream, claude_bin)


@pytest.fixture
def e2e_older(tmp_path, upstream, older_claude_bin):
    yield from _runner(tmp_path, upstream, older_claude_bin)


def _runner(tmp_path, upstream, claude: Path):
    runner = Runner(tmp_path, claude, upstream)
    yield runner
    deadline = time.time() + 5
    while leftovers(runner.home) and time.time() < deadline:
        time.sleep(0.1)
    assert leftovers(runner.home) == [], "processes left behind"
