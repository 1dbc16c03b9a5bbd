"""Which upstream model serves a request: Claude Code's model names map by family to the profile's tiers."""

from __future__ import annotations

from .settings import ModelMap

FAMILIES = ("opus", "sonnet", "haiku", "fable")


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
