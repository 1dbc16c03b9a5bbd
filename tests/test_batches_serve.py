"""Batches through a real `orbridge serve` subprocess: kill -9 mid-batch and restart, and `orbridge batches`."""

from __future__ import annotations

import json
import signal
import sys
import time

import pytest

from .conftest import add_profile
from .fake_upstream import Pause, Reply, completion
from .test_batches import asked, batch_of, wait_ended
from .test_serve_cli import served  # noqa: F401 - the fixture


def test_kill_9_mid_batch_then_restart_loses_nothing_and_doubles_nothing(home, served):  # noqa: F811
    home.fake.default = Reply(body=completion("done"), items=[Pause(0.2)])
    first = served("--quiet", "--batch-concurrency", "8")
    client = first.client()
    batch = client.messages.batches.create(requests=batch_of(80))
    deadline = time.monotonic() + 30
    while len(home.fake.chat_requests()) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    before = asked(home.fake)
    assert 30 <= sum(before.values()) < 80, "the kill must land mid-batch"
    second = served("--quiet", "--batch-concurrency", "8")
    client = second.client()  # held: the results are read from its open connection
    ended = wait_ended(client, batch.id, timeout=60)
    assert ended.request_counts.succeeded == 80
    results = [r.custom_id for r in client.messages.batches.results(batch.id)]
    assert sorted(results) == sorted(f"r{i}" for i in range(80))
    calls = asked(home.fake)
    assert set(calls) == set(results) and max(calls.values()) <= 2
    rerun = [cid for cid, n in calls.items() if n == 2]
    assert len(rerun) <= 8 and set(rerun) <= set(before)  # only what was in flight at the kill ran again


def test_batches_cli_list_show_results_cancel(home, served):  # noqa: F811
    home.fake.default = Reply(body=completion("done"))
    s = served("--quiet")
    client = s.client()
    done = client.messages.batches.create(requests=batch_of(3))
    wait_ended(client, done.id)
    shown = json.loads(home("batches", "show", done.id, "--json").stdout)
    assert shown["id"] == done.id and shown["request_counts"]["succeeded"] == 3
    assert shown["processing_status"] == "ended"
    listed = home("batches", "list")
    assert done.id in listed.stdout and "3/3" in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    out = home.root / "results.jsonl"
    r = home("batches", "results", done.id, "--output", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(x["custom_id"] for x in lines) == ["r0", "r1", "r2"]
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert home("batches", "results", done.id).stdout == out.read_text()

    home.fake.default = Reply(body=completion("done"), items=[Pause(0.5)])
    slow = client.messages.batches.create(requests=batch_of(50, "s"))
    r = home("batches", "cancel", slow.id, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["cancel_initiated_at"] is not None
    ended = wait_ended(client, slow.id)
    assert ended.request_counts.canceled >= 40  # at most the 8 in flight (and those claimed) finish

    missing = home("batches", "show", "msgbatch_nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("orbridge: no batch msgbatch_nope") and "  fix: " in missing.stderr


@pytest.mark.parametrize("value", ["0", "257", "x"])
def test_batch_concurrency_out_of_range_is_refused(home, value):
    r = home("serve", "--port", "65000", "--batch-concurrency", value)
    assert r.returncode == 2 and "batch-concurrency" in r.stderr and "Traceback" not in r.stderr


def test_profile_batch_concurrency_is_checked(home):
    home.config_dir.mkdir(parents=True)
    (home.config_dir / "config.toml").write_text('[profiles.x]\nmodel = "m"\nbatch_concurrency = 300\n')
    r = home("profile", "show", "x")
    assert r.returncode == 2 and "batch_concurrency: expected a whole number from 1 to 256, got 300" in r.stderr


def test_a_symlinked_database_is_refused_before_serving(home):
    add_profile(home)
    state = home.root / "state" / "orbridge"
    state.mkdir(parents=True, mode=0o700)
    (home.root / "elsewhere.db").write_text("")
    (state / "batches.db").symlink_to(home.root / "elsewhere.db")
    r = home("serve", "--port", "65001")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("orbridge: refusing") and "symbolic link" in r.stderr and "  fix: " in r.stderr
    assert home("batches", "list").returncode == 1


def test_batches_under_orbridge_run_open_the_database_on_first_use(home):
    """`orbridge run -- python job.py`: the SDK's batches work in the child; a run that never used batches
    never created the database."""
    add_profile(home)
    home.fake.default = Reply(body=completion("done"))
    assert home("run", "--", sys.executable, "-c", "pass").returncode == 0
    assert not list(home.root.rglob("batches.db")), "a run without batches opened the database"
    job = ("import anthropic, os, time\n"
           "c = anthropic.Anthropic(base_url=os.environ['ANTHROPIC_BASE_URL'],\n"
           "                        api_key=os.environ['ANTHROPIC_AUTH_TOKEN'], max_retries=0)\n"
           "reqs = [{'custom_id': f'j{i}', 'params': {'model': 'claude-sonnet-4-5', 'max_tokens': 10,\n"
           "         'messages': [{'role': 'user', 'content': f'j{i}'}]}} for i in range(5)]\n"
           "b = c.messages.batches.create(requests=reqs)\n"
           "while c.messages.batches.retrieve(b.id).processing_status != 'ended':\n"
           "    time.sleep(0.05)\n"
           "print(sorted(r.custom_id for r in c.messages.batches.results(b.id) if r.result.type == 'succeeded'))\n")
    r = home("run", "--", sys.executable, "-c", job)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[-2] == str([f"j{i}" for i in range(5)])
    found = list(home.root.rglob("batches.db"))
    assert len(found) == 1 and oct(found[0].stat().st_mode & 0o777) == "0o600", found


def test_batch_results_output_makes_an_existing_file_private(home, served):  # noqa: F811
    home.fake.default = Reply(body=completion("done"))
    client = served("--quiet").client()
    batch = client.messages.batches.create(requests=batch_of(2))
    wait_ended(client, batch.id)
    out = home.root / "existing.jsonl"
    out.write_text("old contents, longer than the results would ever be " * 100)
    out.chmod(0o644)
    assert home("batches", "results", batch.id, "--output", str(out)).returncode == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert sorted(json.loads(line)["custom_id"] for line in out.read_text().splitlines()) == ["r0", "r1"]
