"""Claude Code from a fresh machine: `setup claude`, `run --install-claude` and the terminal prompt, run as
real subprocesses with a fake `npm` first on PATH (it records its arguments and installs a tiny `claude`)."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from orbridge.cli.claude_install import TESTED_VERSION

from . import claude_setup
from .conftest import CANARY, ORBRIDGE, add_profile

FAKE_NPM = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    from pathlib import Path
    with open(os.environ["FAKE_NPM_LOG"], "a") as log:
        log.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}) + "\\n")
    if os.environ.get("FAKE_NPM_FAIL"):
        for i in range(30):
            print(f"npm error line {{i}}", file=sys.stderr)
        sys.exit(1)
    bin_dir = Path(sys.argv[sys.argv.index("--prefix") + 1]) / "node_modules" / ".bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    version = os.environ.get("FAKE_CLAUDE_VERSION", "{version}")
    (bin_dir / "claude").write_text('#!/bin/sh\\n[ "$1" = --version ] && echo "' + version + ' (Claude Code)" '
                                    '|| echo "installed claude: $*"\\n')
    (bin_dir / "claude").chmod(0o700)
""")


@pytest.fixture
def npm(home):
    """`home` with PATH holding only a fake npm; `npm.calls()` lists what it was run with."""
    bin_dir = home.root / "bin"
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(FAKE_NPM.format(python=sys.executable, version=TESTED_VERSION))
    script.chmod(0o700)
    log = home.root / "npm.jsonl"
    home.env.update(PATH=str(bin_dir), XDG_DATA_HOME=str(home.root / "data"), FAKE_NPM_LOG=str(log))
    home.bin = bin_dir
    home.prefix = home.root / "data" / "orbridge" / "claude-code" / TESTED_VERSION
    home.calls = lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return home


def expected_argv(prefix) -> list[str]:
    return ["install", "--prefix", str(prefix), "--no-audit", "--no-fund",
            f"@anthropic-ai/claude-code@{TESTED_VERSION}"]


def test_the_e2e_suite_pins_the_version_orbridge_installs():
    assert claude_setup.VERSION == TESTED_VERSION or os.environ.get("ORBRIDGE_TEST_CLAUDE_VERSION")


def test_setup_claude_installs_the_tested_version_privately_without_keys(npm):
    r = npm("setup", "claude", extra={"OPENROUTER_API_KEY": CANARY})
    assert r.returncode == 0, r.stderr
    [call] = npm.calls()
    assert call["argv"] == expected_argv(npm.prefix)  # never -g
    assert CANARY not in json.dumps(call["env"])  # the package's install script gets no key
    for folder in (npm.prefix.parent.parent, npm.prefix.parent, npm.prefix):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert f"installed Claude Code {TESTED_VERSION} into {npm.prefix}" in r.stderr
    r = npm("setup", "claude")
    assert r.returncode == 0 and "already installed" in r.stdout and len(npm.calls()) == 1


