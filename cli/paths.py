"""Where orbridge keeps its files (platformdirs, overridable for tests and unusual setups)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "orbridge"


def config_file() -> Path:
    override = os.environ.get("ORBRIDGE_CONFIG")
    return Path(override).expanduser() if override else Path(platformdirs.user_config_dir(APP)) / "config.toml"


def config_dir() -> Path:
    return config_file().parent


def keys_file() -> Path:
    return config_dir() / "keys.json"


def log_dir() -> Path:
    override = os.environ.get("ORBRIDGE_LOG_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_log_dir(APP))


def request_log() -> Path:
    return log_dir() / "requests.jsonl"


def cache_dir() -> Path:
    override = os.environ.get("ORBRIDGE_CACHE_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP))


def ensure_private_dir(path: Path) -> list[str]:
    """Create `path` with mode 0700 (fixing a looser one); return warnings about what was fixed."""
    warnings = []
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o700)
        warnings.append(f"{path} was readable by others (mode {mode:o}); set to 700")
    return warnings
