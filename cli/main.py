"""The `orbridge` command. Commands are registered here; their work lives in modules imported on use, so
`orbridge --help` never loads the proxy stack or LiteLLM."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import typer.core

from . import completion
from .errors import CLIError, report

# One example per line in both help renderings: rich keeps single newlines, click's plain one needs `\b`.
EPILOG_RUN = "\b\nExamples:\n" + "\n".join([
    "  orbridge run                                     Claude Code, on the active profile",
    "  orbridge run -- -p hi                            claude -p hi (options after `--` go to claude)",
    "  orbridge run --model deepseek/deepseek-chat -- claude -p hi",
    "  orbridge run --pass-env GITHUB_TOKEN -- python my_agent.py"])


def _flag_type(self, ctx):
    """Typer 0.29 prints `<bool>` after every flag (`--version <bool>`) and `<str>` after a value: flags take
    no value, show none; a plain value is named after its option (`--profile PROFILE`), as Click does."""
    if self.is_flag:
        return None
    shown = _option_type(self, ctx)
    if shown in ("<str>", "<int>", "<float>", "<list[str]>") and self.name:
        return self.name.upper()
    return shown


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type
# An argument's name says what it is (`NAME`, `-- CMD ARGS`): no `<str>` / `<list[str]>` after it.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None


class RawArgsCommand(typer.core.TyperCommand):
    """Keeps the arguments as typed: `run` reads them with entry.parse_run, which knows where `--` was."""

    def parse_args(self, ctx, args):
        ctx.meta["raw_args"] = list(args)
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="orbridge",
    help="Run Claude Code on any model: OpenRouter by default, any OpenAI-compatible endpoint, or a local model.",
    no_args_is_help=True,
    # Plain help (Click's formatter): it reads the same at 80 columns, and Typer's rich formatter costs ~85 ms of
    # imports on every `orbridge --help` (160 ms against 75 ms, measured idle).
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,  # root() declares them: Typer's ignore the shell named
    context_settings={"help_option_names": ["-h", "--help"]},
)
profile_app = typer.Typer(help="Named profiles: provider, models, timeout. Example: orbridge profile use work",
                          no_args_is_help=True)
keys_app = typer.Typer(help="API keys, stored 0600 in your config dir. Example: orbridge keys set openrouter",
                       no_args_is_help=True)
setup_app = typer.Typer(help="Install what orbridge runs. Example: orbridge setup claude", no_args_is_help=True)
app.add_typer(profile_app, name="profile")
app.add_typer(keys_app, name="keys")
app.add_typer(setup_app, name="setup")
batches_app = typer.Typer(help="Message Batches kept by orbridge serve. Example: orbridge batches list",
                          no_args_is_help=True)
app.add_typer(batches_app, name="batches")

ProfileOpt = typer.Option(None, "--profile", "-p", help="Profile to use (default: the active one).",
                          envvar="ORBRIDGE_PROFILE", autocompletion=completion.profile_names)
RunProfileOpt = typer.Option(None, "--profile", help="Profile to use (default: the active one).",
                             envvar="ORBRIDGE_PROFILE",
                             autocompletion=completion.profile_names)  # no -p on run: that is claude's --print
ProviderOpt = typer.Option(None, "--provider", help="One-off provider preset (openrouter, openai, ollama, ...).",
                           autocompletion=completion.presets)
BaseUrlOpt = typer.Option(None, "--base-url", help="One-off OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1.")
ModelOpt = typer.Option(None, "--model", "-m", help="One-off model for every tier.",
                        autocompletion=completion.model_ids)
HaikuOpt = typer.Option(None, "--haiku", help="One-off model for the haiku (background) tier.",
                        autocompletion=completion.model_ids)
KeyNameOpt = typer.Option(None, "--key-name", metavar="NAME",
                          help="One-off stored key to use (see orbridge keys set NAME).")


def _overrides(profile, provider, base_url, model, haiku, key_name=None):
    from .resolve import Overrides

    return Overrides(profile=profile, provider=provider, base_url=base_url, model=model, haiku=haiku,
                     key_name=key_name)


def _version(value: bool) -> None:
    if value:
        from orbridge.proxy import __version__

        print(f"orbridge {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    install_completion: completion.Shell = typer.Option(
        None, "--install-completion", callback=completion.install, is_eager=True, expose_value=False,
        help="Install completion for SHELL (then open a new terminal)."),
    show_completion: completion.Shell = typer.Option(
        None, "--show-completion", callback=completion.show, is_eager=True, expose_value=False,
        help="Print the completion script for SHELL, to install it by hand."),
) -> None:
    """Run Claude Code on any model."""


@app.command(cls=RawArgsCommand, context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=EPILOG_RUN)
def run(
    ctx: typer.Context,
    cmd: list[str] = typer.Argument(None, metavar="-- CMD ARGS",
                                    help="The command, after `--` (default: claude; `-- -p hi` is claude -p hi)."),
    profile: str = RunProfileOpt, provider: str = ProviderOpt, base_url: str = BaseUrlOpt, model: str = ModelOpt,
    haiku: str = HaikuOpt, key_name: str = KeyNameOpt,
    port: str = typer.Option(None, "--port", metavar="PORT", help="Proxy port (default: a free one)."),
    claude: str = typer.Option(None, "--claude", help="Path to the claude binary.", envvar="ORBRIDGE_CLAUDE"),
    pass_env: list[str] = typer.Option(None, "--pass-env", metavar="NAME",
                                       help="Let the command see variable NAME, which orbridge would withhold "
                                            "(repeatable)."),
    print_env: bool = typer.Option(False, "--print-env", help="Show the environment the command would get."),
    log_bodies: bool = typer.Option(False, "--log-bodies", help="Also log request bodies (0600 file)."),
    install_claude: bool = typer.Option(False, "--install-claude",
                                        help="When claude is missing, install the tested Claude Code with npm "
                                             "without asking."),
    budget: str = typer.Option(None, "--budget", metavar="USD",
                               help="Stop answering once this run has spent USD (default: budget_per_run)."),
    no_statusline: bool = typer.Option(False, "--no-statusline",
                                       help="Do not give Claude Code orbridge's status line."),
) -> None:
    """Start the proxy, run CMD (Claude Code by default) wired to it, pass its exit code on."""
    from .entry import parse_run, start_run
    from .run import exit_now

    # The declared options are for --help; the values come from the same parser as the fast path.
    values = parse_run(ctx.meta["raw_args"])
    exit_now(start_run(values) if values is not None else 0)


@app.command(epilog="Example: orbridge serve --port 8082 --token-file ~/.config/orbridge/serve-token   "
                    "then: source the file it prints")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: str = typer.Option("8082", "--port", metavar="PORT", help="Port to listen on."),
    token: str = typer.Option(None, "--token", envvar="ORBRIDGE_TOKEN",
                              help="Fixed client token (default: random). On the command line every local user "
                                   "sees it in `ps`: prefer --token-file or ORBRIDGE_TOKEN."),
    token_file: Path = typer.Option(None, "--token-file", metavar="PATH",
                                    help="Read the fixed client token from the first line of PATH."),
    show_token: bool = typer.Option(False, "--show-token", help="Print the token unmasked."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line per request."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a non-loopback --host (needs a token)."),
    profile: str = ProfileOpt, provider: str = ProviderOpt, base_url: str = BaseUrlOpt, model: str = ModelOpt,
    haiku: str = HaikuOpt, key_name: str = KeyNameOpt,
    log_bodies: bool = typer.Option(False, "--log-bodies", help="Also log request bodies (0600 file)."),
    batch_concurrency: int = typer.Option(None, "--batch-concurrency", metavar="N",
                                          help="Message Batches requests in flight at once (1-256; default: the "
                                               "profile's batch_concurrency, else 8)."),
    budget: str = typer.Option(None, "--budget", metavar="USD",
                               help="Stop answering once this serve has spent USD (default: budget_per_run)."),
) -> None:
    """Run the proxy alone in the foreground, for any Anthropic-API client; prints a line per request."""
    from .entry import parse_budget, parse_port
    from .serve import serve as do_serve

    argv_token = any(a == "--token" or a.startswith("--token=") for a in sys.argv[1:])
    do_serve(host, parse_port(port, any_port=False), token, show_token, allow_remote,
             _overrides(profile, provider, base_url, model, haiku, key_name), log_bodies,
             token_file=token_file, token_on_command_line=argv_token, quiet=quiet, batch_concurrency=batch_concurrency,
             budget=parse_budget(budget))


@app.command(epilog="Example: orbridge probe qwen/qwen3-coder deepseek/deepseek-chat")
def probe(
    models: list[str] = typer.Argument(None, metavar="MODEL", help="Models to probe (default: the tier models)."),
    profile: str = ProfileOpt, provider: str = ProviderOpt, base_url: str = BaseUrlOpt, key_name: str = KeyNameOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    timeout: float = typer.Option(60.0, "--timeout", metavar="SECONDS", help="Per request."),
) -> None:
    """Check which models can drive Claude Code: text, tool calls, tool results, thinking, images, speed."""
    from .probe import probe as do_probe

    raise typer.Exit(do_probe(_overrides(profile, provider, base_url, None, None, key_name), models or [],
                              as_json, timeout))


@app.command(epilog="Claude Code runs it: orbridge run sets it up unless you have a status line of your own")
def statusline() -> None:
    """One status line for Claude Code (reads its status JSON on stdin): model, real cost, budget left."""
    from .statusline import main as line

    raise typer.Exit(line())


@app.command(epilog="Example: orbridge models --search qwen --tools")
def models(
    provider: str = ProviderOpt, base_url: str = BaseUrlOpt, profile: str = ProfileOpt,
    search: str = typer.Option(None, "--search", "-s", help="Only ids or names containing TEXT."),
    tools: bool = typer.Option(False, "--tools", help="Only models that support tool calls."),
    reasoning: bool = typer.Option(False, "--reasoning", help="Only reasoning models."),
    vision: bool = typer.Option(False, "--vision", help="Only models that accept images."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore the 24 h cache."),
    key_name: str = KeyNameOpt,
) -> None:
    """List what a provider offers and what each model can do."""
    from .models_cmd import show

    show(_overrides(profile, provider, base_url, None, None, key_name), search, tools, reasoning, vision, as_json,
         refresh)


@app.command(epilog="Example: orbridge doctor")
def doctor(
    profile: str = ProfileOpt, provider: str = ProviderOpt, base_url: str = BaseUrlOpt, model: str = ModelOpt,
    haiku: str = HaikuOpt, key_name: str = KeyNameOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    claude: str = typer.Option(None, "--claude", help="Path to the claude binary.", envvar="ORBRIDGE_CLAUDE"),
) -> None:
    """Check that everything is wired, with the fix for each failure."""
    from .doctor import doctor as do_doctor

    raise typer.Exit(do_doctor(_overrides(profile, provider, base_url, model, haiku, key_name), as_json, claude))


@app.command(epilog="Example: orbridge logs -f --errors")
def logs(
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new requests."),
    lines: int = typer.Option(20, "-n", help="How many recent requests."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON lines."),
    errors: bool = typer.Option(False, "--errors", help="Only failed requests."),
) -> None:
    """Show the request log."""
    from .logs import show

    show(follow, lines, as_json, errors)


@app.command(epilog="Example: orbridge usage --since 7d --by day")
def usage(
    since: str = typer.Option("7d", "--since", help="How far back: 30m, 24h, 7d, 2w."),
    by: str = typer.Option("model", "--by", help="Group by model, day or profile.",
                           autocompletion=completion.usage_groups),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Requests, tokens and cost from the request log."""
    from .usage import show

    show(since, by, as_json)


