"""The `orbridge` console entry: `orbridge run … -- CMD` starts without loading Typer.

`run` is what users type every time they start Claude Code, and Typer's parameter layer costs ~70 ms before
the command can start. So `run`'s arguments are parsed here, always (Typer's `run` parses its raw arguments
with this same function): only `--help` goes to Typer. Everything after `--` belongs to the command,
untouched; before `--` only run's own options are accepted, and none of them is one of claude's short
options (-c -d -h -n -p -r -v -w), so `orbridge run claude -p hi` is explained instead of misread.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from .errors import CLIError, report

# run's options, as declared on the Typer command in main.py (a test keeps the two in step).
VALUE_OPTIONS = {"--profile": "profile", "--provider": "provider", "--base-url": "base_url", "--model": "model",
                 "-m": "model", "--haiku": "haiku", "--port": "port", "--claude": "claude", "--key-name": "key_name",
                 "--budget": "budget"}
LIST_OPTIONS = {"--pass-env": "pass_env"}
FLAG_OPTIONS = {"--print-env": "print_env", "--log-bodies": "log_bodies", "--install-claude": "install_claude",
                "--no-statusline": "no_statusline"}
HELP_OPTIONS = ("-h", "--help")
RUN_FIX = "options for the command go after `--`, e.g. orbridge run -- claude -p hi; see orbridge run --help"


def parse_port(value: str, any_port: bool) -> int:
    """A TCP port from the command line; 0 (any free port) only where `any_port`."""
    low = 0 if any_port else 1
    if re.fullmatch(r"[0-9]{1,5}", value) and low <= int(value) <= 65535:
        return int(value)
    what = "is out of range" if value.isascii() and value.isdigit() else "is not a number"
    hint = " (0: any free port)" if any_port else ""
    raise CLIError(f"--port {value!r} {what}", f"give a port from {low} to 65535{hint}", code=2)


def parse_budget(value: str | None) -> float | None:
    """--budget USD: an amount above zero (a leading `$` is fine), or None when not given."""
    if value is None:
        return None
    try:
        amount = float(value.strip().removeprefix("$"))
    except ValueError:
        amount = -1.0
    if not 0 < amount <= 1_000_000:  # also NaN and inf
        raise CLIError(f"--budget {value!r} is not an amount in USD", "give an amount above 0, e.g. --budget 2.50",
                       code=2)
    return amount


def parse_run(args: list[str]) -> dict | None:
    """`run`'s arguments as keyword values, or None for help; a usage error raises CLIError (exit 2)."""
    values: dict = {"cmd": [], "pass_env": []}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            values["cmd"] = args[i + 1:]
            break
        if arg in HELP_OPTIONS:
            return None
        if arg in FLAG_OPTIONS:
            values[FLAG_OPTIONS[arg]] = True
            i += 1
            continue
        if not arg.startswith("-") or arg == "-":
            rest = list(args[i:])
            if "--" in rest:
                rest.remove("--")
            raise CLIError(f"`{shlex.join(rest)}` is a command: orbridge run takes it after `--`",
                           f"put the command after `--`: {shlex.join(['orbridge', 'run', *args[:i], '--', *rest])}",
                           code=2)
        if arg[:2] in VALUE_OPTIONS and len(arg) > 2 and arg[1] != "-":
            name, eq, value = arg[:2], "=", arg[2:]  # -mMODEL
        else:
            name, eq, value = arg.partition("=")
        key = VALUE_OPTIONS.get(name) or LIST_OPTIONS.get(name)
        if key is None:
            fix = "a profile is --profile NAME; " + RUN_FIX if name == "-p" else RUN_FIX
            raise CLIError(f"unknown option for orbridge run: {name}", fix, code=2)
        if not eq:
            if i + 1 >= len(args):
                raise CLIError(f"{name} needs a value", "see orbridge run --help", code=2)
            i += 1
            value = args[i]
        if name in LIST_OPTIONS:
            values[key].append(value)
        else:
            values[key] = value
        i += 1
    if "port" in values:
        values["port"] = parse_port(values["port"], any_port=True)
    if "budget" in values:
        values["budget"] = parse_budget(values["budget"])
    values.setdefault("profile", os.environ.get("ORBRIDGE_PROFILE"))
    values.setdefault("claude", os.environ.get("ORBRIDGE_CLAUDE"))
    return values


def start_run(values: dict) -> int:
    """Run what `parse_run` parsed; the command's exit code."""
    from .resolve import Overrides
    from .run import find_command, run

    if values.get("install_claude") and not values.get("print_env"):
        # find (installing when missing) before run(), which then finds the same path again
        values["cmd"] = find_command(values["cmd"], values.get("claude"), install=True)
    overrides = Overrides(profile=values.get("profile"), provider=values.get("provider"),
                          base_url=values.get("base_url"), model=values.get("model"), haiku=values.get("haiku"),
                          key_name=values.get("key_name"))
    return run(values["cmd"], overrides, port=values.get("port", 0), claude=values.get("claude"),
               print_env=values.get("print_env", False), log_bodies=values.get("log_bodies", False),
               pass_env=values["pass_env"], budget=values.get("budget"),
               statusline=not values.get("no_statusline", False))


def main() -> None:
    from .umask import private_umask

    private_umask()  # what orbridge creates is private; a command it starts gets the user's umask back
    args = sys.argv[1:]
    if args[:1] == ["statusline"] and len(args) == 1:  # Claude Code runs it every few hundred ms: nothing else loads
        from .statusline import main as statusline

        sys.exit(statusline())
    if args[:1] != ["run"]:
        from .main import main as typer_main

        typer_main()
        return
    from .run import exit_now

    try:
        parsed = parse_run(args[1:])
        if parsed is None:
            from .main import main as typer_main

            typer_main()  # run --help
            return
        code = start_run(parsed)
    except CLIError as exc:
        code = report(exc)
    except KeyboardInterrupt:
        code = 130
    exit_now(code)
