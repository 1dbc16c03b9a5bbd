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
    if not key:
        return "(none)"
    if len(key) <= 12:
        return key[:2] + "…" if len(key) > 4 else "…"
    return f"{key[:4]}…{key[-4:]}"


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