JsonOpt = typer.Option(False, "--json", help="Print JSON.")


@batches_app.command("list", epilog="Example: orbridge batches list --json")
def batches_list(limit: int = typer.Option(20, "-n", help="How many, newest first."), as_json: bool = JsonOpt) -> None:
    """The batches kept here, newest first."""
    from . import batches

    batches.list_batches(max(1, min(limit, 1000)), as_json)


@batches_app.command("show", epilog="Example: orbridge batches show msgbatch_… --watch")
def batches_show(batch_id: str = typer.Argument(..., help="Batch id."),
                 watch: bool = typer.Option(False, "--watch", "-w", help="A live progress bar until it ends."),
                 as_json: bool = JsonOpt) -> None:
    """A batch's status and counts."""
    from . import batches

    batches.show(batch_id, watch, as_json)


@batches_app.command("results", epilog="Example: orbridge batches results msgbatch_… --output out.jsonl")
def batches_results(batch_id: str = typer.Argument(..., help="Batch id."),
                    output: Path = typer.Option(None, "--output", "-o", help="Write to FILE (0600), not stdout."),
                    as_json: bool = JsonOpt) -> None:
    """An ended batch's results, one JSON line per request (--json: the same)."""
    from . import batches

    batches.results(batch_id, output)


@batches_app.command("cancel", epilog="Example: orbridge batches cancel msgbatch_…")
def batches_cancel(batch_id: str = typer.Argument(..., help="Batch id."), as_json: bool = JsonOpt) -> None:
    """Cancel a batch: pending requests end canceled, those in flight finish."""
    from . import batches

    batches.cancel(batch_id, as_json)


