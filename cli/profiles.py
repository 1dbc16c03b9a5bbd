"""`orbridge profile …`: list, show, add, edit, use, remove."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess

from orbridge.proxy.redaction import safe_url

from . import config
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
    cfg = config.load()
    p = cfg.get(name)
    print(f"profile   {p.name}{'' if p.name in cfg.profiles else ' (built in)'}")
    print(f"provider  {p.provider}")
    print(f"base_url  {safe_url(p.url)}")
    print(f"model     {p.model or '(none: tiers only)'}")
    for tier, model in p.tiers().items():
        print(f"{tier:<9} {model}")
    print(f"timeout   {p.timeout:g} s")
    if p.headers:
        print(f"headers   {', '.join(p.headers)}")
    print(f"config    {cfg.path}")


def _check(profile: config.Profile) -> None:
    if profile.provider not in config.PRESETS and not profile.base_url:
        raise CLIError(f"provider {profile.provider!r} is not a preset ({', '.join(config.PRESETS)})",
                       "pass a preset with --provider, or --base-url URL for any OpenAI-compatible endpoint")
    if not (profile.model or profile.opus or profile.sonnet):
        raise CLIError("a profile needs a model", "pass --model M")


def add(name: str, fields: dict, use_it: bool) -> None:
    cfg = config.load()
    if name in cfg.profiles:
        raise CLIError(f"profile {name!r} exists", f"orbridge profile edit {name} …")
    values = {k: v for k, v in fields.items() if v is not None}
    if values.get("base_url") and "provider" not in values:
        values["provider"] = "custom"
    profile = config.Profile(name=name, **{"model": None, "opus": None, "haiku": None, **values})
    _check(profile)
    cfg.profiles[name] = profile
    if use_it:
        cfg.active = name
    config.save(cfg)
    print(f"added profile {name}" + (" (active)" if use_it else f"; use it with `orbridge profile use {name}`"))


def edit(name: str, fields: dict, use_it: bool = False) -> None:
    cfg = config.load()
    values = {k: v for k, v in fields.items() if v is not None}
    if use_it:
        cfg.get(name)
        cfg.active = name
    if not values and not use_it:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        if not cfg.path.exists():
            config.save(cfg)
        subprocess.call([*shlex.split(editor), str(cfg.path)])
        config.load()  # report a broken edit at once
        return
    if name not in cfg.profiles:
        if name != config.DEFAULT_PROFILE:
            raise CLIError(f"unknown profile {name!r}", f"orbridge profile add {name} …")
        cfg.profiles[name] = config.Profile()
    profile = dataclasses.replace(cfg.profiles[name], **values)
    _check(profile)
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
        raise CLIError(f"no saved profile {name!r}", "orbridge profile list")
    del cfg.profiles[name]
    if cfg.active == name:
        cfg.active = None
    config.save(cfg)
    print(f"removed profile {name}")
