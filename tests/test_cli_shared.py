"""The pieces `orbridge run` and `orbridge serve` share, and the one CLIError printer (issue #12 item 6)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orbridge.cli.errors import CLIError, report
from orbridge.cli.run import bound

from .fake_upstream import Pause, Reply, chunk

CLI = Path(__file__).resolve().parent.parent / "cli"


def test_one_printer_for_cli_errors(capsys):
    assert report(CLIError("cannot do it", "do this instead", code=3)) == 3
    assert capsys.readouterr().err == "orbridge: cannot do it\n  fix: do this instead\n"
    assert report(CLIError("no fix given")) == 1
    assert capsys.readouterr().err == "orbridge: no fix given\n"


def test_main_does_not_import_entry_at_module_level():
    """entry.py loads main.py for everything but `run`; main.py importing entry at module level (its old
    `__main__` block) made the two a circle."""
    tree = ast.parse((CLI / "main.py").read_text())
    top_level = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 and not any(n in ast.walk(f) for f in tree.body if isinstance(f, ast.FunctionDef))]
    assert "entry" not in {n.module for n in top_level}


def test_python_m_main_still_runs_the_app(tmp_path):
    r = subprocess.run([sys.executable, "-m", "orbridge.cli.main", "--version"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("orbridge "), r.stderr


def test_bound_socket_is_closed_only_when_getting_ready_fails():
    with pytest.raises(CLIError):
        with bound(0) as sock:
            port = sock.getsockname()[1]
            raise CLIError("no profile")
    assert sock.fileno() == -1
    with bound(port) as again:  # the failed attempt released the port
        pass
    assert again.fileno() != -1 and again.getsockname()[1] == port
    again.close()


def test_stop_waits_for_the_open_call_to_be_logged_as_cancelled(proxy, upstream, tmp_path):
    """What `orbridge run` relies on after Ctrl-C: stop(grace) returns once the call the client left is logged,
    without waiting for the serving thread (timeout=0)."""
    upstream.script(Reply(items=[chunk({"role": "assistant", "content": "one"}), chunk({"content": "two"}),
                                 Pause(5), chunk({}, "stop")]))
    with proxy.http.stream("POST", "/v1/messages", json={"model": "claude-sonnet-4-5", "max_tokens": 50,
                                                         "stream": True,
                                                         "messages": [{"role": "user", "content": "hi"}]}) as resp:
        for line in resp.iter_lines():
            if "two" in line:
                break
    proxy.server.stop(timeout=0, grace=10)
    assert proxy.server.app.state.calls.open == 0
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert records[-1]["status"] == 499 and records[-1]["error_type"] == "cancelled"
