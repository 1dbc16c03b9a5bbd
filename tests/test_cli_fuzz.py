"""Every command, random values in every option and argument, random config files: never a traceback, exit 0,
1 or 2, and config.toml never half-written (it parses after any command, or is unchanged).

Commands run in-process (typer's CliRunner on the real app) for speed; an exception that is not a CLIError or
SystemExit is what a user would see as a traceback. Network: only 127.0.0.1 (the fake upstream, a dead port).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orbridge.cli import config
from orbridge.cli import umask as umask_module
from orbridge.cli.entry import parse_run, start_run
from orbridge.cli.errors import CLIError
from orbridge.cli.main import app

DEAD = "http://127.0.0.1:1/v1"
FUZZ = settings(max_examples=500, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SPECIAL = ["", " ", "0", "-1", "1e999", "nan", "inf", "9" * 30, "9" * 5000, "default", "work", "custom", "openrouter",
           "ollama", "anthropic", "routes", "headers", "timeout", "model", "a\rb", "a\x01b", "a\x7fb", "\x00",
           "\u2028", "é", "名前", "\udcff", "--", "-x", "=", "[profiles]", '"', "\\", DEAD, "http://[::1/v1",
           "http://127.0.0.1:99999/v1", "30m", "7d", "99999999999999999999w", "model", "day", "profile"]
text = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=12),
                 st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=True).map(repr))

# Values that fit each option and field, so that commands also get past the checks; `val` mixes them with noise.
GOOD = {"provider": ["ollama", "openrouter", "custom", "anthropic", "vllm"], "base_url": [DEAD, "http://127.0.0.1:2/v1"],
        "model": ["m", "qwen/qwen3-coder", "a b"], "timeout": [30, 0.5, 86400], "key_name": ["gateway", "openrouter"],
        "context_length": [32768], "max_output": [8192], "headers": [{"X-Team": "platform"}],
        "routes": [{"think": "r", "long_context_threshold": 5}], "fallbacks": [["m2"]]}
for tier in ("opus", "sonnet", "haiku", "fable"):
    GOOD[tier] = GOOD["model"]
NAMES = ["work", "x", "default", "é", "a.b"]


def val(good: list) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(good), st.sampled_from(good), text)


# Scalars and containers a hand-written TOML file can hold, of every type.
scalar = st.one_of(text, st.integers(-2**63, 2**63 - 1), st.booleans(), st.floats(allow_nan=True))
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(text, inner, max_size=3)), max_leaves=6)
profile_table = st.one_of(
    st.fixed_dictionaries({"model": st.sampled_from(GOOD["model"])},
                          optional={k: st.sampled_from(v) for k, v in GOOD.items() if k != "model"}),
    st.fixed_dictionaries({}, optional={k: st.one_of(st.sampled_from(GOOD.get(k, [1])), value)
                                        for k in [*config.UNSETTABLE, "name", "nope"]}))
config_data = st.fixed_dictionaries({}, optional={
    "active": st.one_of(st.sampled_from(NAMES), value),
    "profiles": st.one_of(st.dictionaries(st.one_of(st.sampled_from(NAMES), text), profile_table, max_size=3), value),
    "other": value})


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string (\uXXXX escapes) for all these characters
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


good_config = st.fixed_dictionaries({"profiles": st.dictionaries(st.sampled_from(NAMES), profile_table, max_size=3)},
                                    optional={"active": st.sampled_from(NAMES)})
config_text = st.one_of(
    st.none(),  # no file
    good_config.map(lambda d: "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in d.items()) + "\n"),
    config_data.map(lambda d: "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in d.items()) + "\n"),
    st.text(max_size=60),  # anything at all
    st.sampled_from(['[profiles.work]\nmodel = "m"\ntimeout = "ten"\n',
                     'active = "work"\n[profiles.work]\nprovider = "ollama"\nmodel = "m"\n[profiles.work.headers]\n'
                     'X-Token = "secret"\n[profiles.work.routes]\nthink = "r"\nlong_context_threshold = 5\n',
                     "x = " + "9" * 5000 + "\n", "a = " + "[" * 1500 + "]" * 1500 + "\n"]),
)


OPTION_VALUES = {f"--{k.replace('_', '-')}": val([str(x) for x in v]) for k, v in GOOD.items()
                 if k not in ("headers", "routes", "fallbacks")}
OPTION_VALUES["--unset"] = val([*config.UNSETTABLE, "max-output"])
OPTION_VALUES["--profile"] = val(NAMES)


def options(names: list[str]):
    """Random (option, value) pairs, flattened; values mostly fit the option, or are noise."""
    pairs = st.sampled_from(names).flatmap(lambda n: st.tuples(st.just(n), OPTION_VALUES.get(n, text)))
    return st.lists(pairs, max_size=4).map(lambda p: [x for kv in p for x in kv])


name = val(NAMES)
PROFILE_OPTS = [*OPTION_VALUES]
PROFILE_OPTS.remove("--unset")
commands = st.one_of(
    st.tuples(st.just(["profile", "add"]), name, options(PROFILE_OPTS), st.sampled_from([[], ["--use"]]),
              st.sampled_from([[], ["--model", "m"]])).map(lambda t: [*t[0], t[1], *t[4], *t[2], *t[3]]),
    st.tuples(st.just(["profile", "edit"]), name, options([*PROFILE_OPTS, "--unset", "--unset"]))
    .filter(lambda t: t[2]).map(lambda t: [*t[0], t[1], *t[2]]),  # never no options: that opens $EDITOR
    st.tuples(st.sampled_from([["profile", "show"], ["profile", "use"], ["profile", "remove"], ["keys", "remove"]]),
              name).map(lambda t: [*t[0], t[1]]),
    st.sampled_from([["profile", "show"], ["profile", "list"], ["keys", "list"], ["logs"], ["logs", "--json"],
                     ["logs", "--errors"]]),
    st.tuples(st.just(["logs", "-n"]), val(["1", "5", "9" * 30])).map(lambda t: [*t[0], t[1]]),
    st.tuples(st.just(["usage"]), st.sampled_from([[], ["--json"]]), val(["7d", "30m", "2w", "9" * 30 + "d"]),
              val(["model", "day", "profile"])).map(lambda t: [*t[0], *t[1], "--since", t[2], "--by", t[3]]),
)


@pytest.fixture
def env(tmp_path, monkeypatch, upstream):
    """An isolated HOME and config, no keys from the environment."""
    for var in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ORBRIDGE_PROFILE", "ORBRIDGE_CONFIG",
                "ORBRIDGE_CLAUDE", "ORBRIDGE_TOKEN", "VISUAL", "EDITOR"):
        monkeypatch.delenv(var, raising=False)
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "cfg"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_STATE_HOME", "state"), ("ORBRIDGE_LOG_DIR", "logs")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return tmp_path


def reset(root: Path, text: str | None, log: bool = True) -> Path:
    """A fresh config dir holding `text` as config.toml (none when None), and a small request log."""
    for sub in ("cfg", "cache", "logs"):
        shutil.rmtree(root / sub, ignore_errors=True)
    folder = root / "cfg" / "orbridge"
    folder.mkdir(parents=True, mode=0o700)
    (root / "logs").mkdir(mode=0o700)
    if log:
        (root / "logs" / "requests.jsonl").write_text(
            json.dumps({"time": 1.0, "model": "m\x1b[2J", "status": 200, "input_tokens": 10**30}) + "\n{bad\n")
    cfg = folder / "config.toml"
    if text is not None:
        cfg.write_bytes(text.encode("utf-8", "surrogatepass"))
        cfg.chmod(0o600)
    return cfg


def invoke(args: list[str], stdin: str = "") -> tuple[int, str]:
    """Run the CLI in-process as `orbridge.cli.main.main` would; (exit code, what went to stderr).
    Fails on anything a user would see as a traceback."""
    result = CliRunner().invoke(app, args, input=stdin, catch_exceptions=True)
    exc = result.exception
    if isinstance(exc, CLIError):
        assert "\n" not in exc.message and "\n" not in (exc.fix or ""), (args, exc.message, exc.fix)
        return exc.code, f"orbridge: {exc.message}"
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(f"orbridge {args!r} raised {type(exc).__name__}: {exc}") from exc
    assert "Traceback" not in result.stderr, (args, result.stderr)
    return result.exit_code, result.stderr


def check_outcome(args: list[str], code: int, cfg: Path, before: bytes | None) -> None:
    assert code in (0, 1, 2), (args, code)
    after = cfg.read_bytes() if cfg.exists() else None
    if after != before:
        tomllib.loads(after.decode("utf-8"))  # changed: then whole and readable
        config.load()  # and valid, as orbridge reads it
    assert not [p.name for p in cfg.parent.iterdir() if p.name.endswith(".tmp")]


@FUZZ
@given(config_text, commands, text)
def test_commands_with_random_values_and_config_files_never_crash(env, file_text, args, stdin):
    cfg = reset(env, file_text)
    before = cfg.read_bytes() if cfg.exists() else None
    if args[0] == "keys" and args[1] == "remove":  # `keys set` too, with the same random name
        code, _ = invoke(["keys", "set", args[2]], stdin)
        assert code in (0, 1, 2)
    code, _ = invoke(args)
    check_outcome(args, code, cfg, before)


@settings(FUZZ, max_examples=40)
@given(config_text, options(["--provider", "--model", "--haiku", "--key-name", "--profile", "--search"]),
       st.sampled_from(["models", "doctor", "run"]))
def test_network_commands_with_random_values_never_crash(env, upstream, file_text, opts, command):
    """models against the fake upstream, doctor against a dead URL, run --print-env (no command is started)."""
    cfg = reset(env, file_text)
    before = cfg.read_bytes() if cfg.exists() else None
    opts = [v for i in range(0, len(opts), 2) for v in (opts[i], opts[i + 1])
            if not (command != "models" and opts[i] == "--search") and opts[i + 1] != "litellm"]
    if command == "models":
        args = ["models", "--json", "--base-url", upstream.base_url, *opts]
        code, _ = invoke(args)
    elif command == "doctor":
        args = ["doctor", "--json", "--base-url", DEAD, "--claude", str(env / "no-claude"), *opts]
        code, _ = invoke(args)
    else:
        args = ["--print-env", "--base-url", DEAD, *opts]
        umask, saved = os.umask(0o022), list(umask_module._user_umask)  # run() makes this process's umask 077
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                parsed = parse_run(args)
                code = start_run(parsed) if parsed is not None else 0
        except CLIError as exc:
            assert "\n" not in exc.message
            code = exc.code
        finally:
            os.umask(umask)
            umask_module._user_umask[:] = saved
    check_outcome(args, code, cfg, before)
