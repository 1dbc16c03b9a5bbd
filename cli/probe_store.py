"""The probe's results, cached per (endpoint, model) with a timestamp in orbridge's state dir (0600), for
`orbridge models` (a probe column) and `orbridge run` (one warning line, no network, no delay)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from . import paths
from .errors import CLIError

TOOL_CHECKS = ("tool_call", "parallel_tools", "tool_result")


def cache_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(paths.APP)) / "probe.json"


def endpoint(url: str) -> str:
    """The endpoint as the cache names it: never a password from the URL."""
    from orbridge.proxy.redaction import safe_url

    return safe_url(url).rstrip("/")


def load() -> dict[str, dict]:
    """Every cached result by "endpoint model"; {} when there is none or it cannot be read."""
    try:
        raw, _warnings = paths.read_private(cache_file())
        data = json.loads(raw) if raw else {}
    except (CLIError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(results: dict[str, dict], url: str, model: str) -> dict | None:
    entry = results.get(f"{endpoint(url)} {model}")
    return entry if isinstance(entry, dict) else None


def save(url: str, found: list[dict]) -> list[str]:
    """Add this run's results (each a Result.as_dict()) stamped now; warnings from the file helpers."""
    results = load()
    for result in found:
        results[f"{endpoint(url)} {result['model']}"] = {**result, "time": round(time.time())}
    return paths.write_private(cache_file(), json.dumps(results, indent=1).encode())


def tool_failures(entry: dict) -> list[str]:
    """The tool checks a cached result failed, as `name: reason`."""
    return [f"{c['name']}: {c.get('reason') or 'failed'}" for c in entry.get("checks", [])
            if c.get("name") in TOOL_CHECKS and c.get("status") == "fail"]


def run_warnings(resolved) -> list[str]:
    """One line when a tier's model failed the probe's tool checks last time it was probed (cache only)."""
    if not cache_file().exists():
        return []
    results = load()
    bad = []
    for model in sorted(set(resolved.profile.tiers().values())):
        entry = lookup(results, resolved.profile.url, model)
        failures = tool_failures(entry) if entry else []
        if failures:
            bad.append(f"{model} ({failures[0]})")
    if not bad:
        return []
    return [f"{'; '.join(bad)} failed `orbridge probe`'s tool checks: Claude Code may not work with it"]
