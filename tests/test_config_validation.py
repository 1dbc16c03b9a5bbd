"""Config files are checked field by field on load, values given to `profile add/edit` by the same rules, and
the profile commands are complete (show every field, edit --unset, remove the active one)."""

from __future__ import annotations

import textwrap
import tomllib

import pytest

from orbridge.cli import config
from orbridge.cli.errors import CLIError


@pytest.fixture
def cfg_file(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "config.toml"
    monkeypatch.setenv("ORBRIDGE_CONFIG", str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("ORBRIDGE_PROFILE", raising=False)
    path.parent.mkdir(mode=0o700)
    return path


def write(path, text: str) -> None:
    path.write_text(textwrap.dedent(text))
    path.chmod(0o600)


def one_line_error(r, *needles: str, code: int = 2) -> None:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Error" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("orbridge: ") and lines[1].startswith("  fix: "), r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, r.stderr)


def test_a_wrong_timeout_in_the_file_is_named_by_every_command(home):
    cfg = home.config_dir / "config.toml"
    home.config_dir.mkdir(parents=True, mode=0o700)
    write(cfg, """
        active = "work"
        [profiles.work]
        model = "m"
        timeout = "ten"
    """)
    for args in (("profile", "show"), ("profile", "list"), ("run", "--print-env"), ("profile", "use", "work")):
        r = home(*args)
        one_line_error(r, '[profiles.work] timeout: expected a number of seconds > 0', 'got "ten"')
        assert r.stdout == ""
    assert "ten" in cfg.read_text()


BAD_FIELDS = [
    ('provider = "nope"', "provider: expected a preset"),
    ("provider = 3", "provider: expected a preset"),
    ('base_url = "ftp://host/v1"', "base_url: expected an http:// or https:// URL"),
    ('base_url = "http://host:99999/v1"', "base_url: expected"),
    ('base_url = "http://[::1/v1"', "base_url: expected"),
    ('sonnet = ""', "sonnet: expected a model name"),
    ('sonnet = "  "', "sonnet: expected a model name"),
    ('haiku = "a\\u0001b"', 'haiku: expected a model name (text without control characters), got "a\\u0001b"'),
    ("opus = ['x']", "opus: expected a model name"),
    ("timeout = 0", "timeout: expected a number of seconds > 0"),
    ("timeout = 86401", "timeout: expected"),
    ("timeout = nan", "timeout: expected"),
    ("timeout = true", "timeout: expected"),
    ("context_length = 0", "context_length: expected a whole number of tokens"),
    ("context_length = 1.5", "context_length: expected"),
    ("max_output = true", "max_output: expected a whole number"),
    ("max_output = 99999999999999999999", "max_output: expected"),
    ('key_name = "my key"', "key_name: expected a plain name"),
    ('key_name = "../keys"', "key_name: expected a plain name"),
    ('headers = "X: y"', "headers: expected a table"),
    ('headers = {"X-Team" = 3}', "headers.X-Team: expected printable ASCII text"),
    ('headers = {"X-Team" = "a\\r\\nInjected: 1"}', "headers.X-Team: expected printable ASCII text"),
    ('headers = {"Bad Name" = "v"}', "headers: expected header names"),
    ('routes = {think = 3}', "routes.think: expected a model name"),
    ('routes = {long_context_threshold = "60000"}', "routes.long_context_threshold: expected a whole number"),
    ('routes = {long_context_threshold = -1}', "routes.long_context_threshold: expected"),
    ('fallbacks = "m2"', "fallbacks: expected a list of model names"),
    ('fallbacks = ["m2", 3]', "fallbacks: expected a list of model names, got 3"),
]


@pytest.mark.parametrize("line,message", BAD_FIELDS)
def test_every_field_is_checked_on_load_with_the_field_named(cfg_file, line, message):
    write(cfg_file, f'[profiles.work]\nmodel = "m"\n{line}\n')
    with pytest.raises(CLIError) as err:
        config.load()
    assert err.value.code == 2 and str(cfg_file) in err.value.fix
    assert err.value.message.startswith(f"{cfg_file}: [profiles.work] ") and message in err.value.message, \
        err.value.message
    assert "\n" not in err.value.message and "\r" not in err.value.message


@pytest.mark.parametrize("text,message", [
    ('[profiles.work]\nmodel = "m"\nunknown = 1', '[profiles.work] has unknown keys: "unknown"'),
    ('[profiles.work]\nmodel = "m"\n[profiles.work.routes]\nnope = "m"',
     "[profiles.work.routes] has unknown rules: nope"),
    ("active = 3", "active: expected a profile name, got 3"),
    ('active = "a\\nb"', 'active: expected a profile name, got "a\\u000ab"'),
    ("profiles = 1", "profiles: expected a table of profiles"),
    ("[profiles]\nwork = 1", '[profiles.work]: expected a table, got 1'),
    ('[profiles.""]\nmodel = "m"', '[profiles.""] name: expected a profile name'),
    ("other = 1", 'unknown keys: "other"'),
    ("x = " + "9" * 5000, "config.toml: "),  # past Python's integer digit limit: a ValueError, not a TOML one
    ("x = " + "[" * 2000 + "]" * 2000, "config.toml: "),
])
def test_the_rest_of_the_file_is_checked_too(cfg_file, text, message):
    write(cfg_file, text + "\n")
    with pytest.raises(CLIError) as err:
        config.load()
    assert message in err.value.message and "\n" not in err.value.message
    assert err.value.code == 2  # every bad input in the file: exit 2


def test_good_values_load_and_survive_a_round_trip(cfg_file):
    write(cfg_file, """
        active = "é"
        [profiles."é"]
        base_url = "https://llm.example.com/v1"
        model = "team/coder:latest"
        timeout = 30
        context_length = 32768
        max_output = 8192
        key_name = "gateway.v2"
        fallbacks = ["m2", "m3"]
        [profiles."é".headers]
        X-Team = "platform"
        [profiles."é".routes]
        think = "deepseek/deepseek-r1"
        long_context_threshold = 60000
    """)
    cfg = config.load()
    p = cfg.get()
    assert p.provider == "custom" and p.timeout == 30.0 and isinstance(p.timeout, float)
    assert p.routes == {"think": "deepseek/deepseek-r1", "long_context_threshold": 60000}
    config.save(cfg)
    assert config.load().get() == p


@pytest.mark.parametrize("char,option", [("\r", "--model"), ("\x01", "--haiku"), ("\x7f", "--base-url"),
                                         ("\u2028", "--key-name"), ("\x85", "--opus"), ("\udcff", "--fable")])
def test_profile_add_and_edit_reject_control_characters_with_the_field_named(home, char, option):
    assert home("profile", "add", "work", "--model", "m").returncode == 0
    cfg = home.config_dir / "config.toml"
    before = cfg.read_text()
    value = f"http://host{char}/v1" if option == "--base-url" else f"a{char}b"
    for args in (("profile", "add", "other", "--model", "m", option, value),
                 ("profile", "edit", "work", option, value)):
        one_line_error(home(*args), f"orbridge: {option}: expected")
        assert cfg.read_text() == before
    tomllib.loads(cfg.read_text())


def test_profile_name_and_numbers_out_of_range_are_one_line_errors(home):
    cases = [(("profile", "add", "bad\x7fname", "--model", "m"), "profile name: expected"),
             (("profile", "add", "w", "--model", "m", "--timeout", "1e999"), "--timeout: expected"),
             (("profile", "add", "w", "--model", "m", "--timeout", "-1"), "--timeout: expected"),
             (("profile", "add", "w", "--model", "m", "--context-length", "9" * 40), "--context-length: expected"),
             (("profile", "add", "w", "--model", "m", "--max-output", "0"), "--max-output: expected"),
             (("profile", "add", "w", "--model", "m", "--provider", "nope"), "--provider: expected a preset")]
    for args, needle in cases:
        one_line_error(home(*args), needle)
    assert not (home.config_dir / "config.toml").exists()


def test_show_lists_every_field_with_header_values_masked(home):
    home.config_dir.mkdir(parents=True, mode=0o700)
    write(home.config_dir / "config.toml", """
        [profiles.gw]
        base_url = "https://user:pw@llm.example.com/v1"
        model = "team-coder"
        context_length = 32768
        max_output = 8192
        key_name = "gateway"
        fallbacks = ["m2", "m3"]
        [profiles.gw.headers]
        X-Token = "secret-header-value-123456"
        [profiles.gw.routes]
        think = "deepseek/deepseek-r1"
        long_context_threshold = 60000
    """)
    r = home("profile", "show", "gw")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for line in ("context_length 32768", "max_output 8192", "key_name  gateway", "fallbacks m2, m3",
                 "routes    think=deepseek/deepseek-r1, long_context_threshold=60000", "headers   X-Token: secr…3456",
                 "base_url  https://llm.example.com/v1"):
        assert line in out, (line, out)
    assert "secret-header-value" not in out and "pw" not in out
    r = home("profile", "show")  # the built-in one: every field too, unset ones said so
    assert r.returncode == 0 and "(built in)" in r.stdout and "context_length (from the catalogue)" in r.stdout
    assert "key_name  (none: the key stored as openrouter)" in r.stdout and "headers   (none)" in r.stdout


def test_edit_unset_removes_fields(home):
    assert home("profile", "add", "w", "--provider", "ollama", "--model", "m", "--haiku", "h", "--max-output",
                "8192", "--timeout", "30").returncode == 0
    cfg = home.config_dir / "config.toml"
    r = home("profile", "edit", "w", "--unset", "haiku", "--unset", "max-output", "--unset", "timeout",
             "--opus", "o")
    assert r.returncode == 0, r.stderr
    data = tomllib.loads(cfg.read_text())["profiles"]["w"]
    assert data == {"provider": "ollama", "model": "m", "opus": "o", "timeout": 600.0}
    before = cfg.read_text()
    one_line_error(home("profile", "edit", "w", "--unset", "nope"), '--unset "nope": not a profile field')
    one_line_error(home("profile", "edit", "w", "--unset", "model", "--unset", "opus"), "a profile needs a model")
    one_line_error(home("profile", "edit", "w", "--unset", "opus", "--opus", "x"), "--unset opus and a value")
    one_line_error(home("profile", "add", "z", "--model", "m", "--unset", "opus"), "profile add has no --unset")
    assert cfg.read_text() == before


def test_removing_the_active_profile_says_which_is_active_now(home):
    assert home("profile", "add", "work", "--model", "m", "--use").returncode == 0
    assert home("profile", "add", "other", "--model", "m").returncode == 0
    r = home("profile", "remove", "other")
    assert r.returncode == 0 and r.stdout.strip() == "removed profile other"
    r = home("profile", "remove", "work")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "removed profile work; the active profile is now default (built in)"
