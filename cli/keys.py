"""The key store: one JSON file, mode 0600, in a 0700 config dir. A provider's env var wins over it.

Keys are never printed unmasked, never passed on a command line, and never put in a child's environment.
"""

from __future__ import annotations

import json
import os
import tempfile
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
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CLIError(f"{path}: not valid JSON ({exc})",
                       "fix or remove the file, then run `orbridge keys set PROVIDER` again") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CLIError(f"{path}: expected a JSON object of provider names to keys",
                       "fix or remove the file, then run `orbridge keys set PROVIDER` again")
    return data


def check_modes() -> list[str]:
    """Tighten a config dir or key file found looser than 0700/0600; return warnings."""
    warnings = paths.ensure_private_dir(paths.config_dir()) if paths.config_dir().exists() else []
    path = paths.keys_file()
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode != 0o600:
            os.chmod(path, 0o600)
            warnings.append(f"{path} had mode {mode:o}; set to 600")
    return warnings


def stored() -> dict[str, str]:
    return _read(paths.keys_file())


def _write(data: dict[str, str]) -> None:
    path = paths.keys_file()
    paths.ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_key(provider: str, key: str) -> None:
    key = key.strip()
    if not key:
        raise CLIError("empty key: nothing stored")
    if any(c.isspace() for c in key):
        raise CLIError("the key contains spaces or line breaks: nothing stored")
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


def lookup(provider: str, env_var: str | None) -> tuple[str | None, str]:
    """The key for a provider and where it came from (`env:VAR`, `file`, or `none`)."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var], f"env:{env_var}"
    key = stored().get(provider)
    return (key, "file") if key else (None, "none")
