"""`orbridge keys` as a subprocess: typo'd names, a variable that wins, removing what is not there, Ctrl-C."""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import termios
import time

from .conftest import ORBRIDGE

KEY = "sk-test-keys-cli-5f2e"


def _stored(home) -> dict:
    path = home.config_dir / "keys.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_name_close_to_a_known_one_is_not_stored_without_force(home):
    r = home("keys", "set", "opnai", input=KEY + "\n")
    assert r.returncode == 2 and "did you mean openai?" in r.stderr, r.stderr
    assert "orbridge keys set openai" in r.stderr and "--force" in r.stderr
    assert _stored(home) == {} and KEY not in r.stdout + r.stderr
    r = home("keys", "set", "opnai", "--force", input=KEY + "\n")
    assert r.returncode == 0 and _stored(home) == {"opnai": KEY}, r.stderr
    # a profile's key_name is a known name, and a new name close to nothing is the user's own
    assert home("profile", "add", "gw", "--base-url", "https://gw.example/v1", "--model", "m",
                "--key-name", "team-gw").returncode == 0
    assert home("keys", "set", "team-gw", input=KEY + "\n").returncode == 0
    assert home("keys", "set", "mycorp", input=KEY + "\n").returncode == 0
    assert set(_stored(home)) == {"opnai", "team-gw", "mycorp"}


def test_a_set_variable_that_wins_is_pointed_out(home):
    r = home("keys", "set", "openrouter", input=KEY + "\n", extra={"OPENROUTER_API_KEY": "sk-or-env-0000"})
    assert r.returncode == 0 and "$OPENROUTER_API_KEY is set and wins over the stored key" in r.stderr
    r = home("keys", "set", "openrouter", input=KEY + "\n")
    assert r.returncode == 0 and "wins" not in r.stderr


def test_removing_a_key_that_is_not_stored_fails(home):
    r = home("keys", "remove", "missing")
    assert r.returncode == 1 and "no stored key named 'missing'" in r.stderr and "Traceback" not in r.stderr
    assert home("keys", "set", "openai", input=KEY + "\n").returncode == 0
    r = home("keys", "remove", "openai")
    assert r.returncode == 0 and _stored(home) == {}


def _on_a_terminal(home, *args: str):
    """The command with a pseudo-terminal as its controlling terminal (so ^C is a real SIGINT)."""
    master, slave = os.openpty()

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([*ORBRIDGE, *args], env=home.env, cwd=home.root, stdin=slave, stdout=slave,
                            stderr=slave, preexec_fn=controlling_tty, close_fds=True)
    os.close(slave)
    return proc, master


def _read_until(master: int, text: bytes, seen: bytearray, timeout: float = 30) -> None:
    """Read the terminal until `text` shows, the command ends (EIO) or `timeout` passes; callers assert."""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break


def test_ctrl_c_at_the_hidden_prompt_stores_nothing(home):
    proc, master = _on_a_terminal(home, "keys", "set", "openrouter")
    seen = bytearray()
    try:
        _read_until(master, b"(input hidden): ", seen)
        assert b"(input hidden): " in seen, seen
        os.write(master, b"sk-half-typed\x03")
        assert proc.wait(30) == 130
        _read_until(master, b"\n", seen, timeout=5)
    finally:
        os.close(master)
    tail = bytes(seen).split(b"(input hidden): ", 1)[1]
    assert b"\n" in tail and tail.strip(b"\r\n^C") == b"", tail  # a newline, no traceback, no "Aborted!"
    assert _stored(home) == {}


def test_a_typo_confirmed_on_a_terminal_is_stored(home):
    proc, master = _on_a_terminal(home, "keys", "set", "opnai")
    seen = bytearray()
    try:
        _read_until(master, b"[y/N] ", seen)
        assert b"did you mean openai?" in seen, seen
        os.write(master, b"y\n")
        _read_until(master, b"(input hidden): ", seen)
        assert b"(input hidden): " in seen, seen
        os.write(master, KEY.encode() + b"\n")
        assert proc.wait(30) == 0
    finally:
        os.close(master)
    assert _stored(home) == {"opnai": KEY}
