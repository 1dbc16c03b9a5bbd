"""Bind the listening socket first (cheap: no web stack imported), so the port is reserved at once."""

from __future__ import annotations

import functools
import ipaddress
import socket


@functools.lru_cache(maxsize=256)  # asked on every request, of the same one or two names
def is_loopback(host: str) -> bool:
    """This machine only: `localhost` or a loopback address (127.0.0.0/8, ::1). A name such as
    `127.example.com` is not: a web page could make it resolve here (DNS rebinding)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def raise_file_limit() -> int:
    """Lift the soft open-file limit to the hard one (1,024 is a common soft default) and return it."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # macOS caps the soft limit below an "unlimited" hard one
            pass
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def connection_cap(file_limit: int) -> int:
    """Concurrent client connections allowed: a quarter of the file limit (each request also holds an
    upstream socket, and logs and the child need some), at most 1,000."""
    return max(16, min(1000, file_limit // 4))
