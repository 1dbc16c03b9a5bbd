"""--budget: the proxy stops answering once a run has spent its cap, with a final error Claude Code shows;
requests under way finish; one warning at 80 %; every stop logged; `usage` counts the stops."""

from __future__ import annotations

import json
import logging

import anthropic
import pytest

from .conftest import TOKEN, add_profile
from .fake_upstream import Reply, text_stream

COSTLY = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "cost": 1.26}
MESSAGE = "orbridge budget of $2.50 reached ($2.52 spent in this run) — rerun with a higher --budget"


def ask(proxy, stream: bool = False):
    client = anthropic.Anthropic(base_url=proxy.url, api_key=TOKEN, max_retries=0)
    kw = {"model": "claude-sonnet-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        with client.messages.stream(**kw) as s:
            return s.get_final_message()
    return client.messages.create(**kw)


def test_the_request_after_the_cap_is_refused_with_a_final_error(upstream, proxy_factory, tmp_path, caplog):
    upstream.default = Reply(items=text_stream("fine", usage=COSTLY), repeat=True)
    proxy = proxy_factory(budget=2.50)
    caplog.set_level(logging.WARNING, logger="orbridge.proxy")
    assert ask(proxy).content[0].text == "fine"  # $1.26 spent
    assert ask(proxy, stream=True).content[0].text == "fine"  # started under the cap: finishes ($2.52)
    with pytest.raises(anthropic.APIStatusError) as exc:
        ask(proxy)
    assert exc.value.status_code == 402 and exc.value.response.headers["x-should-retry"] == "false"
    assert exc.value.body == {"type": "error", "error": {"type": "billing_error", "message": MESSAGE}}
    assert len(upstream.chat_requests()) == 2  # the refused request never reached the upstream
    warnings = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert warnings == ["orbridge budget: $2.52 of $2.50 spent (101%); requests stop at $2.50"]
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert [r.get("error_type") for r in records] == [None, None, "budget"]
    assert records[-1]["status"] == 402 and records[-1]["error"] == MESSAGE
    assert [r["budget_spent"] for r in records] == [1.26, 2.52, 2.52] and records[0]["budget"] == 2.5


def test_one_warning_at_80_percent(upstream, proxy_factory, caplog):
    upstream.default = Reply(items=text_stream("fine", usage={**COSTLY, "cost": 0.85}), repeat=True)
    proxy = proxy_factory(budget=3.0)
    caplog.set_level(logging.WARNING, logger="orbridge.proxy")
    for _ in range(3):  # $0.85, $1.70, $2.55 (85 %: the warning)
        ask(proxy)
    warnings = [r.getMessage() for r in caplog.records if "orbridge budget" in r.getMessage()]
    assert warnings == ["orbridge budget: $2.55 of $3.00 spent (85%); requests stop at $3.00"]
    ask(proxy)  # $3.40: past the cap, no second warning
    assert len([r for r in caplog.records if "orbridge budget" in r.getMessage()]) == 1


def test_no_cap_no_budget_fields(upstream, proxy, tmp_path):
    upstream.default = Reply(items=text_stream("fine", usage=COSTLY), repeat=True)
    for _ in range(3):
        ask(proxy)
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(records) == 3 and not any("budget" in r for r in records)


def test_budget_options_are_checked(home):
    add_profile(home)
    for bad in ("abc", "0", "-1", "nan", "inf"):
        r = home("run", "--budget", bad, "--", "true")
        assert r.returncode == 2 and r.stderr.startswith(f"orbridge: --budget '{bad}' is not an amount"), r.stderr
    r = home("serve", "--budget", "x")
    assert r.returncode == 2 and "is not an amount in USD" in r.stderr
    config = home.config_dir / "config.toml"
    config.write_text(config.read_text() + "budget_per_run = -2\n")
    r = home("run", "--", "true")
    assert r.returncode == 2 and "budget_per_run: expected an amount in USD > 0" in r.stderr


def test_budget_per_run_caps_a_run_and_usage_shows_the_stop(home):
    add_profile(home)
    config = home.config_dir / "config.toml"
    config.write_text(config.read_text() + "budget_per_run = 1.0\n")
    home.fake.default = Reply(items=text_stream("fine", usage=COSTLY), repeat=True)
    script = ("import anthropic, os\nc = anthropic.Anthropic(max_retries=0)\n"
              "for i in range(3):\n"
              "    try:\n"
              "        c.messages.create(model='claude-sonnet-5', max_tokens=9, messages=[{'role': 'user', "
              "'content': 'hi'}])\n"
              "        print('ok')\n"
              "    except anthropic.APIStatusError as e:\n"
              "        print(e.body['error']['message'])\n")
    import sys

    r = home("run", "--", sys.executable, "-c", script)
    assert r.returncode == 0, r.stderr
    stop = "orbridge budget of $1.00 reached ($1.26 spent in this run) — rerun with a higher --budget"
    assert r.stdout.splitlines() == ["ok", stop, stop]
    assert len(home.fake.chat_requests()) == 1
    r = home("usage", "--json")
    rows = json.loads(r.stdout)
    assert sum(row["budget_stops"] for row in rows) == 2
    r = home("usage")
    assert "budget stops" in r.stdout


def test_unknown_prices_are_said_once_at_start_and_counted(home, upstream, proxy_factory, tmp_path):
    r = home("run", "--base-url", upstream.base_url, "--model", "m/one", "--haiku", "m/two", "--budget", "1",
             "--", "true")
    lines = [line for line in r.stderr.splitlines() if "no price known" in line]
    assert r.returncode == 0 and lines == ["orbridge: warning: no price known for m/one, m/two: --budget counts "
                                           "only the cost the upstream reports"], r.stderr
    upstream.default = Reply(items=text_stream("fine", usage={"prompt_tokens": 5, "completion_tokens": 1}),
                             repeat=True)
    ask(proxy_factory(budget=1.0))
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert records[-1]["budget_unpriced"] == 1 and records[-1]["budget_spent"] == 0
