"""Files other local accounts must not touch: folders created 0700 level by level, files opened relative to a
checked folder, never through a symlink, refused when another user owns them or can write to them.

Another account that can replace a log with its own file, or a symlink, reads every logged prompt; one that
can plant a config next to a symlinked key file gets the key. Shared by the proxy's logs and the CLI's key,
config and cache files (cli/paths.py); proxy/ cannot import cli/.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from pathlib import Path


class UnsafePath(Exception):
    """A file or folder orbridge must not read or write: `problem` says why, `fix` what to do."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path, self.problem, self.fix = Path(path), problem, fix


_umask_lock = threading.Lock()
_umask_users = 0
_umask_saved = 0


@contextlib.contextmanager
def umask077():
    """Whatever the caller's umask, what is created inside is private (umask only ever removes bits). The
    umask is the process's: threads inside at once share one 077 span, and the last one out restores the
    umask from before the first (two plain save/restore pairs interleaving would leave 077 for good)."""
    global _umask_users, _umask_saved
    with _umask_lock:
        if _umask_users == 0:
            _umask_saved = os.umask(0o077)
        _umask_users += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_users -= 1
            if _umask_users == 0:
                os.umask(_umask_saved)


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
    """Open `path` (its name, inside `dir_fd`) without following a symlink; new files are 0600, a log opened
    for appending is made 0600; refuse a file another user owns or can write."""
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
        if flags & os.O_APPEND and stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o600)  # a log of ours an older version left readable (0644): private from now on
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
