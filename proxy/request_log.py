"""One JSON line per request in the request log, rotated by size. Never a key, never a body.

The log folder may be reachable by other local accounts (a shared machine, a loose umask): another account
that can replace `bodies.jsonl` with its own file, or a symlink, reads every logged prompt. So the file is
opened relative to a checked folder, never through a symlink, and is refused (nothing written, one warning)
when another user owns it or can write to it. These primitives are shared with the CLI (cli/paths.py);
proxy/ cannot import cli/.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import threading
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024
KEEP = 3
# Every finished request's record is also emitted here (attribute `record` on the LogRecord) at INFO, so
# `orbridge serve` can print a line per request; with no handler at INFO this costs one level check.
records = logging.getLogger("orbridge.requests")
log = logging.getLogger("orbridge.proxy")


class UnsafePath(Exception):
    """A file or folder orbridge must not read or write: `problem` says why, `fix` what to do."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path, self.problem, self.fix = Path(path), problem, fix


@contextlib.contextmanager
def umask077():
    """Whatever the caller's umask, what is created inside is private (umask only ever removes bits)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def make_private_dir(path: Path) -> None:
    """Create `path` with every missing level 0700; levels that exist are left as they are."""
    missing = []
    level = Path(path)
    while not os.path.lexists(level) and level != level.parent:
        missing.append(level)
        level = level.parent
    with umask077():
        for level in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(level, 0o700)


def check(st: os.stat_result, path: Path | str) -> None:
    """Refuse what another account owns or can write (a root-owned folder, like /etc, is fine)."""
    uid = os.geteuid()
    if st.st_uid != uid and not (st.st_uid == 0 and stat.S_ISDIR(st.st_mode)):
        raise UnsafePath(path, f"is owned by another user (uid {st.st_uid}, you are {uid})",
                         f"check it, then remove it (or `chown` it to yourself): {path}")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise UnsafePath(path, f"is writable by group/others (mode {mode:o})",
                         f"check its contents, then `chmod go-w {path}`")


def open_dir(path: Path) -> int:
    """A descriptor on folder `path` once checked: files are then opened relative to it, so the folder
    cannot be swapped between the check and the open."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        check(os.fstat(fd), path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_in(dir_fd: int, path: Path, flags: int) -> int:
    """Open `path` (its name, inside `dir_fd`) without following a symlink; new files are 0600; refuse a
    file another user owns or can write."""
    try:
        with umask077():
            fd = os.open(path.name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(path, "is a symbolic link", f"replace it with a regular file: remove {path}") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(path, "is not a regular file", f"remove {path}")
        check(st, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_append(path: Path) -> int:
    """`path` opened for appending, created 0600 in a folder created 0700 when missing."""
    make_private_dir(path.parent)
    dir_fd = open_dir(path.parent)
    try:
        return open_in(dir_fd, path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    finally:
        os.close(dir_fd)


class RequestLog:
    def __init__(self, path: Path | None, max_bytes: int = MAX_BYTES, emit: bool = True) -> None:
        self.path = path
        self.emit = emit
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._warned = False
        if path is not None:
            with contextlib.suppress(OSError):
                make_private_dir(path.parent)

    def write(self, record: dict) -> None:
        if self.emit and records.isEnabledFor(logging.INFO):
            records.info("request", extra={"record": record})
        if self.path is None:
            return
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                self._append(line)
            except UnsafePath as exc:  # someone else's file: log nothing rather than hand it our records
                if not self._warned:
                    self._warned = True
                    log.warning("not logging to %s: it %s (fix: %s)", exc.path, exc.problem, exc.fix)
            except OSError:
                pass  # a full disk or a removed folder must never fail a request

    def _append(self, line: bytes) -> None:
        dir_fd = open_dir(self.path.parent)
        try:
            fd = open_in(dir_fd, self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            size = os.fstat(fd).st_size
            if size and size + len(line) > self.max_bytes:
                os.close(fd)
                self._rotate(dir_fd)
                fd = open_in(dir_fd, self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "ab") as fh:
                fh.write(line)
        finally:
            os.close(dir_fd)

    def _rotate(self, dir_fd: int) -> None:
        """Rename by name inside the checked folder: a rename moves a symlink itself, never its target."""
        name = self.path.name
        for i in range(KEEP - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{name}.{i}", f"{name}.{i + 1}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.replace(name, f"{name}.1", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
