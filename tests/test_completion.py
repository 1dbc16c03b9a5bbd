"""Shell completion, driven as the shells drive it: `_ORBRIDGE_COMPLETE=complete_bash` with COMP_WORDS/COMP_CWORD
(or `complete_zsh` with the words Typer's zsh script passes) in a subprocess, and `--install-completion SHELL`
with HOME in a tmp folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ORBRIDGE, add_profile
from .test_cli import CATALOGUE


def complete(orb, line: str, shell: str = "bash", extra: dict | None = None) -> subprocess.CompletedProcess:
    """What <TAB> at the end of `line` offers."""
    env = {**orb.env, "_ORBRIDGE_COMPLETE": f"complete_{shell}", **(extra or {})}
    if shell == "bash":
        words = line.split(" ")
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
    r = subprocess.run(ORBRIDGE, env=env, capture_output=True, text=True, timeout=30, cwd=orb.root)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r


def offered(orb, line: str) -> list[str]:
    return complete(orb, line).stdout.split()


def test_install_completion_writes_the_named_shells_file(home):
    home_dir = Path(home.env["HOME"])
    for shell in ("zsh", "fish"):  # the parent shell here is bash (or none): the name given must win
        r = home("--install-completion", shell, extra={"SHELL": "/bin/bash"})
        assert r.returncode == 0 and f"{shell} completion installed" in r.stdout, r.stdout + r.stderr
    zsh = (home_dir / ".zfunc" / "_orbridge").read_text()
    assert "#compdef orbridge" in zsh and "_ORBRIDGE_COMPLETE=complete_zsh orbridge" in zsh
    assert "fpath+=~/.zfunc" in (home_dir / ".zshrc").read_text()
    fish = (home_dir / ".config" / "fish" / "completions" / "orbridge.fish").read_text()
    assert "complete --command orbridge" in fish and "_ORBRIDGE_COMPLETE=complete_fish" in fish
    assert not (home_dir / ".bash_completions").exists() and not (home_dir / ".bashrc").exists()

    r = home("--install-completion", "tcsh")
    assert r.returncode == 2 and "bash" in r.stderr and "zsh" in r.stderr and "fish" in r.stderr


def test_show_completion_prints_the_named_shells_script(home):
    for shell, marker in (("zsh", "compdef _orbridge_completion orbridge"), ("fish", "complete --command orbridge"),
                          ("bash", "complete -o default -F _orbridge_completion orbridge")):
        r = home("--show-completion", shell, extra={"SHELL": "/bin/bash"})
        assert r.returncode == 0 and marker in r.stdout, (shell, r.stdout, r.stderr)
    assert not list(Path(home.env["HOME"]).iterdir())  # showing installs nothing


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_installed_bash_script_completes_in_a_real_bash(home):
    add_profile(home)
    assert home("--install-completion", "bash").returncode == 0
    script = Path(home.env["HOME"]) / ".bash_completions" / "orbridge.sh"
    # the script calls `orbridge` through PATH: the console script installed beside this Python
    path = f"{Path(sys.executable).parent}{os.pathsep}{home.env['PATH']}"
    r = subprocess.run(["bash", "--norc", "-c", f"source '{script}'; COMP_WORDS=(orbridge run --profile ''); "
                        "COMP_CWORD=3; _orbridge_completion orbridge; printf '%s\\n' \"${COMPREPLY[@]}\""],
                       env={**home.env, "PATH": path}, capture_output=True, text=True, timeout=30)
    assert r.stdout.split() == ["t", "default"], r.stdout + r.stderr


def test_profile_names_presets_and_usage_groups(home):
    add_profile(home)  # profile "t", active
    assert home("profile", "add", "work", "--provider", "ollama", "--model", "qwen3-coder").returncode == 0
    for line in ("orbridge run --profile ", "orbridge serve --profile ", "orbridge doctor -p ",
                 "orbridge models --profile ", "orbridge profile show ", "orbridge profile edit ",
                 "orbridge profile use ", "orbridge profile remove "):
        assert offered(home, line) == ["t", "work", "default"], line
    assert offered(home, "orbridge profile use w") == ["work"]
    assert offered(home, "orbridge profile add ") == []  # a new name: nothing to suggest
    assert offered(home, "orbridge run --provider open") == ["openrouter", "openai", "openrouter-anthropic"]
    assert "litellm" in offered(home, "orbridge profile add x --provider ")
    assert offered(home, "orbridge usage --by ") == ["model", "day", "profile"]
    zsh = complete(home, "orbridge serve --profile w", shell="zsh").stdout
    assert zsh.startswith("_arguments") and '"work":"ollama qwen3-coder"' in zsh


def test_model_ids_come_from_the_catalogue_cache_never_the_network(home):
    add_profile(home)  # profile "t": openrouter at the fake upstream, whose catalogue `models` caches
    hostile = [{"id": "fake/$(touch pwned)"}, {"id": "fake/\x1b]0;title\x07"}, {"id": "fake/a b"}]
    home.fake.catalogue = {"data": CATALOGUE["data"] + hostile}
    assert home("models").returncode == 0
    home.fake.catalogue = {"data": [{"id": "fake/fresh"}]}  # the network now says otherwise: the cache answers
    cached = ["fake/model", "fake/haiku", "fake/notools"]
    for line in ("orbridge run --model ", "orbridge run -m ", "orbridge serve --haiku ", "orbridge doctor --model ",
                 "orbridge profile edit t --opus ", "orbridge profile edit t --sonnet ",
                 "orbridge profile edit t --fable ", "orbridge profile edit t --haiku ",
                 "orbridge profile edit t --model "):
        assert offered(home, line) == cached, line
    assert offered(home, "orbridge run --model fake/h") == ["fake/haiku"]
    zsh = complete(home, "orbridge run --model fake/m", shell="zsh").stdout
    assert '"fake/model":"131k context"' in zsh
    # another provider's catalogue is not this one's; nothing cached for it: nothing offered
    assert offered(home, "orbridge run --provider ollama --model ") == []
    assert offered(home, f"orbridge run --base-url {home.fake.base_url} --model ") == cached
    assert not (home.root / "pwned").exists()
    # the profile named before the option picks the catalogue (another URL, so another cache file)
    other = home.fake.base_url + "/"
    assert home("profile", "add", "other", "--base-url", other, "--provider", "openrouter", "--model", "x",
                "--key-name", "openrouter").returncode == 0
    home.fake.catalogue = {"data": [{"id": "other/one"}]}
    assert home("models", "--profile", "other").returncode == 0
    for line in ("orbridge profile edit other --opus ", "orbridge run --profile other --model "):
        assert offered(home, line) == ["other/one"], line
    assert offered(home, "orbridge profile edit t --opus ") == cached


def test_a_broken_config_or_cache_offers_nothing_and_never_fails(home):
    add_profile(home)
    home.fake.catalogue = CATALOGUE
    assert home("models").returncode == 0
    cache = next((home.root / "cache" / "orbridge").glob("models-*.json"))
    cache.write_text("{not json")
    assert offered(home, "orbridge run --model ") == []
    home.config_dir.joinpath("config.toml").write_text("active = [\n")
    for line in ("orbridge run --profile ", "orbridge run --model ", "orbridge profile use "):
        r = complete(home, line)
        assert r.stdout.strip() == "" and r.stderr == "", (line, r.stdout, r.stderr)
    assert offered(home, "orbridge run --provider ollam") == ["ollama"]  # presets need no config


def test_completion_loads_no_proxy_stack(home):
    add_profile(home)
    env = {**home.env, "_ORBRIDGE_COMPLETE": "complete_bash", "COMP_WORDS": "orbridge run --model ",
           "COMP_CWORD": "3"}
    r = subprocess.run([sys.executable, "-X", "importtime", *ORBRIDGE[1:]], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0
    for heavy in ("starlette", "uvicorn", "litellm", "httpx", "orbridge.proxy.app", "orbridge.proxy.server"):
        assert f" {heavy}\n" not in r.stderr and f" {heavy}." not in r.stderr, heavy


COMMANDS = {"run", "serve", "models", "doctor", "logs", "usage", "profile", "keys", "list", "show", "add", "edit",
            "use", "remove", "set"}
OPTION = re.compile(r"(?<![\w-])--?[a-z][a-z-]*")


def _has_option(orb, words: tuple[str, ...], option: str, helps: dict) -> bool:
    if words not in helps:
        r = orb(*words, "--help")
        assert r.returncode == 0, r.stderr
        helps[words] = r.stdout
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", helps[words]) is not None


def test_readme_commands_table_and_overrides_agree_with_help(home):
    """Every option the README's commands table and overrides paragraph name is in that command's --help."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("## Commands", 1)[1].split("\n\n", 2)[1]
    helps: dict = {}
    for row in table.splitlines()[2:]:
        example = row.rstrip(" |").rsplit("|", 1)[1].strip(" `")
        after = example.split("orbridge ", 1)[1].split()
        words = tuple(w for w in after[:2] if w in COMMANDS)  # `profile add local …` -> profile add
        for option in OPTION.findall(row):
            assert _has_option(home, words, option, helps), (row, option)
    first = readme.split("One-off overrides on ", 1)[1].split(".\n", 1)[0]
    for clause in first.split(";"):
        names = re.findall(r"`([a-z]+)`", clause)
        commands = [n for n in names if n in COMMANDS]
        options = re.findall(r"`(--[a-z-]+)", clause)
        assert commands and options, clause
        for command in commands:
            for option in options:
                assert _has_option(home, (command,), option, helps), (command, option)
