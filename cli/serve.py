"""`orbridge serve`: the proxy alone, in the foreground, for any Anthropic-API client."""

from __future__ import annotations

import secrets
import sys

from . import paths
from .errors import CLIError
from .keys import mask
from .resolve import Overrides, proxy_settings, resolve

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def serve(host: str, port: int, token: str | None, show_token: bool, allow_remote: bool, o: Overrides,
          log_bodies: bool) -> None:
    if host not in LOOPBACK and not (allow_remote and token):
        raise CLIError(f"refusing to listen on {host}: the proxy spends your API key for whoever reaches it",
                       "use --allow-remote together with --token (or ORBRIDGE_TOKEN)")
    from orbridge.proxy.listen import bind

    try:
        sock = bind("127.0.0.1" if host == "localhost" else host, port)
    except OSError as exc:
        raise CLIError(f"cannot listen on {host}:{port}: {exc.strerror}", "choose another --port") from None
    resolved = resolve(o)
    token = token or secrets.token_urlsafe(32)
    settings = proxy_settings(resolved, token, log_path=paths.request_log(), allow_remote=allow_remote,
                              log_bodies_path=(paths.log_dir() / "bodies.jsonl") if log_bodies else None)
    shown_host = f"[{host}]" if ":" in host else host
    p = resolved.profile
    print(f"orbridge proxy on http://{shown_host}:{sock.getsockname()[1]}  profile {p.name} → {p.provider} "
          f"({p.model or p.tiers()['sonnet']})")
    print("Point an Anthropic client at it:")
    print(f"  export ANTHROPIC_BASE_URL=http://{shown_host}:{sock.getsockname()[1]}")
    print(f"  export ANTHROPIC_AUTH_TOKEN={token if show_token else mask(token)}")
    if not show_token:
        print("  (token masked: pass --show-token to print it, or fix one with --token / ORBRIDGE_TOKEN)")
    sys.stdout.flush()
    from orbridge.proxy.server import run_forever

    run_forever(settings, sock)
