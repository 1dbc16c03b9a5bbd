"""Canary keys, stored and in the environment, never appear in any output, log, child environment or
command line, whatever commands run and whatever the upstream answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ORBRIDGE
from .fake_upstream import CUT, Reply, chunk, completion

FILE_CANARY = "sk-or-filecanary-93b1d7e2"
ENV_CANARY = "sk-or-envcanary-51c0aa48"

CHILD = """
import json, os, sys, anthropic
parent = open(f"/proc/{os.getppid()}/cmdline", "rb").read().decode(errors="replace")
mine = open("/proc/self/cmdline", "rb").read().decode(errors="replace")
client = anthropic.Anthropic(max_retries=0)
outcomes = []
for _ in range(4):
    try:
        outcomes.append(client.messages.create(model="claude-opus-4-8", max_tokens=20,
                        messages=[{"role": "user", "content": "hi"}]).content[0].text)
    except anthropic.APIError as exc:
        outcomes.append(str(exc))
print(json.dumps({"env": dict(os.environ), "parent": parent, "mine": mine, "outcomes": outcomes}))
"""


def scan(texts: list[str], where: list[str]) -> None:
    for text, name in zip(texts, where, strict=True):
        for canary in (FILE_CANARY, ENV_CANARY):
            assert canary not in text, f"{canary} leaked in {name}"


def test_canaries_never_leak(home):
    orb = home
    orb("profile", "add", "t", "--provider", "openrouter", "--base-url", orb.fake.base_url, "--model", "fake/m",
        "--key-name", "openrouter", "--use")
    assert orb("keys", "set", "openrouter", input=FILE_CANARY + "\n").returncode == 0
    orb.fake.catalogue = {"data": [{"id": "fake/m", "context_length": 1000, "supported_parameters": ["tools"]}]}
    outputs, names = [], []

    def record(result, name):
        outputs.extend([result.stdout, result.stderr])
        names.extend([f"{name} stdout", f"{name} stderr"])

    env_extra = {"OPENROUTER_API_KEY": ENV_CANARY}
    for args in (["keys", "list"], ["profile", "show"], ["profile", "list"], ["run", "--print-env"],
                 ["models"], ["models", "--json"], ["doctor"], ["doctor", "--json"]):
        for extra in ({}, env_extra):
            orb.fake.script(Reply(body=completion("ok"), repeat=True))
            record(orb(*args, extra=extra), " ".join(args))
    # The upstream quotes the key back in its errors, in a JSON error, a mid-stream error and an HTML page.
    child = orb.root / "child.py"
    child.write_text(CHILD)
    for key, extra in ((FILE_CANARY, {}), (ENV_CANARY, env_extra)):
        orb.fake.script(
            Reply(status=401, body={"error": {"message": f"Invalid key {key}", "code": 401}}),
            Reply(status=400, body=f"<html><title>bad key {key}</title></html>"),
            Reply(body={"error": {"message": f"key {key} over quota", "code": 429}}),
            Reply(body=completion("fine")))
        result = orb("run", "--", sys.executable, str(child), extra=extra)
        assert result.returncode == 0, result.stderr
        record(result, "run child")
        data = json.loads(result.stdout)
        assert data["outcomes"][-1] == "fine" and "…" in data["outcomes"][0]
        outputs += [json.dumps(data["env"]), data["parent"], data["mine"]]
        names += ["child environment", "orbridge cmdline", "child cmdline"]
        sent = orb.fake.chat_requests()[0].headers["authorization"]
        assert sent == f"Bearer {key}"  # the key does reach the upstream, and only there
    orb.fake.script(Reply(items=[chunk({"content": "x"}), {"error": {"message": f"stream died, key {FILE_CANARY}"}},
                                 CUT]))
    result = orb("run", "--", sys.executable, "-c", "import anthropic; c = anthropic.Anthropic(max_retries=0)\n"
                 "try:\n  print(''.join(e.type for e in c.messages.create(model='m', max_tokens=5, stream=True, "
                 "messages=[{'role':'user','content':'x'}])))\nexcept anthropic.APIError as e:\n  print(e)")
    record(result, "stream error run")
    for log in (orb.root / "state").rglob("*"):
        if log.is_file():
            outputs.append(log.read_text(errors="replace"))
            names.append(str(log))
    for path in (orb.root / "cache").rglob("*"):
        if path.is_file():
            outputs.append(path.read_text(errors="replace"))
            names.append(str(path))
    record(orb("logs"), "logs")
    record(orb("logs", "--json"), "logs --json")
    scan(outputs, names)


def test_cmdlines_of_running_processes(home):
    orb = home
    orb("profile", "add", "t", "--provider", "openrouter", "--base-url", orb.fake.base_url, "--model", "fake/m",
        "--key-name", "openrouter", "--use")
    orb("keys", "set", "openrouter", input=FILE_CANARY + "\n")
    proc = subprocess.Popen([*ORBRIDGE, "run", "--", "sleep", "5"], env={**orb.env, "OPENROUTER_API_KEY": ENV_CANARY})
    try:
        time.sleep(1.0)
        texts, names = [], []
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                texts.append(path.read_bytes().decode(errors="replace"))
                names.append(str(path))
            except OSError:
                pass
        sleeper = [p for p, t in zip(names, texts, strict=True) if t.split("\x00")[:2] == ["/usr/bin/sleep", "5"]
                   or t.split("\x00")[:2] == ["/bin/sleep", "5"]]
        assert sleeper
        environ = Path(sleeper[0].replace("cmdline", "environ")).read_bytes().decode(errors="replace")
        texts.append(environ)
        names.append("child environ")
        scan(texts, names)
    finally:
        proc.terminate()
        proc.wait(10)
