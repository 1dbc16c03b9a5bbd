"""`orbridge profile …`: list, show, add, edit, use, remove."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess

from orbridge.proxy.redaction import safe_url

from . import config, keys
from .errors import CLIError


def list_profiles() -> None:
    cfg = config.load()
    active = os.environ.get("ORBRIDGE_PROFILE") or cfg.active or config.DEFAULT_PROFILE
    names = list(cfg.profiles)
    if config.DEFAULT_PROFILE not in names:
        names.insert(0, config.DEFAULT_PROFILE)
    for name in names:
        p = cfg.get(name)
        mark = "*" if name == active else " "
        builtin = " (built in)" if name not in cfg.profiles else ""
        print(f"{mark} {name:<14} {p.provider:<11} {p.model or p.tiers()['sonnet']}{builtin}")


def show(name: str | None) -> None:
    """Every field of one profile; header values masked (they often hold tokens)."""
    cfg = config.load()
    p = cfg.get(name)
    builtin = p.name not in cfg.profiles
    rows = [("profile", p.name + (" (built in)" if builtin else "")), ("provider", p.provider),
            ("base_url", safe_url(p.url) or "(LiteLLM default)"), ("model", p.model or "(none: tiers only)"),
            *p.tiers().items(), ("timeout", f"{p.timeout:g} s"),
            ("context_length", p.context_length or "(from the catalogue)"),
            ("max_output", p.max_output or "(from the catalogue)"),
            ("key_name", p.key_name or (f"(none: the key stored as {p.key_id})" if p.key_id else "(none: no key)")),
            ("fallbacks", ", ".join(p.fallbacks) or "(none)"),
            ("routes", ", ".join(f"{k}={v}" for k, v in p.routes.items()) or "(none)"),
            ("headers", ", ".join(f"{k}: {keys.mask(v)}" for k, v in p.headers.items()) or "(none)"),
            ("config", cfg.path)]
    for label, value in rows:
        print(f"{label:<9} {value}")


def _check(profile: config.Profile) -> None:
    if profile.provider not in config.PRESETS and not profile.base_url:
        raise config.unknown_provider(profile.provider)
    if not (profile.model or profile.opus or profile.sonnet):
        raise CLIError("a profile needs a model", "pass --model M", code=2)


def _checked(make, *args, **values) -> config.Profile:
    """`make(*args, **values)`, a wrong value named by its option."""
    try:
        profile = make(*args, **values)
    except config.FieldError as exc:
        option = "profile name" if exc.field == "name" else "--" + exc.field.replace("_", "-")
        fix = "pick a name without control characters" if exc.field == "name" else f"give {option} {exc.expected}"
        raise CLIError(f"{option}: expected {exc.expected}, got {exc.got}", fix, code=2) from None
    _check(profile)
    return profile


def add(name: str, fields: dict, use_it: bool) -> None:
    cfg = config.load()
    if name in cfg.profiles:
        raise CLIError(f"profile {config.shown(name)} exists", f"orbridge profile edit {name} …", code=2)
    values = {k: v for k, v in fields.items() if v is not None}
    cfg.profiles[name] = _checked(config.from_table, name, values)  # as a hand-written table would load
    if use_it:
        cfg.active = name
    config.save(cfg)
    print(f"added profile {name}" + (" (active)" if use_it else f"; use it with `orbridge profile use {name}`"))


def edit(name: str, fields: dict, use_it: bool = False, unset: list[str] | None = None) -> None:
    cfg = config.load()
    values = {k: v for k, v in fields.items() if v is not None}
    unset = list(dict.fromkeys(unset or ()))
    for field in unset:
        if field.replace("-", "_") not in config.UNSETTABLE:
            raise CLIError(f"--unset {config.shown(field)}: not a profile field",
                           f"fields: {', '.join(config.UNSETTABLE)}", code=2)
    unset = [f.replace("-", "_") for f in unset]
    both = set(unset) & set(values)
    if both:
        raise CLIError(f"--unset {sorted(both)[0]} and a value for it", "give one or the other", code=2)
    if use_it:
        cfg.get(name)
        cfg.active = name
    if not values and not use_it and not unset:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        if not cfg.path.exists():
            config.save(cfg)
        subprocess.call([*shlex.split(editor), str(cfg.path)])
        config.load()  # report a broken edit at once
        return
    if name not in cfg.profiles:
        if name != config.DEFAULT_PROFILE:
            raise CLIError(f"unknown profile {config.shown(name)}", f"orbridge profile add {name} …", code=2)
        cfg.profiles[name] = config.Profile()
    profile = cfg.profiles[name]
    if unset:
        table = {k: v for k, v in profile.to_toml().items() if k not in unset}
        profile = _checked(config.from_table, name, table)
    profile = _checked(dataclasses.replace, profile, **values)
    cfg.profiles[name] = profile
    config.save(cfg)
    print(f"updated profile {name}" + (" (active)" if use_it else ""))


def use(name: str) -> None:
    cfg = config.load()
    cfg.get(name)
    cfg.active = name
    config.save(cfg)
    print(f"active profile: {name}")


def remove(name: str) -> None:
    cfg = config.load()
    if name not in cfg.profiles:
        raise CLIError(f"no saved profile {config.shown(name)}", "orbridge profile list")
    was_active = (os.environ.get("ORBRIDGE_PROFILE") or cfg.active or config.DEFAULT_PROFILE) == name
    del cfg.profiles[name]
    if cfg.active == name:
        cfg.active = None
    config.save(cfg)
    if not was_active:
        print(f"removed profile {name}")
        return
    now = os.environ.get("ORBRIDGE_PROFILE") or cfg.active or config.DEFAULT_PROFILE
    if now == name:  # ORBRIDGE_PROFILE still names it
        print(f"removed profile {name}; ORBRIDGE_PROFILE still names it: unset it or pick another profile")
        return
    print(f"removed profile {name}; the active profile is now {now}"
          + (" (built in)" if now not in cfg.profiles else ""))
