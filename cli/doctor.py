"""`orbridge doctor`: is everything wired? One line per check, and the exact fix for each failure."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.text import Text

from orbridge.proxy.redaction import Redactor, safe_url

from . import catalogue, config, display, keys
from .errors import CLIError
from .resolve import Overrides, Resolved, apply, key_for

OK, FAIL, WARN = "ok", "fail", "warn"
MARK = {OK: "✓", FAIL: "✗", WARN: "!"}
STYLE = {OK: "green", FAIL: "red", WARN: "yellow"}


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

    if profile.transport.model_list is None:
        return Check("key accepted", WARN, f"{profile.transport.display} providers are checked by the live "
                     "round trip below")
    base = profile.url.rstrip("/")
    url, headers = profile.transport.models_request(base, key)
    if profile.provider == "openrouter":
        url = f"{base}/key"
    try:
        resp = httpx.get(url, headers=headers, timeout=8, trust_env=False)
    except httpx.HTTPError as exc:
        from orbridge.proxy.reachability import Reachability

        detail = Reachability(base).describe(f"{type(exc).__name__}: {exc}").replace(
            "; `orbridge doctor` checks the setup", "").replace(" `orbridge doctor` checks the setup", "")
        return Check("upstream reachable", FAIL if isinstance(exc, httpx.ConnectError) else WARN, detail,
                     _unreachable_fix(detail))
    if resp.status_code in (401, 403):
        return Check("key accepted", FAIL, f"{profile.provider} answered {resp.status_code}",
                     key_for_fix(profile))
    if resp.status_code >= 400:
        return Check("upstream reachable", WARN, f"{safe_url(url)} answered {resp.status_code}")
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


VERTEX_EXTRA = "pipx install 'orbridge[vertex]'   (or: pip install 'orbridge[vertex]')"


def _native_credentials(profile: config.Profile) -> list[Check]:
    """A native preset's own settings, each failure naming the variable to set: the key, Azure's endpoint,
    Vertex's service-account file and project, Bedrock's AWS credentials and region."""
    env, name = os.environ, profile.provider
    checks = []
    var = profile.preset.env_var if profile.preset else None
    if var and profile.base_url:  # LiteLLM sends the provider's variable to the URL given
        checks.append(Check("api key", OK, f"${var} is set") if env.get(var, "").strip() else
                      Check("api key", FAIL, f"${var} is not set (a stored key goes only to {name}'s own API)",
                            f"export {var}=…"))
    if name == "azure" and not (profile.base_url or env.get("AZURE_API_BASE")):
        checks.append(Check("endpoint", FAIL, "no Azure endpoint: $AZURE_API_BASE is not set",
                            "export AZURE_API_BASE=https://NAME.openai.azure.com   (or --base-url URL)"))
    if name == "vertex":
        checks += _vertex(env)
    if name == "bedrock":
        checks += _bedrock(env)
    return checks


def _vertex(env) -> list[Check]:
    try:
        import google.auth  # noqa: F401 - LiteLLM's Vertex client needs it
    except ImportError:
        return [Check("credentials", FAIL, "Vertex needs google-auth, which is not installed", VERTEX_EXTRA)]
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    adc = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    info: dict = {}
    if path:
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(info, dict) or "type" not in info:
                raise ValueError("not a Google credentials file (no \"type\")")
        except (OSError, ValueError) as exc:
            return [Check("credentials", FAIL, f"$GOOGLE_APPLICATION_CREDENTIALS: cannot read {path}: "
                          f"{getattr(exc, 'strerror', None) or exc}",
                          "point GOOGLE_APPLICATION_CREDENTIALS at the service-account JSON key file")]
        checks = [Check("credentials", OK, f"{info.get('type')} from $GOOGLE_APPLICATION_CREDENTIALS ({path})")]
    elif adc.is_file():
        checks = [Check("credentials", OK, f"application default credentials ({adc})")]
    else:
        return [Check("credentials", FAIL, "no Google credentials: $GOOGLE_APPLICATION_CREDENTIALS is not set and "
                      "there are no application default credentials",
                      "export GOOGLE_APPLICATION_CREDENTIALS=/path/to/key.json   "
                      "(or: gcloud auth application-default login)")]
    project = env.get("VERTEXAI_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or info.get("project_id")
    checks.append(Check("project", OK, project) if project else Check(
        "project", FAIL, "no Google Cloud project: $VERTEXAI_PROJECT is not set", "export VERTEXAI_PROJECT=my-project"))
    if not (env.get("VERTEXAI_LOCATION") or env.get("GOOGLE_CLOUD_LOCATION")):
        checks.append(Check("location", WARN, "$VERTEXAI_LOCATION is not set: LiteLLM uses us-central1",
                            "export VERTEXAI_LOCATION=europe-west4   (where your models are enabled)"))
    return checks


def _bedrock(env) -> list[Check]:
    import botocore.session

    session = botocore.session.Session()
    resolver = session.get_component("credential_provider")
    for remote in ("container-role", "instance-metadata"):  # no network from doctor's own checks
        resolver.remove(remote)
    try:
        creds = session.get_credentials()
    except Exception as exc:  # noqa: BLE001 - a broken ~/.aws file, an unknown profile
        return [Check("credentials", FAIL, f"AWS credentials: {exc}", "fix ~/.aws/config, or unset AWS_PROFILE")]
    checks = [Check("credentials", OK, f"AWS credentials from {creds.method}") if creds else Check(
        "credentials", FAIL, "no AWS credentials: $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY are not set and "
        "no profile has any (an EC2/ECS role is not checked here)",
        "export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…   (or AWS_PROFILE=NAME)")]
    # LiteLLM's order: its own variable, the AWS ones, the profile's config, then us-west-2.
    region = (env.get("AWS_REGION_NAME") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
              or session.get_config_variable("region"))
    checks.append(Check("region", OK, region) if region else Check(
        "region", WARN, "no AWS region set: LiteLLM will use us-west-2", "export AWS_REGION=us-east-1   "
        "(a region where the model is enabled)"))
    return checks


def _unreachable_fix(detail: str) -> str:
    if "is the server running?" in detail:
        return "start the server (for Ollama: `ollama serve`), or point --base-url at where it listens"
    return "check the URL (--base-url, or the profile's base_url) and your network"


def _models_fix(profile: config.Profile, tiers: list[str], model: str, near: list[str], one_off: bool,
                listing: str) -> str:
    """The command that puts a listed model in these tiers."""
    pick = near[0] if near else "ID"
    term = model.split("/")[0] if "/" in model else model[:4]
    flags = f"--model {pick}" if one_off else " ".join(f"--{t} {pick}" for t in tiers)
    where = "" if one_off else f"orbridge profile edit {profile.name} "
    return f"{where}{flags}   (ids: `orbridge models --search {term}{listing}`)"


def _tier_models(profile: config.Profile, key: str | None, one_off: bool) -> list[Check]:
    """Each tier's model against the provider's list: OpenRouter's catalogue, or any OpenAI-compatible
    endpoint's `/models`. Tiers sharing a model share one line when it is wrong."""
    import difflib

    url = catalogue.url_for(profile)
    if url is None:
        return [Check("models", OK, ", ".join(f"{t}={m}" for t, m in profile.tiers().items()))]
    # OpenRouter's big public list is cached a day; a custom endpoint's is asked afresh (a model just pulled).
    cat, warning = catalogue.load(url, key if url == profile.url else None, timeout=8,
                                  refresh=not profile.catalogue_url)
    where = f"the {profile.provider} catalogue" if profile.catalogue_url else f"{safe_url(url)}/models"
    if cat is None:
        return [Check("models exist", WARN, f"could not check the tier models: {warning or 'no list'}",
                      "orbridge models --refresh" if profile.catalogue_url else None)]
    if not cat.models:
        return [Check("models exist", WARN, f"could not check the tier models: {where} lists no models")]
    listing = "" if profile.catalogue_url else f" --base-url {safe_url(url)}"
    by_model: dict[str, list[str]] = {}
    for tier, model in profile.tiers().items():
        by_model.setdefault(model, []).append(tier)
    checks = []
    ids = [m.id for m in cat.models]
    for model, tiers in by_model.items():
        entry = cat.get(model)
        name = f"{'/'.join(tiers)} model"
        if entry is None:
            near = difflib.get_close_matches(model, ids, n=3)
            hint = f" — did you mean {' or '.join(near)}?" if near else ""
            checks.append(Check(name, FAIL, f"{model} is not in {where}{hint}",
                                _models_fix(profile, tiers, model, near, one_off, listing)))
        elif entry.tools is False:
            checks.append(Check(name, FAIL, f"{model} does not support tool calls",
                                _models_fix(profile, tiers, model, [], one_off, listing + " --tools")))
        else:
            size = f"context {entry.context_length or '?'}, max output {entry.max_output or '?'}"
            checks += [Check(f"{tier} model", OK, f"{model} ({size})") for tier in tiers]
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
            error = resp.json()["error"]
            message, kind = str(error["message"]), str(error.get("type", ""))
        except (ValueError, KeyError, TypeError):
            message, kind = resp.text[:200], ""
        return Check("live round trip", FAIL, f"{resp.status_code}: {message}",
                     _round_trip_fix(resp.status_code, kind, message, resolved))
    text = "".join(b.get("text", "") for b in resp.json().get("content", []) if b.get("type") == "text")
    return Check("live round trip", OK, f"haiku tier answered {text.strip()[:40]!r}")


