"""`logs`, `usage` and `models` tables: they fit 80 and 120 columns, and untrusted text in them stays inert."""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
import time

import pytest
from rich.cells import cell_len
from rich.console import Console

from orbridge.cli import display, logs, models_cmd, usage
from orbridge.cli.catalogue import ModelEntry

from .conftest import ORBRIDGE, add_profile

NOW = time.time()
HOSTILE = ("[link=https://evil.example]click[/link][bold red]X[/] \x1b]0;pwned\x07 \x1b[2J\r\n200 fake row "
           "\u009b31m \u202eevil\u202c \u2066iso\u2069 \x7f\x85")
RAW_BAD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # anything but \n
RECORDS = [
    {"time": NOW - 60, "session": "sess-0123456789", "model": "claude-sonnet-4-5-20250929",
     "upstream_model": "deepseek/deepseek-r1-distill-qwen-32b", "route": "long_context", "status": 200,
     "duration_ms": 123456.0, "ttft_ms": 812.0, "input_tokens": 151234, "output_tokens": 4321,
     "cache_read_input_tokens": 90000, "cost": 0.0012},
    {"time": NOW - 50, "session": "sess-0123456789", "model": "claude-haiku-4-5",
     "upstream_model": "openai/gpt-4o-mini", "status": 200,
     "duration_ms": 240.0, "input_tokens": 12, "output_tokens": 3, "cost": 0.00000042},
    {"time": NOW - 40, "session": "sess-0123456789", "model": "claude-opus-4-1",
     "upstream_model": "moonshotai/kimi-k2", "status": 429, "duration_ms": 31.0, "error_type": "rate_limit_error",
     "error": "Provider returned error: rate limited upstream, retry after twenty seconds"},
    {"time": NOW - 30, "session": "sess-0123456789", "model": "claude-opus-4-1",
     "upstream_model": "moonshotai/kimi-k2", "status": 499,
     "duration_ms": 5034.0, "input_tokens": 2000, "output_tokens": 40, "cost": 0.0021,
     "error_type": "cancelled", "error": "the client closed the connection"},
    {"time": NOW - 20, "session": "evil", "model": HOSTILE, "upstream_model": HOSTILE, "status": 502,
     "duration_ms": 9.0, "error_type": "api_error", "error": HOSTILE},
]


def rendered(renderable, width: int) -> str:
    """What a colour terminal `width` wide receives, with rich's own SGR colour codes taken out."""
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return re.sub(r"\x1b\[[0-9;]*m", "", console.file.getvalue())


def check_fits(out: str, width: int) -> list[str]:
    lines = out.splitlines()
    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    assert not RAW_BAD.search(out), repr(out)  # no control, C1 or bidi character reached the terminal
    assert "\x1b" not in out
    return lines


def columns(header: str) -> list[str]:
    return header.split()


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("errors", [False, True])
def test_logs_table_keeps_essential_columns_whole(width, errors):
    recs = [r for r in RECORDS if logs.is_error(r)] if errors else RECORDS
    widths = logs.layout(width, errors, recs)
    lines = check_fits(rendered(logs.render(recs, widths), width), width)
    header = columns(lines[0])
    assert {"time", "model", "status", "ms", "in", "out", "cost"} <= set(header)
    assert ("error" in header) is (errors or width >= 120)
    assert len(lines) == len(recs) + 1  # a hostile newline made no extra row
    rows = lines[1:]
    for row in rows:
        assert re.match(r"\d\d-\d\d \d\d:\d\d:\d\d ", row), row  # the time, to the second
    if not errors:
        assert "123s" in rows[0] and "151k" in rows[0] and "4321" in rows[0]  # ms and tokens whole
        assert "$0.0012" in rows[0] and "<$0.0001" in rows[1] and "$0.0021" in rows[3]  # cost never reads 0
        assert "deepseek/deepseek-r1-distill-qwen-32b (long_context)"[:20] in rows[0] and "…" in rows[0]
        assert "cancelled" in rows[3] and " 499 " not in rows[3]
    if errors:
        assert [re.search(r" (429|502) ", row).group(1) for row in rows] == ["429", "502"]
        assert "Provider re" in rows[0] and rows[0].endswith("…")  # the error is there, and cut visibly
    assert "[link=" in rows[-1]  # shown as text