@setup_app.command("claude", epilog="Example: orbridge setup claude")
def setup_claude() -> None:
    """Install the Claude Code version orbridge is tested with into orbridge's data dir (npm, no -g, no sudo)."""
    from .claude_install import setup

    setup()


@keys_app.command("set", epilog="Example: orbridge keys set openrouter   (or: echo $KEY | orbridge keys set X)")
def keys_set(provider: str = typer.Argument(..., help="Provider (preset) or key name."),
             force: bool = typer.Option(False, "--force", help="Store under a name that looks like a typo of a "
                                        "known one, without asking.")) -> None:
    """Store a key (hidden prompt, or stdin when piped)."""
    from . import keys

    keys.set_command(provider, force)


@keys_app.command("list", epilog="Example: orbridge keys list")
def keys_list() -> None:
    """Show which keys are known (masked) and where each comes from."""
    from . import keys
    from .config import PRESETS

    for warning in keys.check_modes():
        print(f"warning: {warning}", file=sys.stderr)
    names = sorted(set(PRESETS) | set(keys.stored()))
    for name in names:
        env_var = PRESETS[name].env_var if name in PRESETS else None
        key, source = keys.lookup(name, env_var)
        if key:
            print(f"{name:<12} {keys.mask(key):<12} {source}")


@keys_app.command("remove", epilog="Example: orbridge keys remove openrouter")
def keys_remove(provider: str = typer.Argument(..., help="Provider or key name.")) -> None:
    """Forget a stored key."""
    from . import keys

    keys.remove_command(provider)


