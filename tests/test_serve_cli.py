"""`orbridge serve` as users run it: a subprocess against the fake upstream, the anthropic SDK as client."""

from __future__ import annotations

import queue
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import anthropic
import pytest

from .conftest import CANARY, ORBRIDGE, add_profile
from .fake_upstream import Reply, completion

TOKEN = "tok-from-file-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`orbridge serve` running; stdout read line by line in a thread so a missing line fails, not hangs."""

    def __init__(self, home, *args: str, extra: dict | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([*ORBRIDGE, "serve", "--port", str(self.port), *args],
                                     env={**home.env, **(extra or {})}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.header = [self.line() for _ in range(4)]
        self.env_file = Path(next(x for x in self.header if x.strip().startswith("source ")).split()[-1])

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 30) -> str:
        return self.lines.get(timeout=timeout)

    def client(self, token: str = TOKEN) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=f"http://127.0.0.1:{self.port}", api_key=token, max_retries=3)

    def stop(self, sig: int = signal.SIGINT) -> tuple[list[str], str]:
        """Stop it; the stdout lines not read yet, and stderr."""
        self.proc.send_signal(sig)
        self.proc.wait(15)
        rest = []
        while True:
            try:
                rest.append(self.lines.get(timeout=2))
            except queue.Empty:
                break
        return rest, self.proc.stderr.read()


@pytest.fixture
def served(home):
    add_profile(home)
    (home.root / "token").write_text(TOKEN + "\nsecond line is ignored\n")
    started: list[Serve] = []

    def start(*args: str, token_file: bool = True, **kw) -> Serve:
        s = Serve(home, *(["--token-file", str(home.root / "token")] if token_file else []), *args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(5)


def ask(client: anthropic.Anthropic, model: str = "claude-sonnet-5") -> str:
    msg = client.messages.create(model=model, max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    return msg.content[0].text


def test_a_line_per_request_with_control_characters_escaped(home, served):
    home.fake.script(Reply(body=completion("one")),
                     Reply(status=429, body={"error": {"message": "slow\x1b[2J down\r\nnow\u009b1m"}}))
    s = served()
    assert ask(s.client()) == "one"
    line = s.line()
    assert "claude-sonnet-5 → fake/model" in line and "  200  " in line and " ms" in line
    assert "in 20 out 30" in line
    with pytest.raises(anthropic.RateLimitError):
        s.client().with_options(max_retries=0).messages.create(
            model="claude-x\x1b]0;pwned\x07", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    line = s.line()
    assert "  429  " in line and "claude-x\\x1b]0;pwned\\x07 → " in line
    assert "slow\\x1b[2J down\\r\\nnow\\x9b1m" in line
    rest, err = s.stop()
    assert not any(ch in line + "".join(rest) for ch in "\x1b\r\x07\u009b")
    assert rest == [] and "Traceback" not in err


def test_quiet_prints_no_request_lines(home, served):
    home.fake.script(Reply(body=completion("quiet"), repeat=True))
    s = served("--quiet")
    assert ask(s.client()) == "quiet" and ask(s.client()) == "quiet"
    rest, err = s.stop()
    assert rest == [] and "Traceback" not in err


def test_env_file_is_private_sourceable_and_removed_on_exit(home, served):
    home.fake.script(Reply(body=completion("from the env file"), repeat=True))
    for sig in (signal.SIGINT, signal.SIGTERM):
        s = served()
        assert TOKEN not in "\n".join(s.header)  # printed only with --show-token
        assert stat.S_IMODE(s.env_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(s.env_file.parent.stat().st_mode) == 0o700
        assert str(s.env_file).startswith(str(home.root / "state"))
        client = home.root / "client.py"
        client.write_text(textwrap.dedent("""
            import anthropic
            msg = anthropic.Anthropic(max_retries=2).messages.create(
                model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
            print("TEXT:" + msg.content[0].text)
        """))
        r = subprocess.run(["bash", "-c", f'source "$1" && exec {sys.executable} "$2"', "sh", str(s.env_file),
                            str(client)], env={**home.env, "ANTHROPIC_API_KEY": "sk-ant-real-key-must-not-win"},
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "TEXT:from the env file" in r.stdout, r.stderr
        s.stop(sig)
        assert not s.env_file.exists(), signal.Signals(sig).name


def test_token_file_is_used_and_token_on_the_command_line_warns(home, served):
    home.fake.script(Reply(body=completion("ok"), repeat=True))
    s = served()
    assert ask(s.client()) == "ok"
    with pytest.raises(anthropic.AuthenticationError):
        ask(s.client("not-the-token"))
    _, err = s.stop()
    assert "warning" not in err
    from_env = served("--quiet", token_file=False, extra={"ORBRIDGE_TOKEN": "tok-env-0123456789"})
    assert ask(from_env.client("tok-env-0123456789")) == "ok"
    _, err = from_env.stop()
    assert "warning" not in err
    on_argv = served("--quiet", "--token", "tok-argv-0123456789", "--show-token", token_file=False)
    assert any("tok-argv-0123456789" in line for line in on_argv.header)
    assert ask(on_argv.client("tok-argv-0123456789")) == "ok"
    _, err = on_argv.stop()
    assert "warning: --token on the command line" in err and "--token-file" in err
    empty = home.root / "empty"
    empty.write_text("\n")
    r = home("serve", "--port", str(free_port()), "--token-file", str(empty))
    assert r.returncode == 2 and "has no token" in r.stderr and len(r.stderr.splitlines()) == 2
    assert CANARY not in r.stdout + r.stderr


def test_an_address_not_on_this_machine_is_named_as_such(home, served):
    r = home("serve", "--host", "192.0.2.1", "--allow-remote", "--token-file", str(home.root / "token"))
    assert r.returncode == 1, r.stderr
    assert "192.0.2.1 is not an address of this machine" in r.stderr and "choose another --port" not in r.stderr
