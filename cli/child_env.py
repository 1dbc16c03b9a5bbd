"""The environment handed to Claude Code (or any command): wired to the proxy, holding no real key.

The child only talks to the proxy, with a per-run token, so it needs no provider key; a model steering
Claude Code's Bash tool can read the environment and send it anywhere, so every key variable is removed.

Why `[claude-code:unrecognized_model]` still shows on stderr in `claude -p` runs (Claude Code 2.1.332):
the request path calls a check on the model name that stays silent only when the name is a Claude model
id, when a `modelOverrides` settings entry maps a Claude id to it, when a settings `modelPicker` row gives
it `behavesAs`, or when Anthropic's served model catalogue describes it. None of these can be set from the
environment (the `ANTHROPIC_DEFAULT_*_MODEL_NAME/_DESCRIPTION/_SUPPORTED_CAPABILITIES` variables and
`ANTHROPIC_CUSTOM_MODEL_OPTION` do not take part), and the settings routes make Claude Code treat the
model as that Claude model: with `modelOverrides` it took Claude's 200k window over
CLAUDE_CODE_MAX_CONTEXT_TOKENS. The line is printed once per model per process, and only in print mode
(interactive sessions write it to the debug log), so it is left alone.
"""

from __future__ import annotations

import os

from .config import PRESETS
from .resolve import Resolved

# Every variable that holds a model provider's credential: each preset's variable, and those LiteLLM reads
# for the providers it reaches. Credential *file paths* (GOOGLE_APPLICATION_CREDENTIALS, AWS_PROFILE,
# AWS_SHARED_CREDENTIALS_FILE) stay: a path holds no secret, the file is readable by the child whether or
# not the variable names it (as ~/.aws/credentials is), and removing it breaks the user's own cloud tools
# that Claude Code runs. VERTEXAI_CREDENTIALS goes: LiteLLM accepts the JSON key itself in it.
PROVIDER_KEY_VARS: frozenset[str] = frozenset(
    {p.env_var for p in PRESETS.values() if p.env_var} | {
        "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "OR_API_KEY", "OPENAI_API_KEY",
        "GEMINI_API_KEY", "GOOGLE_API_KEY", "VERTEXAI_CREDENTIALS",
        "AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_AI_API_KEY", "AZURE_AD_TOKEN",
        "COHERE_API_KEY", "CO_API_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
        "XAI_API_KEY", "FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "HF_TOKEN", "HUGGINGFACE_API_KEY",
        "PERPLEXITYAI_API_KEY", "DEEPINFRA_API_KEY", "NVIDIA_NIM_API_KEY", "HOSTED_VLLM_API_KEY",
        "LITELLM_PROXY_API_KEY", "LITELLM_API_KEY",
    })
SECRET_VARS = PROVIDER_KEY_VARS | {"ORBRIDGE_TOKEN"}
DEFAULT_CONTEXT = 128_000
# A value this short is a placeholder ("none", "x" for a local server), not a secret: matching it against
# the environment would remove unrelated variables (SHLVL=1).
MIN_KEY_LENGTH = 8
YOURS = "your environment"


def build(r: Resolved, base_url: str, token: str, base: dict[str, str] | None = None,
          main_model: str | None = None, pass_env: list[str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(full child environment, the variables orbridge set) for a run against the proxy at `base_url`."""
    env, setting, _sources, _removed = explain(r, base_url, token, base, main_model, pass_env)
    return env, setting


def explain(r: Resolved, base_url: str, token: str, base: dict[str, str] | None = None,
            main_model: str | None = None, pass_env: list[str] | None = None
            ) -> tuple[dict[str, str], dict[str, str], dict[str, str], list[str]]:
    """`build`, plus where the window and output values came from and which variables were removed."""
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
    sources = _limits(r, main or tiers["opus"], env, setting)
    no_proxy = [h for h in env.get("NO_PROXY", env.get("no_proxy", "")).split(",") if h]
    for host in ("127.0.0.1", "localhost", "::1"):
        if host not in no_proxy:
            no_proxy.append(host)
    setting["NO_PROXY"] = setting["no_proxy"] = ",".join(no_proxy)
    removed = sorted(_secret_names(r, env, set(pass_env or ())) - set(setting))
    for var in removed:
        del env[var]
    env.update(setting)  # ANTHROPIC_API_KEY present and empty: a saved or inherited Anthropic key must not win
    return env, setting, sources, removed


def _limits(r: Resolved, model: str, env: dict[str, str], setting: dict[str, str]) -> dict[str, str]:
    """Set the window and output cap Claude Code plans with; return where each value came from.

    Precedence: the user's environment > profile > catalogue > default. Unknown to Claude Code, a model is
    assumed to hold 1M tokens and auto-compaction never fires in time; 128k is the safer guess: a smaller
    window still ends in the upstream's too-long error, which the proxy words as Claude Code expects, and
    Claude Code compacts then.
    """
    p = r.profile
    info = r.model_info.get(model)
    candidates = {
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": (p.context_length, info.context_length if info else None, DEFAULT_CONTEXT),
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": (p.max_output, info.max_output if info else None, None),
    }
    sources: dict[str, str] = {}
    for var, (from_profile, from_catalogue, default) in candidates.items():
        user = env.get(var, "").strip()
        if user.isdigit() and int(user) > 0:
            setting[var], sources[var] = user, YOURS
        elif from_profile:
            setting[var], sources[var] = str(from_profile), f"profile {p.name}"
        elif from_catalogue:  # resolve() fills a catalogue entry from the profile: that case is caught above
            setting[var], sources[var] = str(from_catalogue), "catalogue"
        elif default:
            setting[var], sources[var] = str(default), f"default: nothing knows {model}'s window"
    # A `[1m]` model (Claude Code's "Default" runs `<opus tier>[1m]`) takes a 1M window whatever
    # CLAUDE_CODE_MAX_CONTEXT_TOKENS says, so auto-compaction would not fire: keep the window set above.
    var = "CLAUDE_CODE_DISABLE_1M_CONTEXT"
    if var in env:
        setting[var], sources[var] = env[var], YOURS
    else:
        setting[var], sources[var] = "1", "the window above holds, also for [1m] models"
    return sources


def held_keys(api_key: str | None, env: dict[str, str] | None = None) -> set[str]:
    """Every key value orbridge holds or can see: the stored keys, the one in use, and the values of every
    provider key variable (LiteLLM reads those itself). The redactor masks them all."""
    from . import keys

    env = os.environ if env is None else env
    values = [*keys.stored().values(), api_key or "", *(env.get(n, "") for n in PROVIDER_KEY_VARS)]
    return {v.strip() for v in values if len(v.strip()) >= MIN_KEY_LENGTH}


def _secret_names(r: Resolved, env: dict[str, str], keep: set[str]) -> set[str]:
    """Names of the variables that hold a key: known key variables, and any holding a key orbridge has."""
    held = held_keys(r.api_key, {})
    names = {n for n in SECRET_VARS | {r.profile.env_var or ""} if n in env}
    names |= {n for n, v in env.items() if v.strip() in held}
    return names - (keep - {"ANTHROPIC_API_KEY"})


def masked(setting: dict[str, str]) -> dict[str, str]:
    from .keys import mask

    return {k: (mask(v) if k == "ANTHROPIC_AUTH_TOKEN" else v) for k, v in setting.items()}
