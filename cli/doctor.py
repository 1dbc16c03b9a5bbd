"""`orbridge doctor`: is everything wired? One line per check, and the exact fix for each failure."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from orbridge.proxy.redaction import safe_url

from . import catalogue, config, keys
from .errors import CLIError
from .resolve import Overrides, Resolved, apply, key_for

OK, FAIL, WARN = "ok", "fail", "warn"
MARK = {OK: "✓", FAIL: "✗", WARN: "!"}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None


def _claude(claude: str | None) -> Check:
    from .claude_install import locate, version_note

    exe, where = locate(claude)
    if not exe:
        given = claude or os.environ.get("ORBRIDGE_CLAUDE")
        fix = f"correct {where}, or leave it out and run orbridge setup claude" if given else "orbridge setup claude"
        return Check("claude binary", FAIL, f"not found ({where})", fix)
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
        version = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"
    except (OSError, subprocess.TimeoutExpired, IndexError) as exc:
        return Check("claude binary", WARN, f"{exe} found but `--version` failed: {exc}")
    return Check("claude binary", OK, f"{version_note(version)}: {exe} (from {where})")


def _key_accepted(profile: config.Profile, key: str | None) -> Check:
    import httpx

    if profile.kind == "litellm":
        return Check("key accepted", WARN, "LiteLLM providers are checked by the live round trip below")
    base = profile.url.rstrip("/")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    if profile.kind == "anthropic":
        url = f"{base}/v1/models"
        headers.update({"x-api-key": key or "", "anthropic-version": "2023-06-01"})
    else:
        url = f"{base}/key" if profile.provider == "openrouter" else f"{base}/models"
    try:
        resp = httpx.get(url, headers=headers, timeout=8, trust_env=False)
    except httpx.HTTPError as exc:
        from orbridge.proxy.reachability import Reachability

        return Check("upstream reachable", FAIL if isinstance(exc, httpx.ConnectError) else WARN,
                     Reachability(base).describe(f"{type(exc).__name__}: {exc}"))
    if resp.status_code in (401, 403):
        return Check("key accepted", FAIL, f"{profile.provider} answered {resp.status_code}",
                     key_for_fix(profile))
    if resp.status_code >= 400:
        return Check("upstream reachable", WARN, f"{url} answered {resp.status_code}")
    if not key:
        return Check("upstream reachable", OK, f"{safe_url(base)} answered {resp.status_code}")
    return Check("key accepted", OK, f"{profile.provider} accepted the key")


def key_for_fix(profile: config.Profile) -> str:
    _key, source, label = key_for(profile)
    return Resolved(profile, None, source, {}, label).key_fix


def _litellm_credentials(profile: config.Profile) -> list[Check]:
    """LiteLLM reads each provider's own variables: say which are missing for the profile's models."""
    from orbridge.proxy.upstreams.litellm_provider import missing_credentials

    checks = []
    for model in sorted(set(profile.tiers().values())):
        missing = missing_credentials(model)
        if missing:
            checks.append(Check("credentials", FAIL, f"{model}: {', '.join(missing)} not set",
                                f"export {missing[0]}=…   (LiteLLM reads the provider's own variables)"))
        else:
            checks.append(Check("credentials", OK, f"{model}: the provider's variables are set"))
    return checks


def _tier_models(profile: config.Profile) -> list[Check]:
    if not profile.catalogue_url:
        return [Check("models", OK, ", ".join(f"{t}={m}" for t, m in profile.tiers().items()))]
    cat, warning = catalogue.load(profile.catalogue_url, timeout=8)
    if cat is None:
        return [Check("models exist", WARN, warning or "no catalogue", "orbridge models --refresh")]
    checks = []
    for tier, model in profile.tiers().items():
        entry = cat.get(model)
        if entry is None:
            checks.append(Check(f"{tier} model", FAIL, f"{model} is not in the {profile.provider} catalogue",
                                f"orbridge profile edit {profile.name} --{tier} <id from `orbridge models --tools`>"))
        elif entry.tools is False:
            checks.append(Check(f"{tier} model", FAIL, f"{model} does not support tool calls",
                                f"orbridge profile edit {profile.name} --{tier} <id from `orbridge models --tools`>"))
        else:
            size = f"context {entry.context_length or '?'}, max output {entry.max_output or '?'}"
            checks.append(Check(f"{tier} model", OK, f"{model} ({size})"))
    return checks


def _port() -> Check:
    from orbridge.proxy.listen import bind

    try:
        sock = bind()
    except OSError as exc:
        return Check("loopback port", FAIL, f"cannot bind 127.0.0.1: {exc}")
    port = sock.getsockname()[1]
    sock.close()
    return Check("loopback port", OK, f"127.0.0.1:{port} binds")


def _onboarding() -> Check:
    path = Path.home() / ".claude.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if data.get("hasCompletedOnboarding"):
        trusted = ((data.get("projects") or {}).get(os.getcwd()) or {}).get("hasTrustDialogAccepted")
        note = "" if trusted else f"; this folder is not trusted yet (claude will ask once in {os.getcwd()})"
        return Check("claude onboarding", OK, f"{path}: onboarding completed{note}")
    return Check("claude onboarding", WARN, f"{path}: onboarding not completed; interactive claude will show "
                 "its first-run screens first", "run `orbridge run -- claude` once and finish the theme picker")


def _environment() -> list[Check]:
    checks = []
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        if os.environ.get(var):
            checks.append(Check("environment", WARN, f"{var} is set in your shell; `orbridge run` overrides it "
                                "for the child, but plain `claude` would use it", f"unset {var}"))
    return checks or [Check("environment", OK, "no conflicting ANTHROPIC_* variables")]


def _round_trip(resolved: Resolved) -> Check:
    import httpx

    from orbridge.proxy.listen import bind
    from orbridge.proxy.server import ProxyServer

    from .resolve import proxy_settings

    token = secrets.token_urlsafe(16)
    server = ProxyServer(proxy_settings(resolved, token), bind(), quiet=True).start()
    try:
        resp = httpx.post(f"{server.url}/v1/messages", timeout=60, headers={"x-api-key": token}, json={
            "model": "claude-haiku-4-5", "max_tokens": 16,
            "messages": [{"role": "user", "content": "Reply with the single word: ok"}]})
    except httpx.HTTPError as exc:
        return Check("live round trip", FAIL, f"{type(exc).__name__}: {exc}")
    finally:
        server.stop()
    if resp.status_code != 200:
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = resp.text[:200]
        return Check("live round trip", FAIL, f"{resp.status_code}: {message}")
    text = "".join(b.get("text", "") for b in resp.json().get("content", []) if b.get("type") == "text")
    return Check("live round trip", OK, f"haiku tier answered {text.strip()[:40]!r}")


def run_checks(o: Overrides, claude: str | None) -> list[Check]:
    checks = [_claude(claude)]
    try:
        cfg = config.load()
        checks.append(Check("config", OK, f"{cfg.path}" + ("" if cfg.path.exists() else " (none: built-in "
                                                                                           "default profile)")))
        profile = apply(cfg.get(o.profile), o)
    except CLIError as exc:
        checks.append(Check("config", FAIL, exc.message, exc.fix))
        return checks
    transport = {"openai": "OpenAI-compatible (httpx)", "anthropic": "Anthropic pass-through",
                 "litellm": "LiteLLM"}[profile.kind]
    checks.append(Check("profile", OK, f"{profile.name}: {profile.provider} at "
                        f"{safe_url(profile.url) or '(LiteLLM default)'}"
                        f", transport {transport}"))
    warnings = keys.check_modes()
    for warning in warnings:
        checks.append(Check("key file", WARN, warning))
    try:
        key, source, label = key_for(profile)
    except CLIError as exc:
        checks.append(Check("api key", FAIL, exc.message, exc.fix))
        return checks
    resolved = Resolved(profile, key, source, {}, label)
    needs = profile.preset is not None and profile.preset.needs_key and not profile.base_url
    host = safe_url(profile.url) if profile.url else "LiteLLM's provider endpoint"
    if key:
        checks.append(Check("api key", OK, f"{keys.mask(key)} ({label}, from {source}) → {host}"))
    elif needs:
        env = f" or export {profile.env_var}" if profile.env_var else ""
        checks.append(Check("api key", FAIL, f"no key for {profile.provider}",
                            f"orbridge keys set {profile.preset.key or profile.provider}{env}"))
    elif profile.kind == "litellm":
        checks += _litellm_credentials(profile)
    else:
        checks.append(Check("api key", OK, f"none sent to {host} (no Authorization header)",
                            None if profile.preset is None else resolved.key_fix))
    for warning in resolved.warnings():
        checks.append(Check("key transport", WARN, warning, "use an https:// base URL"))
    checks.append(_key_accepted(profile, key))
    checks += _tier_models(profile)
    checks.append(_port())
    checks.append(_onboarding())
    checks += _environment()
    if key or not needs:
        checks.append(_round_trip(resolved))
    return checks


def doctor(o: Overrides, as_json: bool, claude: str | None) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("checking…"):
        checks = run_checks(o, claude)
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=1))
        return 1 if failed else 0
    for c in checks:
        print(f"{MARK[c.status]} {c.name}: {c.detail}")
        if c.fix and c.status != OK:
            print(f"    fix: {c.fix}")
    return 1 if failed else 0
