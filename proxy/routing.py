"""Which upstream model serves a request: Claude Code's model names map by family to the profile's tiers,
then the profile's routing rules may send it elsewhere (first match wins, in the order written)."""

from __future__ import annotations

from .settings import FAMILIES, ModelInfo, ModelMap, Settings


def resolve_model(requested: str, models: ModelMap) -> str:
    """`claude-*` ids (dated, alias, `[1m]`) map by family; `provider/model` slugs pass; else the default."""
    name = requested.strip()
    if name.endswith("]") and "[" in name:
        name = name[: name.rindex("[")]
    if "/" in name:
        return name
    lower = name.lower()
    tiers = models.tiers()
    if lower in FAMILIES:
        return tiers[lower]
    if lower.startswith(("claude", "anthropic")):
        for family in FAMILIES:
            if family in lower:
                return tiers[family]
        return models.default
    if name in tiers.values() or name == models.default:
        return name
    return models.default


def model_tier(requested: str) -> str | None:
    """The family a requested name belongs to, for logs and routing rules."""
    lower = requested.lower()
    return next((f for f in FAMILIES if f in lower), None)


def has_images(body: dict) -> bool:
    for msg in body["messages"]:
        content = msg.get("content")
        if isinstance(content, list):
            for block in content:
                if block.get("type") == "image":
                    return True
                inner = block.get("content") if block.get("type") == "tool_result" else None
                if isinstance(inner, list) and any(b.get("type") == "image" for b in inner):
                    return True
    return False


def _matches(rule: str, body: dict, model: str, settings: Settings) -> bool:
    if rule == "background":
        return model_tier(body["model"]) == "haiku"
    if rule == "think":
        # Claude Code sends adaptive thinking on every turn, so only an explicit budget or the top effort
        # levels count as "asked to think".
        thinking = body.get("thinking") or {}
        effort = (body.get("output_config") or {}).get("effort")
        return (thinking.get("type") == "enabled" and bool(thinking.get("budget_tokens"))) or effort in (
            "xhigh", "max")
    if rule == "long_context":
        from .tokens import count_tokens

        return count_tokens(body) > settings.routes.long_context_threshold
    if rule == "web_search":
        return any(isinstance(t, dict) and str(t.get("type", "")).startswith("web_search")
                   for t in body.get("tools") or [])
    if rule == "image":
        return settings.model_info.get(model, ModelInfo()).vision is False and has_images(body)
    return False


def choose_model(body: dict, settings: Settings) -> tuple[str, str]:
    """(upstream model, route name) for a request."""
    model = resolve_model(body["model"], settings.models)
    for rule, target in settings.routes.rules:
        if _matches(rule, body, model, settings):
            return target, rule
    return model, "default"
