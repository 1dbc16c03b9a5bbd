"""`orbridge doctor` as a subprocess against the fake upstream: custom endpoints' model lists, one line per
wrong model with the closest ids, a fix for every failed round trip, a server that is down, colour."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys

from .conftest import ORBRIDGE, add_profile
from .fake_upstream import Reply

NO_CLAUDE = {"ORBRIDGE_CLAUDE": sys.executable}  # any binary answering --version
CATALOGUE = {"data": [{"id": "fake/model", "context_length": 200000}, {"id": "fake/haiku"},
                      {"id": "other/thing"}]}
OK_REPLY = Reply(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                    "finish_reason": "stop"}]}, repeat=True)


def _checks(r) -> dict:
    return {c["name"]: c for c in json.loads(r.stdout)["checks"]}


def _lines(out: str, text: str) -> list[str]:
    return [line for line in out.splitlines() if text in line and not line.startswith("    fix:")]


def test_custom_endpoint_tiers_are_checked_against_its_models(home):
    home.fake.catalogue = CATALOGUE
    home.fake.script(OK_REPLY)
    r = home("doctor", "--base-url", home.fake.base_url, "--model", "fake/model", "--haiku", "fake/haiku",
             "--json", extra=NO_CLAUDE)
    checks = _checks(r)
    assert checks["opus model"]["status"] == "ok" and "200000" in checks["opus model"]["detail"]
    assert checks["haiku model"]["status"] == "ok"
    r = home("doctor", "--base-url", home.fake.base_url, "--model", "fake/modle", "--haiku", "fake/haiku",
             extra=NO_CLAUDE)
    assert r.returncode == 1
    wrong = _lines(r.stdout, "fake/modle")
    assert len(wrong) == 1, r.stdout  # one line for the four tiers sharing the model, not one each
    assert wrong[0].startswith("✗ opus/sonnet/fable model") and "did you mean fake/model?" in wrong[0]
    assert "--model fake/model" in r.stdout and "orbridge models --search" in r.stdout


def test_an_endpoint_listing_no_models_is_a_warning(home):
    home.fake.script(OK_REPLY)
    for catalogue, words in (({"data": []}, "lists no models"), (None, "could not check")):
        home.fake.catalogue = catalogue
        r = home("doctor", "--base-url", home.fake.base_url, "--model", "any/model", "--json", extra=NO_CLAUDE)
        check = _checks(r)["models exist"]
        assert check["status"] == "warn" and words in check["detail"], check


def test_profile_typo_is_one_line_with_the_closest_ids(home):
    add_profile(home)
    home.fake.catalogue = CATALOGUE
    home.fake.script(OK_REPLY)
    assert home("profile", "edit", "t", "--model", "fake/modle").returncode == 0
    r = home("doctor", extra=NO_CLAUDE)
    wrong = _lines(r.stdout, "fake/modle")
    assert len(wrong) == 1 and "did you mean fake/model?" in wrong[0], r.stdout
    assert "orbridge profile edit t --opus fake/model --sonnet fake/model --fable fake/model" in r.stdout
    assert "✓ haiku model: fake/haiku" in r.stdout


def test_failed_round_trips_say_what_to_do(home):
    home.fake.catalogue = CATALOGUE
    cases = [
        (Reply(status=401, body={"error": {"message": "bad key", "code": 401}}, repeat=True),
         "store one with `orbridge keys set NAME`"),
        (Reply(status=404, body={"error": {"message": "model fake/haiku does not exist", "code": 404}},
               repeat=True), "orbridge models --search fake"),
    ]
    for reply, fix in cases:
        home.fake.script(reply)
        r = home("doctor", "--base-url", home.fake.base_url, "--model", "fake/model", "--haiku", "fake/haiku",
                 "--json", extra=NO_CLAUDE)
        trip = _checks(r)["live round trip"]
        assert trip["status"] == "fail" and fix in (trip["fix"] or ""), trip


def test_a_local_server_that_is_down(home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    r = home("doctor", "--base-url", url, "--model", "m", extra=NO_CLAUDE)
    assert r.returncode == 1
    assert f"✗ upstream reachable: nothing answers at {url} — is the server running?" in r.stdout, r.stdout
    assert "fix: start the server" in r.stdout and "`orbridge doctor`" not in r.stdout
    assert "live round trip" not in r.stdout and "models exist" not in r.stdout  # no repeats of the same failure


def test_unknown_provider_suggests_the_preset(home):
    r = home("doctor", "--provider", "olama", "--json", extra=NO_CLAUDE)
    assert "unknown provider 'olama' — did you mean ollama?" in _checks(r)["config"]["detail"]
    for args in (("models", "--provider", "olama"), ("run", "--provider", "olama", "--print-env"),
                 ("profile", "add", "x", "--provider", "olama", "--model", "m")):
        r = home(*args)
        assert r.returncode == 2 and "did you mean ollama?" in r.stderr, r.stderr


def _doctor_on_a_terminal(home, **env) -> str:
    master, slave = os.openpty()
    full = {**{k: v for k, v in home.env.items() if k != "NO_COLOR"}, "TERM": "xterm-256color", **env}
    proc = subprocess.Popen([*ORBRIDGE, "doctor", "--base-url", f"{home.fake.base_url}", "--model", "fake/model"],
                            env=full, cwd=home.root, stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = bytearray()
    try:
        while True:
            if select.select([master], [], [], 60)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            else:
                break
    finally:
        os.close(master)
        proc.wait(30)
    return out.decode("utf-8", "replace")


def test_colour_on_a_terminal_only(home):
    home.fake.catalogue = CATALOGUE
    home.fake.script(OK_REPLY)
    out = _doctor_on_a_terminal(home, ORBRIDGE_CLAUDE="/nonexistent")
    assert re.search(r"\x1b\[[0-9;]*32m✓", out) and re.search(r"\x1b\[[0-9;]*31m✗", out), repr(out)
    out = _doctor_on_a_terminal(home, ORBRIDGE_CLAUDE="/nonexistent", NO_COLOR="1")
    assert "\x1b[" not in out and "✗ claude binary" in out, repr(out)
    r = home("doctor", "--base-url", home.fake.base_url, "--model", "fake/model",
             extra={"ORBRIDGE_CLAUDE": "/nonexistent", "TERM": "xterm-256color"})
    assert "\x1b[" not in r.stdout and "✗ claude binary" in r.stdout
