"""Shell completion: `--install-completion SHELL` / `--show-completion SHELL` for the shell named (Typer 0.29's
own options detect the shell from the environment and ignore the name), and the values <TAB> offers.

The value callbacks run on every <TAB>, so they read local files only (config, catalogue cache: no network,
no proxy stack) and never raise: a broken config or cache gives no suggestions, not a traceback at the prompt.
Only plain words are offered (ids from a provider's catalogue are untrusted text going to the shell).
"""

from __future__ import annotations

import contextlib
import enum
import io
import re
from collections.abc import Callable

import typer
import typer.completion

_PLAIN = re.compile(r"[A-Za-z0-9._:/@+-]+")


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def install(ctx: typer.Context, param: typer.CallbackParam, shell: Shell | None) -> None:
    """Install the completion script for `shell` (Typer's own files: ~/.bash_completions, ~/.zfunc, fish's)."""
    if shell and not ctx.resilient_parsing:
        typer.completion.install_callback(ctx, param, str(shell))


def show(ctx: typer.Context, param: typer.CallbackParam, shell: Shell | None) -> None:
    """Print the completion script for `shell`, to install by hand."""
    if shell and not ctx.resilient_parsing:
        typer.completion.show_callback(ctx, param, str(shell))


def register_shells() -> None:
    """Typer's shell classes (its scripts call back with `complete_zsh` etc.); add_completion=False skips this."""
    from typer._completion_classes import completion_init

    completion_init()


def _quiet(suggest: Callable[[typer.Context, str], list[tuple[str, str]]]):
    """A completion callback that offers only plain words (Typer keeps those starting with what was typed)
    and never raises."""

    def callback(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # config warnings would land in the prompt
                items = suggest(ctx, incomplete)
        except Exception:  # noqa: BLE001 - a <TAB> must never print a traceback
            return []
        return [(v, h) for v, h in items if _PLAIN.fullmatch(v)]

    callback.__doc__ = suggest.__doc__
    return callback


def _config():
    from . import config

    return config.load()


@_quiet
def profile_names(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Profile names from config.toml, and the built-in `default`."""
    from . import config

    cfg = _config()
    names = list(cfg.profiles) + ([] if config.DEFAULT_PROFILE in cfg.profiles else [config.DEFAULT_PROFILE])
    return [(name, f"{cfg.get(name).provider} {cfg.get(name).model or ''}".strip()) for name in names]


@_quiet
def presets(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Provider presets, with their endpoint."""
    from .config import PRESETS

    return [(name, p.base_url or "LiteLLM model strings") for name, p in PRESETS.items()]


@_quiet
def usage_groups(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """`usage --by` values."""
    return [("model", "group by upstream model"), ("day", "group by day"), ("profile", "group by profile")]


def _target(ctx: typer.Context):
    """The profile whose models are meant: `profile add/edit NAME --provider/--base-url`, or the command's
    `--profile` with its one-off `--provider`/`--base-url`, as typed so far."""
    from . import config, resolve

    params = ctx.params
    cfg = _config()
    if ctx.parent is not None and ctx.parent.info_name == "profile":  # profile add / edit
        # click stops parsing at the option still waiting for its value: NAME is then a leftover argument
        name = params.get("name") or next(iter(ctx.args), "")
        profile = cfg.profiles.get(name) or config.Profile(name=name or "new")
    else:
        profile = cfg.get(params.get("profile"))
    return resolve.apply(profile, resolve.Overrides(provider=params.get("provider"), base_url=params.get("base_url")))


@_quiet
def model_ids(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Model ids from the cached catalogue of the provider meant (never fetched: run `orbridge models` first)."""
    from . import catalogue

    profile = _target(ctx)
    cat = catalogue.read_cache(profile.catalogue_url or profile.url)
    if cat is None:
        return []
    return [(m.id, f"{m.context_length // 1000}k context" if m.context_length else "") for m in cat.models]
