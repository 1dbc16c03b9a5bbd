"""`orbridge run` cycles: every way a command can end, exit codes passed through, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from .conftest import ORBRIDGE, add_profile

CHILD = {
    "exit0": "print('ready', flush=True)",
    "exit3": "import sys; print('ready', flush=True); sys.exit(3)",
    "sigint": "import time; print('ready', flush=True); time.sleep(30)",
    "sigterm": "import time; print('ready', flush=True); time.sleep(30)",
    "killed": "import os, signal; print('ready', flush=True); os.kill(os.getpid(), signal.SIGKILL)",
    "ignores_term": "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True);"
                    " time.sleep(30)",
}
EXPECTED = {"exit0": 0, "exit3": 3, "sigint": 128 + 2, "sigterm": 128 + 15, "killed": 128 + 9,
            "ignores_term": 128 + 9}


def listening_ports(pid: int) -> set[int]:
    try:
        return {c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    except psutil.NoSuchProcess:
        return set()


def one_cycle(env: dict, mode: str) -> tuple[int, list[str]]:
    proc = subprocess.Popen([*ORBRIDGE, "run", "--", sys.executable, "-c", CHILD[mode]], env=env,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    family = []
    try:
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        ports = listening_ports(proc.pid)
    except psutil.NoSuchProcess:
        ports = set()
    if mode == "sigint":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    elif mode in ("sigterm", "ignores_term"):
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
    rc = proc.wait(15)
    proc.stdout.close()
    time.sleep(0.05)
    alive = [str(p) for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    return rc, alive + [f"port {p}" for p in ports & listening]


@pytest.mark.soak
def test_hundred_run_cycles(home):
    add_profile(home)
    env = {**home.env, "ORBRIDGE_TERM_GRACE": "0.5"}
    modes = list(CHILD)
    failures = []
    for i in range(100):
        mode = modes[i % len(modes)]
        rc, left = one_cycle(env, mode)
        if rc != EXPECTED[mode] or left:
            failures.append((i, mode, rc, left))
    assert failures == []


def test_two_runs_at_once_get_their_own_port_and_token(home):
    add_profile(home)
    code = "import os, time; print(os.environ['ANTHROPIC_BASE_URL'], os.environ['ANTHROPIC_AUTH_TOKEN']); time.sleep(1)"
    procs = [subprocess.Popen([*ORBRIDGE, "run", "--", sys.executable, "-c", code], env=home.env,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=20)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0][0] != outs[1][0] and outs[0][1] != outs[1][1]


def test_corrupt_keys_file_is_named_and_kept(home):
    add_profile(home)
    keys = home.config_dir / "keys.json"
    keys.write_text('{"openrouter": "sk-or-abc",,}')
    before = keys.read_text()
    for args in (["run", "--", "true"], ["keys", "set", "openai"], ["keys", "list"]):
        r = home(*args, input="sk-new-key-123456\n")
        assert r.returncode == 1, (args, r.stderr)
        assert str(keys) in r.stderr and "line 1" in r.stderr and "Traceback" not in r.stderr
        assert keys.read_text() == before
