"""Where orbridge keeps its files (platformdirs, overridable for tests and unusual setups), and how it
opens them: never through a symlink, never a file or folder another account owns or can write, and
everything it creates private (folders 0700, files 0600), whatever the umask.

Keys always live in orbridge's own config dir; `ORBRIDGE_CONFIG` moves only `config.toml`, and a folder
orbridge did not create never has its mode changed.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

import platformdirs

from orbridge.proxy.private_files import UnsafePath, make_private_dir, open_append, open_dir, open_in, umask077

from .errors import CLIError

APP = "orbridge"


def own_config_dir() -> Path:
    """orbridge's own folder: the key file lives here whatever `ORBRIDGE_CONFIG` says."""
    return Path(platformdirs.user_config_dir(APP))


def config_file() -> Path:
    override = os.environ.get("ORBRIDGE_CONFIG")
    return Path(override).expanduser() if override else own_config_dir() / "config.toml"


def keys_file() -> Path:
    return own_config_dir() / "keys.json"


def log_dir() -> Path:
    override = os.environ.get("ORBRIDGE_LOG_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_log_dir(APP))


def request_log() -> Path:
    return log_dir() / "requests.jsonl"


def cache_dir() -> Path:
    override = os.environ.get("ORBRIDGE_CACHE_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP))


def refused(exc: UnsafePath) -> CLIError:
    return CLIError(f"refusing {exc.path}: it {exc.problem}", exc.fix)


def _open_folder(folder: Path, warnings: list[str]) -> int:
    """The checked folder; orbridge's own config dir, found readable by others, is tightened (warned)."""
    try:
        fd = open_dir(folder)
    except UnsafePath as exc:
        raise refused(exc) from None
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & 0o077 and folder == own_config_dir():
        if os.path.islink(folder):  # the user's own link to a folder orbridge did not create: warn only
            warnings.append(f"{folder} is readable by others (mode {mode:o}); consider `chmod 700` on it")
        else:
            os.fchmod(fd, 0o700)
            warnings.append(f"{folder} was readable by others (mode {mode:o}); set to 700")
    return fd


def read_private(path: Path) -> tuple[bytes | None, list[str]]:
    """The content of `path` (None when it or its folder is missing) and warnings about modes fixed.
    Raises CLIError for a symlink, or a file or folder another user owns or can write."""
    warnings: list[str] = []
    try:
        dir_fd = _open_folder(path.parent, warnings)
        try:
            fd = open_in(dir_fd, path, os.O_RDONLY)
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as fh:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077 and path.parent == own_config_dir():
                os.fchmod(fd, 0o600)
                warnings.append(f"{path} had mode {mode:o}; set to 600")
            return fh.read(), warnings
    except FileNotFoundError:
        return None, warnings
    except UnsafePath as exc:
        raise refused(exc) from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror})") from None


def write_private(path: Path, data: bytes) -> list[str]:
    """Replace `path` atomically with a 0600 file (missing folder levels created 0700); return warnings."""
    warnings: list[str] = []
    try:
        make_private_dir(path.parent)
        dir_fd = _open_folder(path.parent, warnings)
    except OSError as exc:
        raise CLIError(f"{path.parent}: cannot create or open ({exc.strerror})") from None
    tmp = f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with umask077():
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(tmp, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)
    return warnings


def private_log_handler(path: Path) -> tuple[logging.Handler, str | None]:
    """A handler appending to `path` (0600, no symlink, ours, folder created 0700); when refused, a
    NullHandler and the warning to show, so a diagnostics log never stops a run."""
    try:
        fd = open_append(path)
    except UnsafePath as exc:
        return logging.NullHandler(), f"not writing {exc.path}: it {exc.problem} (fix: {exc.fix})"
    except OSError as exc:
        return logging.NullHandler(), f"cannot write {path}: {exc.strerror}"
    return logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8")), None