def _round_trip_fix(status: int, kind: str, message: str, resolved: Resolved) -> str | None:
    """What to do about a failed round trip, read from the proxy's Anthropic-shaped error."""
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return resolved.key_fix
    if "nothing answers at" in message or "cannot connect to" in message or "cannot resolve" in message:
        return _unreachable_fix(message)
    if status == 404 or kind == "not_found_error" or "model" in message.lower():
        model = resolved.profile.tiers()["haiku"]
        term = model.split("/")[0] if "/" in model else model[:4]
        return f"pick a model the provider lists: orbridge models --search {term}"
    return None


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
    checks.append(Check("profile", OK, f"{profile.name}: {profile.provider} at "
                        f"{safe_url(profile.url) or '(LiteLLM default)'}"
                        f", transport {profile.transport.display}"))
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
    elif profile.preset is not None and profile.preset.prefix:
        pass  # a native preset: its own checks below
    elif profile.transport.provider_variables:
        checks += _litellm_credentials(profile)
    else:
        checks.append(Check("api key", OK, f"none sent to {host} (no Authorization header)",
                            None if profile.preset is None else resolved.key_fix))
    native = _native_credentials(profile) if profile.preset is not None and profile.preset.prefix else []
    checks += native
    for warning in resolved.warnings():
        checks.append(Check("key transport", WARN, warning, "use an https:// base URL"))
    reach = _key_accepted(profile, key)
    checks.append(reach)
    down = reach.name == "upstream reachable" and reach.status == FAIL  # the checks below would only repeat it
    if not down:
        checks += _tier_models(profile, key, one_off=bool(o.model))
    checks.append(_port())
    checks.append(_onboarding())
    checks += _environment()
    if (key or not needs) and not down and not any(c.status == FAIL for c in native):  # no trip without credentials
        checks.append(_round_trip(resolved))
    return checks


def doctor(o: Overrides, as_json: bool, claude: str | None) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("checking…"):
        checks = [_redacted(c) for c in run_checks(o, claude)]
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=1))
        return 1 if failed else 0
    show(checks)
    return 1 if failed else 0


def _redacted(check: Check) -> Check:
    """What doctor prints quotes URLs and upstream errors: no key, no URL password, whatever their source."""
    from .child_env import held_keys

    try:
        redact = Redactor(held_keys(None))
    except CLIError:  # an unreadable key file is a check of its own; URL passwords still go
        redact = Redactor()
    return Check(check.name, check.status, redact(check.detail), redact(check.fix) if check.fix else check.fix)


def show(checks: list[Check]) -> None:
    """One line per check; on a terminal the mark in colour (rich leaves it plain under NO_COLOR)."""
    import sys

    out = None
    if sys.stdout.isatty():
        from rich.console import Console

        out = Console(soft_wrap=True, highlight=False)
    for c in checks:
        line = Text.assemble((MARK[c.status], STYLE[c.status]), f" {c.name}: {display.plain(c.detail)}")
        if out is None:
            print(line.plain)
        else:
            out.print(line)
        if c.fix and c.status != OK:
            print(f"    fix: {display.plain(c.fix)}", flush=True)
