"""The `orbridge` console entry: `orbridge run … -- CMD` starts without loading Typer.

`run` is what users type every time they start Claude Code, and Typer's parameter layer (it imports
pydantic) costs ~70 ms before the command can start. The plain forms of `run` are parsed here; anything
else (help, an unknown option, a command without `--`) goes to the Typer app, which explains errors.
"""

from __future__ import annotations

import os
import sys

# run's options, as declared on the Typer command in main.py (a test keeps the two in step).
VALUE_OPTIONS = {"--profile": "profile", "-p": "profile", "--provider": "provider", "--base-url": "base_url",
                 "--model": "model", "-m": "model", "--haiku": "haiku", "--port": "port", "--claude": "claude"}
FLAG_OPTIONS = {"--print-env": "print_env", "--log-bodies": "log_bodies"}


def parse_run(args: list[str]) -> dict | None:
    """`run`'s arguments as keyword values, or None when Typer should handle them."""
    values: dict = {"cmd": []}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            values["cmd"] = args[i + 1:]
            break
        if arg in FLAG_OPTIONS:
            values[FLAG_OPTIONS[arg]] = True
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if name not in VALUE_OPTIONS:
            return None  # --help, an unknown option, or a command without `--`
        if not eq:
            if i + 1 >= len(args):
                return None
            i += 1
            value = args[i]
        values[VALUE_OPTIONS[name]] = value
        i += 1
    if "port" in values:
        if not values["port"].isdigit():
            return None
        values["port"] = int(values["port"])
    values.setdefault("profile", os.environ.get("ORBRIDGE_PROFILE"))
    values.setdefault("claude", os.environ.get("ORBRIDGE_CLAUDE"))
    return values


def main() -> None:
    args = sys.argv[1:]
    parsed = parse_run(args[1:]) if args[:1] == ["run"] else None
    if parsed is None:
        from .main import main as typer_main

        typer_main()
        return
    from .errors import CLIError
    from .resolve import Overrides
    from .run import exit_now, run

    overrides = Overrides(profile=parsed.get("profile"), provider=parsed.get("provider"),
                          base_url=parsed.get("base_url"), model=parsed.get("model"), haiku=parsed.get("haiku"))
    try:
        code = run(parsed["cmd"], overrides, port=parsed.get("port", 0), claude=parsed.get("claude"),
                   print_env=parsed.get("print_env", False), log_bodies=parsed.get("log_bodies", False))
    except CLIError as exc:
        fix = f"\n  fix: {exc.fix}" if exc.fix else ""
        print(f"orbridge: {exc.message}{fix}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    exit_now(code)