@profile_app.command("list", epilog="Example: orbridge profile list")
def profile_list() -> None:
    """List profiles; * marks the active one."""
    from .profiles import list_profiles

    list_profiles()


@profile_app.command("show", epilog="Example: orbridge profile show work")
def profile_show(name: str = typer.Argument(None, help="Profile (default: the active one).",
                                            autocompletion=completion.profile_names)) -> None:
    """Show one profile, with its resolved tier models."""
    from .profiles import show

    show(name)


def _profile_fields_command(action: str, doc: str):
    """`profile add` and `profile edit` take the same fields; one definition serves both."""

    def command(
        name: str = typer.Argument(..., help="Profile name.",
                                   autocompletion=completion.profile_names if action == "edit" else None),
        provider: str = typer.Option(None, "--provider", help="Preset: openrouter, openai, deepseek, groq, "
                                     "together, mistral, ollama, lmstudio, vllm, anthropic, openrouter-anthropic, "
                                     "deepseek-anthropic, moonshot, minimax, litellm.",
                                     autocompletion=completion.presets),
        base_url: str = typer.Option(None, "--base-url", help="Any OpenAI-compatible endpoint."),
        model: str = typer.Option(None, "--model", help="Default model.",
                                  autocompletion=completion.model_ids),
        opus: str = typer.Option(None, "--opus", help="Model for the opus tier.",
                                 autocompletion=completion.model_ids),
        sonnet: str = typer.Option(None, "--sonnet", help="Model for the sonnet tier.",
                                   autocompletion=completion.model_ids),
        haiku: str = typer.Option(None, "--haiku", help="Model for the haiku (background) tier.",
                                  autocompletion=completion.model_ids),
        fable: str = typer.Option(None, "--fable", help="Model for the fable tier.",
                                  autocompletion=completion.model_ids),
        timeout: float = typer.Option(None, "--timeout", help="Upstream timeout in seconds."),
        key_name: str = typer.Option(None, "--key-name", help="Stored key to use (default: the provider's)."),
        context_length: int = typer.Option(None, "--context-length", help="Context window, when no catalogue "
                                           "knows the model (local models, gateways)."),
        max_output: int = typer.Option(None, "--max-output", help="Output token cap, when no catalogue knows it."),
        use: bool = typer.Option(False, "--use", help="Also make it the active profile."),
        unset: list[str] = typer.Option(None, "--unset", metavar="FIELD", hidden=action != "edit",
                                        help="Remove a field from the profile, e.g. --unset haiku (repeatable)."),
    ) -> None:
        from . import profiles

        fields = dict(provider=provider, base_url=base_url, model=model, opus=opus, sonnet=sonnet, haiku=haiku,
                      fable=fable, timeout=timeout, key_name=key_name, context_length=context_length,
                      max_output=max_output)
        if action == "add":
            if unset:
                raise CLIError("profile add has no --unset", f"leave the field out, or: orbridge profile edit "
                               f"{name} --unset FIELD", code=2)
            profiles.add(name, fields, use)
        else:
            profiles.edit(name, fields, use, unset)

    command.__doc__ = doc
    return command


profile_app.command("add", epilog="Example: orbridge profile add local --provider ollama --model qwen3-coder")(
    _profile_fields_command("add", "Create a profile."))
profile_app.command("edit", epilog="Example: orbridge profile edit work --haiku openai/gpt-4o-mini --unset routes")(
    _profile_fields_command("edit", "Change fields of a profile (with no options: open the config file in "
                                    "$EDITOR)."))


@profile_app.command("use", epilog="Example: orbridge profile use work")
def profile_use(name: str = typer.Argument(..., autocompletion=completion.profile_names)) -> None:
    """Make a profile the active one."""
    from .profiles import use

    use(name)


@profile_app.command("remove", epilog="Example: orbridge profile remove old")
def profile_remove(name: str = typer.Argument(..., autocompletion=completion.profile_names)) -> None:
    """Delete a profile."""
    from .profiles import remove

    remove(name)


def main() -> None:
    from .umask import private_umask

    private_umask()
    try:
        completion.register_shells()
        app(prog_name="orbridge")  # the name completion scripts call and `_ORBRIDGE_COMPLETE` is derived from
    except CLIError as exc:
        sys.exit(report(exc))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()  # `python -m orbridge.cli` is the console entry; importing entry here made entry <-> main a circle