def test_logs_columns_fold_in_the_stated_order():
    order = []
    previous = set(logs.layout(300, False, RECORDS))
    for width in range(300, 60, -1):
        now = set(logs.layout(width, False, RECORDS))
        order += sorted(previous - now)
        previous = now
    assert order == ["session", "ttft", "requested", "cached", "error"]
    assert "error" in logs.layout(80, True, RECORDS)


def test_hostile_text_is_inert_in_every_table():
    out = rendered(logs.render(RECORDS[-1:], logs.layout(800, False, RECORDS[-1:])), 800)
    check_fits(out, 800)
    assert "[link=https://evil.example]click[/link][bold red]X[/]" in out  # shown as text, not read as markup
    assert "\\x1b]0;pwned\\x07" in out and "\\r\\n200 fake row" in out and "\\x9b31m" in out
    assert "\\u202eevil\\u202c" in out and "\\u2066iso\\u2069" in out and "\\x7f\\x85" in out
    rows = [{"model": HOSTILE, "requests": 1, "errors": 0, "cancelled": 0, "cost": 0.0,
             **dict.fromkeys(usage.FIELDS, 0)}]
    out = rendered(usage.render(rows, "model", "7d", 200), 200)
    check_fits(out, 200)
    assert "[link=https://evil.example]" in out and len(out.splitlines()) == 4
    out = rendered(models_cmd.render(f"x: {HOSTILE}", [ModelEntry(HOSTILE)], 400), 400)
    check_fits(out, 400)
    assert "[link=https://evil.example]" in out and "\\x9b31m" in out


def test_plain_and_dumps_escape_every_dangerous_character():
    for ch in ["\x00", "\x07", "\x1b", "\n", "\r", "\x7f", "\x80", "\x9b", "\x9f", "\u202a", "\u202e", "\u2066",
               "\u2069"]:
        assert not RAW_BAD.search(display.plain(f"a{ch}b")) and "\n" not in display.plain(f"a{ch}b"), repr(ch)
        dumped = display.dumps({"m": f"a{ch}b"}, indent=1)
        assert not RAW_BAD.search(dumped) and json.loads(dumped) == {"m": f"a{ch}b"}, repr(ch)
    assert display.plain("qwen/qwen3 → 模型 ✓") == "qwen/qwen3 → 模型 ✓"  # printable text is left alone
    assert [display.cost(c) for c in (None, 0, 0.00004, 0.0012, 0.5, 12.345)] == \
        ["", "$0", "<$0.0001", "$0.0012", "$0.5000", "$12.35"]


@pytest.mark.parametrize("width", [80, 120])
def test_usage_table_fits(width):
    rows = usage.summarise(RECORDS, 0, "model")
    lines = check_fits(rendered(usage.render(rows, "model", "7d", width), width), width)
    header = columns(lines[1])
    assert {"model", "requests", "in", "out", "cost"} <= set(header)
    assert ("cancelled" in header and "errors" in header) is True
    assert ("read" in header) is (width >= 120)
    assert lines[-1].split()[:4] == ["total", "5", "2", "1"]  # 5 requests, 2 errors, 1 cancelled
    deepseek = next(line for line in lines if line.startswith("deepseek/deepseek-r1-distill"))
    assert deepseek.startswith("deepseek/deepseek-r1-distill-qwen-32b ") if width == 120 else "…" in deepseek
    assert any("[link=https://evil" in line and "…" in line for line in lines)  # the long hostile name, cut visibly


MODELS = [
    ModelEntry("deepseek/deepseek-r1-distill-qwen-32b", "", 131072, 16384, 0.12, 0.18, True, True, False),
    ModelEntry("nousresearch/hermes-3-llama-3.1-405b:free", "", 131072, None, 0.0, 0.0, True, None, False),
    ModelEntry("qwen/qwen3-coder", "", 262144, 65536, 0.2, 0.8, True, False, True),
]


@pytest.mark.parametrize("width", [80, 120])
def test_models_table_keeps_ids_whole(width):
    lines = check_fits(rendered(models_cmd.render("openrouter: 3 models", MODELS, width), width), width)
    for m in MODELS:
        assert sum(line.startswith(m.id + " ") for line in lines) == 1, m.id  # whole, on one line
    header = columns(lines[1])
    assert {"id", "context", "$/M", "in", "out"} <= set(header)
    if width == 80:
        assert "caps" in header and "T R ·" in lines[2] and "T ? ·" in lines[3] and "T · V" in lines[4]
        assert "caps: T tools, R reasoning, V vision" in lines[-1]
    else:
        assert {"tools", "think", "image"} <= set(header)


