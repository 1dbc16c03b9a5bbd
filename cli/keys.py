"""The key store: one JSON file, mode 0600, in orbridge's own 0700 config dir (never where `ORBRIDGE_CONFIG`
points). A provider's env var wins over it.

Keys are never printed unmasked, never passed on a command line, and never put in a child's environment.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from pathlib import Path

from . import paths
from .errors import CLIError


def mask(key: str | None) -> str:
    from orbridge.proxy.redaction import mask as masked

    return masked(key) if key else "(none)"


def _read(path: Path) -> dict[str, str]:
    raw, warnings = paths.read_private(path)
    for warning in warnings:
        print(f"orbridge: warning: {warning}", file=sys.stderr)
    if raw is None:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise CLIError(f"{path}: not valid JSON ({exc})",
                       "fix or remove the file, then run `orbridge keys set PROVIDER` again") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CLIError(f"{path}: expected a JSON object of provider names to keys",
                       "fix or remove the file, then run `orbridge keys set PROVIDER` again")
    return data


def check_modes() -> list[str]:
    """Check the config dir and key file (refusing ones others own or can write, or a symlink), tighten
    ones others can read; return warnings about what was tightened."""
    return paths.read_private(paths.keys_file())[1]


def stored() -> dict[str, str]:
    return _read(paths.keys_file())


def _write(data: dict[str, str]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True)
    for warning in paths.write_private(paths.keys_file(), text.encode("utf-8")):
        print(f"orbridge: warning: {warning}", file=sys.stderr)


def _bad_char(key: str) -> str | None:
    """A character no API key holds: whitespace inside it, or a control character (an httpx error quotes it)."""
    for c in key:
        if c.isspace() or unicodedata.category(c) == "Cc":
            return repr(c)
    return None


def set_key(provider: str, key: str) -> None:
    key = key.strip()
    if not key:
        raise CLIError("empty key: nothing stored")
    bad = _bad_char(key)
    if bad:
        raise CLIError(f"the key contains {bad} (a space, line break or control character): nothing stored",
                       f"copy the key again and run `orbridge keys set {provider}`")
    data = stored()
    data[provider] = key
    _write(data)


def remove_key(provider: str) -> bool:
    data = stored()
    if provider not in data:
        return False
    del data[provider]
    _write(data)
    return True


def lookup(provider: str | None, env_var: str | None) -> tuple[str | None, str]:
    """The key and where it came from (`env:VAR`, `file`, or `none`), stripped of surrounding whitespace.

    `provider` is the name the key is stored under (`Profile.key_id`); None means no stored key applies
    (a custom endpoint without `key_name`): only `env_var`, if any, is consulted."""
    if env_var and os.environ.get(env_var, "").strip():
        key = os.environ[env_var].strip()
        if _bad_char(key):
            raise CLIError(f"{env_var} holds {_bad_char(key)} inside the key",
                           f"export {env_var} again with the key alone")
        return key, f"env:{env_var}"
    key = stored().get(provider, "").strip() if provider else ""
    if key and _bad_char(key):
        raise CLIError(f"the key for {provider} in {paths.keys_file()} holds {_bad_char(key)}",
                       f"run `orbridge keys set {provider}` again")
    return (key, "file") if key else (None, "none")


def known_names() -> set[str]:
    """Names a key can usefully be stored under: presets, keys already stored, profiles' `key_name`s."""
    from . import config

    names = set(config.PRESETS) | set(stored())
    try:
        names |= {p.key_name for p in config.load().profiles.values() if p.key_name}
    except CLIError:
        pass  # a broken config file is reported by the commands that need it
    return names


def _confirm_name(name: str, force: bool) -> None:
    """A name close to a known one is likely a typo: store under it only when the user says so."""
    import difflib

    known = known_names()
    if force or name in known:
        return
    near = difflib.get_close_matches(name, sorted(known), n=3)
    if not near:
        return  # a new name of the user's own (a gateway's key, tied with --key-name)
    question = f"no provider or key is named {name!r} — did you mean {' or '.join(near)}?"
    if not sys.stdin.isatty():
        raise CLIError(question, f"orbridge keys set {near[0]}   (or keep the name: orbridge keys set {name} --force)",
                       code=2)
    print(f"{question} Store the key as {name!r} anyway? [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        print(file=sys.stderr)
        raise SystemExit(130) from None
    if answer.strip().lower() not in ("y", "yes"):
        raise CLIError("nothing stored", f"orbridge keys set {near[0]}")


def _read_key(name: str) -> str:
    """The key from a hidden prompt on a terminal, else one line of stdin; Ctrl-C stores nothing."""
    if not sys.stdin.isatty():
        return sys.stdin.readline()
    import getpass

    try:
        return getpass.getpass(f"API key for {name} (input hidden): ")
    except KeyboardInterrupt:
        print(file=sys.stderr)  # the prompt's line ends before the shell's does
        raise SystemExit(130) from None
    except EOFError:
        print(file=sys.stderr)
        raise CLIError("no key entered: nothing stored", f"orbridge keys set {name}") from None


def env_override(name: str) -> str | None:
    """The variable that wins over a key stored under `name`, when it is set."""
    from . import config

    for preset_name, preset in config.PRESETS.items():
        if (preset.key or preset_name) == name and preset.env_var and os.environ.get(preset.env_var, "").strip():
            return preset.env_var
    return None


def set_command(name: str, force: bool) -> None:
    """`orbridge keys set NAME`: check the name, read the key, store it, say what will actually be used."""
    from .config import PRESETS

    preset = PRESETS.get(name)
    if preset is not None and preset.prefix and preset.env_var is None:  # Vertex, Bedrock: cloud credentials
        raise CLIError(f"{name} takes no API key: it uses your cloud credentials",
                       f"orbridge doctor --provider {name}   (names what to set)", code=2)
    _confirm_name(name, force)
    value = _read_key(name)
    set_key(name, value)
    print(f"stored the key for {name}: {mask(value.strip())}")
    var = env_override(name)
    if var:
        print(f"note: ${var} is set and wins over the stored key; unset it to use this one", file=sys.stderr)


def remove_command(name: str) -> None:
    if not remove_key(name):
        raise CLIError(f"no stored key named {name!r}: nothing removed", "`orbridge keys list` shows the stored keys")
    print(f"removed the key for {name}")
