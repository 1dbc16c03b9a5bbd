"""orbridge's own files are private: umask 077 for the whole process, set first thing by the entry points.

Its own module, importing only `os`: `orbridge --help` and `orbridge run` set it before anything slow loads.
"""

from __future__ import annotations

import os

_user_umask: list[int] = []


def private_umask() -> int:
    """Make what this process creates private (umask 077). Returns the user's own umask, which a command
    started afterwards should get back (`subprocess.Popen(..., umask=...)`)."""
    old = os.umask(0o077)
    if not _user_umask:
        _user_umask.append(old)
    return _user_umask[0]