def test_models_longer_than_the_terminal_fold_last():
    ids = ["fireworks_ai/accounts/fireworks/models/dobby-mini-unhinged-plus-llama-3-1-8b", "a/b"]
    widths = models_cmd.layout(ids, 80)
    assert widths == {"id": 76}  # every other column gave way, the id stays whole
    assert models_cmd.layout(ids, 60) == {"id": 60}


def write_log(home, records: list[dict]) -> None:
    logdir = home.root / "state" / "orbridge" / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    (logdir / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_logs_and_usage_cli_at_80_columns(home):
    write_log(home, RECORDS)
    r = home("logs", extra={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    lines = check_fits(r.stdout, 80)
    assert columns(lines[0]) == ["time", "model", "status", "ms", "in", "out", "cost"]
    r = home("logs", "--errors", extra={"COLUMNS": "80"})
    lines = check_fits(r.stdout, 80)
    assert "error" in columns(lines[0]) and len(lines) == 3 and "cancelled" not in r.stdout
    r = home("usage", extra={"COLUMNS": "80"})
    check_fits(r.stdout, 80)
    assert "cancelled" in r.stdout
    r = home("usage", "--json")
    rows = {row["model"]: row for row in json.loads(r.stdout)}
    assert rows["moonshotai/kimi-k2"]["cancelled"] == 1 and rows["moonshotai/kimi-k2"]["errors"] == 1


def test_logs_json_escapes_c1_del_and_bidi(home):
    write_log(home, RECORDS[-1:])
    r = home("logs", "--json")
    assert r.returncode == 0 and not RAW_BAD.search(r.stdout.rstrip("\n")), repr(r.stdout)
    assert json.loads(r.stdout)["model"] == HOSTILE


def test_logs_n_must_be_positive(home):
    write_log(home, RECORDS)
    for n in ("0", "-3"):
        r = home("logs", "-n", n)
        assert r.returncode == 2 and r.stderr.startswith(f"orbridge: -n {n}:") and "  fix: " in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert len(home("logs", "-n", "2", "--json").stdout.splitlines()) == 2


def test_logs_follow_prints_the_header_once(home):
    write_log(home, RECORDS[:1])
    path = home.root / "state" / "orbridge" / "log" / "requests.jsonl"
    proc = subprocess.Popen([*ORBRIDGE, "logs", "-f", "-n", "1"], env={**home.env, "COLUMNS": "100"},
                            stdout=subprocess.PIPE, text=True)
    guard = threading.Timer(60, proc.kill)  # a missing line fails the test instead of hanging it
    guard.start()
    try:
        header = proc.stdout.readline()
        assert header.split()[0] == "time" and "status" in header.split(), header
        end = header.index("status") + len("status")  # status is right-aligned: every value ends here
        assert proc.stdout.readline()[:end].endswith(" 200")
        for rec in RECORDS[1:3]:
            with path.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            line = proc.stdout.readline()
            assert rec["upstream_model"] in line and "time" not in line.split(), line  # no second header
            assert line[:end].endswith(f" {rec['status']}"), line  # the same widths as the first table
    finally:
        guard.cancel()
        proc.terminate()
        proc.wait(10)


def test_models_counts_age_no_match_and_many(home):
    add_profile(home)
    home.fake.catalogue = {"data": [{"id": "fake/model", "name": "Fake", "context_length": 131072,
                                     "supported_parameters": ["tools"]}]}
    r = home("models", "--search", "fake")
    assert r.returncode == 0, r.stderr
    assert "openrouter: 1 model" in r.stdout and "1 models" not in r.stdout
    r = home("models", "--search", "nothing-like-this", "--tools")
    assert r.returncode == 0 and "no openrouter model matches --search 'nothing-like-this' --tools" in r.stderr
    assert r.stdout == ""
    cache = next((home.root / "cache" / "orbridge").glob("models-*.json"))
    data = json.loads(cache.read_text())
    cache.write_text(json.dumps({**data, "fetched_at": time.time() - 180}))
    r = home("models")
    assert "(cached 3 min ago)" in r.stdout, r.stdout
    assert "--search" not in r.stderr
    home.fake.catalogue = {"data": [{"id": f"fake/m{i}"} for i in range(201)]}
    r = home("models", "--refresh")
    assert "201 models" in r.stdout and "narrow the list with --search" in r.stderr