def test_run_install_claude_installs_then_runs_and_later_runs_find_it(npm):
    add_profile(npm)
    r = npm("run", "--install-claude", "--", "claude", "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{TESTED_VERSION} (Claude Code)"
    assert [c["argv"] for c in npm.calls()] == [expected_argv(npm.prefix)]
    (npm.bin / "npm").unlink()
    r = npm("run", "--", "-p", "hi")  # no npm, no flag, no terminal: orbridge's own install is found
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "installed claude: -p hi"
    (npm.bin / "claude").write_text("#!/bin/sh\necho path claude\n")
    (npm.bin / "claude").chmod(0o700)
    r = npm("run", "--install-claude", "--", "claude")  # PATH comes before orbridge's data dir
    assert r.returncode == 0 and r.stdout.strip() == "path claude", r.stderr


def test_without_a_terminal_or_flag_nothing_is_installed(npm):
    add_profile(npm)
    r = npm("run", "--", "claude")
    assert r.returncode == 127 and npm.calls() == []
    assert "orbridge: claude not found" in r.stderr and "fix: `orbridge setup claude`" in r.stderr
    assert "npm install -g" not in r.stderr and "[Y/n]" not in r.stderr  # no question nobody can answer


def test_npm_failing_shows_its_error_and_leaves_nothing_behind(npm):
    r = npm("setup", "claude", extra={"FAKE_NPM_FAIL": "1"})
    assert r.returncode == 1
    assert "npm error line 29" in r.stderr and "npm error line 10" in r.stderr  # its last 20 lines
    assert "npm error line 9\n" not in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("fix:") == 1 and "orbridge setup claude" in r.stderr.split("fix:")[1]
    assert not npm.prefix.exists()  # a later run does not take a failed install for a good one
    add_profile(npm)
    r = npm("run", "--install-claude", "--", "claude", extra={"FAKE_NPM_FAIL": "1"})
    assert r.returncode == 1 and "npm error line 29" in r.stderr


def test_without_npm_the_node_hint_and_127(npm):
    (npm.bin / "npm").unlink()
    r = npm("setup", "claude")
    assert r.returncode == 127 and "Traceback" not in r.stderr
    assert "npm" in r.stderr and "fix: install Node.js" in r.stderr and "orbridge setup claude" in r.stderr
    add_profile(npm)
    r = npm("run", "--install-claude", "--", "claude")
    assert r.returncode == 127 and "fix: install Node.js" in r.stderr


def run_on_a_terminal(orb, answer: bytes, *args: str) -> tuple[int, str]:
    """`orbridge run ARGS` with a pty as its terminal; `answer` is typed once the prompt shows."""
    master, slave = os.openpty()
    proc = subprocess.Popen([*ORBRIDGE, "run", *args], env=orb.env, cwd=orb.root, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True)
    os.close(slave)
    out, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not answered and b"[Y/n]" in out:
                os.write(master, answer)
                answered = True
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                out += chunk
        return proc.wait(timeout=30), out.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_on_a_terminal_run_asks_once_and_no_means_no(npm):
    add_profile(npm)
    rc, out = run_on_a_terminal(npm, b"n\n", "--", "claude")
    assert f"Install Claude Code {TESTED_VERSION} into {npm.prefix} with npm? [Y/n]" in out
    assert rc == 127 and npm.calls() == [] and not npm.prefix.exists()
    rc, out = run_on_a_terminal(npm, b"\n", "--", "claude", "--version")  # Enter: the default, yes
    assert rc == 0, out
    assert out.count("[Y/n]") == 1 and f"{TESTED_VERSION} (Claude Code)" in out
    assert [c["argv"] for c in npm.calls()] == [expected_argv(npm.prefix)]


def test_doctor_shows_the_version_whether_tested_and_where(npm):
    r = npm("doctor", "--json")
    claude = json.loads(r.stdout)["checks"][0]
    assert claude["status"] == "fail" and claude["fix"] == "orbridge setup claude"
    r = npm("doctor", "--json", extra={"ORBRIDGE_CLAUDE": "/nonexistent/claude"})
    assert json.loads(r.stdout)["checks"][0]["detail"] == "not found (ORBRIDGE_CLAUDE /nonexistent/claude)"
    assert npm("setup", "claude").returncode == 0
    add_profile(npm)
    r = npm("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["claude binary"]["status"] == "ok"
    assert checks["claude binary"]["detail"] == (f"{TESTED_VERSION} (tested): {npm.prefix}/node_modules/.bin/claude "
                                                 "(from orbridge's data dir)")
    assert checks["claude onboarding"]["fix"] == "run `orbridge run -- claude` once and finish the theme picker"
    other = npm.bin / "claude"
    other.write_text("#!/bin/sh\necho '2.1.400 (Claude Code)'\n")
    other.chmod(0o700)
    r = npm("doctor")
    assert f"✓ claude binary: 2.1.400 (orbridge is tested with {TESTED_VERSION}): {other} (from PATH)" in r.stdout


def test_found_claude_starts_without_importing_the_installer(npm):
    (npm.bin / "claude").write_text("#!/bin/sh\n")
    (npm.bin / "claude").chmod(0o700)
    code = ("import sys; from orbridge.cli.run import find_command; print(find_command(['claude'], None)[0]); "
            "print('orbridge.cli.claude_install' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], env=npm.env, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == [str(npm.bin / "claude"), "False"], r.stderr


def test_an_earlier_install_still_runs_after_an_upgrade(npm):
    older = npm.prefix.parent / "2.1.100" / "node_modules" / ".bin"
    older.mkdir(parents=True)
    (older / "claude").write_text("#!/bin/sh\necho older claude\n")
    (older / "claude").chmod(0o700)
    add_profile(npm)
    r = npm("run", "--", "claude")
    assert r.returncode == 0 and r.stdout.strip() == "older claude", r.stderr
    assert npm.calls() == []
