"""The environment handed to Claude Code (or any command): wired to the proxy, holding no real key."""

from __future__ import annotations

import os

from .config import PRESETS
from .resolve import Resolved

SECRET_VARS = {"ORBRIDGE_TOKEN"}
DEFAULT_CONTEXT = 128_000


def build(r: Resolved, base_url: str, token: str, base: dict[str, str] | None = None,
          main_model: str | None = None, pass_env: list[str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(full child environment, the variables orbridge set) for a run against the proxy at `base_url`."""
    env = dict(os.environ if base is None else base)
    p = r.profile
    tiers = p.tiers()
    main = main_model or p.model
    setting: dict[str, str] = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": token,
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_SMALL_FAST_MODEL": tiers["haiku"],
        "CLAUDE_CODE_ATTRIBUTION_HEADER": "0",
        "DISABLE_TELEMETRY": "1",
        "API_TIMEOUT_MS": str(int(p.timeout * 1000)),
    }
    for tier, model in tiers.items():
        upper = tier.upper()
        setting[f"ANTHROPIC_DEFAULT_{upper}_MODEL"] = model
        setting[f"ANTHROPIC_DEFAULT_{upper}_MODEL_NAME"] = f"{model} (via orbridge)"
    if main:
        setting["ANTHROPIC_MODEL"] = main
    info = r.model_info.get(main or tiers["opus"])
    if info is not None and info.max_output:
        setting["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(info.max_output)
    # Unknown to Claude Code, a model is assumed to hold 1M tokens and auto-compaction never fires in time.
    # 128k is the safer guess: a smaller window still ends in the upstream's too-long error, which the
    # proxy words as Claude Code expects, and Claude Code compacts then.
    context = info.context_length if info is not None and info.context_length else DEFAULT_CONTEXT
    setting["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] = str(context)
    no_proxy = [h for h in env.get("NO_PROXY", env.get("no_proxy", "")).split(",") if h]
    for host in ("127.0.0.1", "localhost", "::1"):
        if host not in no_proxy:
            no_proxy.append(host)
    setting["NO_PROXY"] = setting["no_proxy"] = ",".join(no_proxy)
    env.update(setting)
    # The provider's key never reaches the child: it only talks to the proxy, with the per-run token.
    secret_vars = set(SECRET_VARS)
    if p.env_var:
        secret_vars.add(p.env_var)
    preset = PRESETS.get(p.provider)
    if preset and preset.env_var:
        secret_vars.add(preset.env_var)
    for var in secret_vars:
        env.pop(var, None)
    env["ANTHROPIC_API_KEY"] = ""  # present and empty: a saved or inherited Anthropic key must not win
    return env, setting


def masked(setting: dict[str, str]) -> dict[str, str]:
    from .keys import mask

    return {k: (mask(v) if k == "ANTHROPIC_AUTH_TOKEN" else v) for k, v in setting.items()}
