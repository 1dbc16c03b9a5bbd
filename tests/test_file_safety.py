"""Files and folders other local accounts can touch (issue #10 §5), key hygiene, the custom-endpoint loader.

Tests run as root: "another account" is uid 65534, made by chown, and by `setpriv` where it exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from orbridge.cli import config, keys, paths, resolve
from orbridge.cli.errors import CLIError
from orbridge.proxy.request_log import RequestLog

from .conftest import CANARY, ORBRIDGE, add_profile
from .fake_upstream import Reply

OTHER = 65534
# Making a file another account's needs root; CI runs as root, so these always run there.
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
SETPRIV = shutil.which("setpriv")
CHILD = textwrap.dedent("""
    import anthropic
    msg = anthropic.Anthropic(max_retries=0).messages.create(
        model="claude-sonnet-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    print("TEXT:" + msg.content[0].text)
""")
PONG = Reply(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                                "finish_reason": "stop"}], "usage": {}})


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def modes(*roots: Path) -> dict[str, str]:
    """Every folder and file under the roots (roots included) with its mode, for one readable assert."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            found[str(path)] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def assert_private(*roots: Path) -> None:
    loose = {p: m for p, m in modes(*roots).items() if m != (oct(0o700) if Path(p).is_dir() else oct(0o600))}
    assert not loose, loose


def isolated(monkeypatch, root: Path) -> None:
    """In-process CLI code on an isolated HOME, as the `home` fixture does for subprocesses."""
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "cfg"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(root / sub))
    for var in ("ORBRIDGE_CONFIG", "ORBRIDGE_PROFILE", "OPENROUTER_API_KEY", "ORBRIDGE_LOG_DIR"):
        monkeypatch.delenv(var, raising=False)


# --- 1. everything created is private, whatever the umask -------------------------------------------


def test_umask_000_cli_creates_only_private_folders_and_files(home):
    home.fake.catalogue = {"data": [{"id": "fake/model", "context_length": 1000}]}
    with umask(0):
        add_profile(home)  # config.toml and keys.json
        r = home("models", "--json")
        assert r.returncode == 0, r.stderr
    assert list((home.root / "cache" / "orbridge").glob("models-*.json"))
    assert_private(home.root / "cfg", home.root / "cache")


def test_umask_000_proxy_request_and_bodies_logs_are_private(proxy_factory, upstream, tmp_path):
    logs = tmp_path / "state" / "orbridge" / "log"
    upstream.script(PONG)
    with umask(0):
        proxy = proxy_factory(log_path=logs / "requests.jsonl", log_bodies_path=logs / "bodies.jsonl")
        r = proxy.post("/v1/messages", {"model": "claude-sonnet-4", "max_tokens": 10,
                                        "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200
    assert (logs / "requests.jsonl").stat().st_size and (logs / "bodies.jsonl").stat().st_size
    assert_private(tmp_path / "state")


def test_private_log_handler_for_proxy_log(tmp_path, caplog):
    path = tmp_path / "state" / "orbridge" / "log" / "proxy.log"
    with umask(0):
        handler, warning = paths.private_log_handler(path)
    assert warning is None
    logger = logging.getLogger("orbridge.test.proxylog")
    logger.addHandler(handler)
    try:
        logger.warning("diagnostic line")
    finally:
        logger.removeHandler(handler)
    assert "diagnostic line" in path.read_text()
    assert_private(tmp_path / "state")
    path.unlink()
    os.symlink(tmp_path / "elsewhere", path)
    handler, warning = paths.private_log_handler(path)
    assert isinstance(handler, logging.NullHandler) and "symbolic link" in warning and str(path) in warning
    assert not (tmp_path / "elsewhere").exists()


def test_umask_000_run_leaves_only_private_files(home):
    add_profile(home)
    home.fake.script(PONG)
    (home.root / "child.py").write_text(CHILD)
    with umask(0):
        r = home("run", "--log-bodies", "--", sys.executable, str(home.root / "child.py"),
                 extra={"OPENROUTER_API_KEY": CANARY})
    assert r.returncode == 0 and "TEXT:pong" in r.stdout, r.stderr
    assert_private(home.root / "cfg", home.root / "state")


# --- 2. refusing files and folders others own, can write, or link ------------------------------------


def test_symlinked_keys_json_is_refused(home):
    add_profile(home)
    keys_file = home.config_dir / "keys.json"
    moved = home.root / "moved-keys.json"
    keys_file.rename(moved)
    keys_file.symlink_to(moved)
    for args in (["keys", "list"], ["run", "--print-env"], ["keys", "set", "openai"]):
        r = home(*args, input="sk-new-1234567890\n")
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert f"refusing {keys_file}: it is a symbolic link" in r.stderr and "fix:" in r.stderr
        assert CANARY not in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert json.loads(moved.read_text()) == {"openrouter": CANARY}  # the target was neither read nor written


@AS_ROOT
@pytest.mark.parametrize("target", ["dir", "keys", "config"])
def test_config_dir_or_files_owned_by_another_user_are_refused(home, target):
    add_profile(home)
    path = {"dir": home.config_dir, "keys": home.config_dir / "keys.json",
            "config": home.config_dir / "config.toml"}[target]
    os.chown(path, OTHER, OTHER)
    r = home("run", "--print-env")
    assert r.returncode == 1, r.stdout
    assert f"refusing {path}: it is owned by another user (uid {OTHER}" in r.stderr and "fix:" in r.stderr
    os.chown(path, 0, 0)
    assert home("run", "--print-env").returncode == 0


def test_group_or_other_writable_config_dir_is_refused_and_not_changed(home):
    add_profile(home)
    os.chmod(home.config_dir, 0o777)
    r = home("keys", "list")
    assert r.returncode == 1 and f"refusing {home.config_dir}: it is writable by group/others" in r.stderr
    assert CANARY[-4:] not in r.stdout
    assert stat.S_IMODE(home.config_dir.stat().st_mode) == 0o777  # refused, not silently "fixed"


def test_readable_key_file_in_own_dir_is_tightened_with_a_warning(home):
    add_profile(home)
    os.chmod(home.config_dir, 0o755)
    os.chmod(home.config_dir / "keys.json", 0o644)
    r = home("run", "--print-env")
    assert r.returncode == 0, r.stderr
    assert "set to 700" in r.stderr and "set to 600" in r.stderr
    assert modes(home.config_dir)[str(home.config_dir)] == oct(0o700)
    assert modes(home.config_dir)[str(home.config_dir / "keys.json")] == oct(0o600)


@AS_ROOT
def test_bodies_log_replaced_by_another_owner_is_not_written(proxy_factory, upstream, tmp_path, caplog):
    upstream.script(PONG, PONG)
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text("")
    os.chown(bodies, OTHER, OTHER)
    os.chmod(bodies, 0o666)
    requests_target = tmp_path / "target.jsonl"
    requests_target.write_text("")
    (tmp_path / "requests.jsonl").symlink_to(requests_target)
    proxy = proxy_factory(log_path=tmp_path / "requests.jsonl", log_bodies_path=bodies)
    body = {"model": "claude-sonnet-4", "max_tokens": 10, "messages": [{"role": "user", "content": "secret prompt"}]}
    with caplog.at_level(logging.WARNING, logger="orbridge.proxy"):
        for _ in range(2):
            r = proxy.post("/v1/messages", body)
            assert r.status_code == 200  # the log never fails the request
    assert bodies.read_text() == "" and requests_target.read_text() == ""
    refusals = [m for m in (r.getMessage() for r in caplog.records if r.name == "orbridge.proxy") if "not logging" in m]
    assert len(refusals) == 2, refusals  # one per file, not one per request
    assert any("owned by another user" in m for m in refusals) and any("symbolic link" in m for m in refusals)


def test_rotation_does_not_follow_symlinks(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("x" * 100)
    log_path = tmp_path / "log" / "requests.jsonl"
    log = RequestLog(log_path, max_bytes=50, emit=False)
    log.write({"n": 1})
    (log_path.parent / "requests.jsonl.1").symlink_to(outside)
    for n in (2, 3):
        log.write({"n": n, "pad": "y" * 30})
    assert outside.read_text() == "x" * 100
    assert json.loads(log_path.read_text())["n"] == 3
    assert (log_path.parent / "requests.jsonl.3").is_symlink()  # the link moved as a name, target untouched
    log_path.unlink()
    log_path.symlink_to(outside)  # a symlink in place of the log itself: neither rotated nor written
    log.write({"n": 4, "pad": "y" * 60})
    assert outside.read_text() == "x" * 100 and log_path.is_symlink()


def test_two_writers_of_one_log_follow_each_others_rotation(tmp_path):
    """When another process (another orbridge run) rotates or removes the log, the next line goes to the
    file now at that name, not on into the renamed one (a writer that held its file open would)."""
    log_path = tmp_path / "log" / "requests.jsonl"
    first, second = RequestLog(log_path, max_bytes=120, emit=False), RequestLog(log_path, max_bytes=120, emit=False)
    first.write({"by": "first", "n": 1})
    second.write({"by": "second", "n": 1, "pad": "z" * 80})  # past the cap: second rotates
    first.write({"by": "first", "n": 2})
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert {"by": "first", "n": 2} in lines and all(line.get("n") != 1 for line in lines)
    log_path.unlink()
    first.write({"by": "first", "n": 3})
    assert json.loads(log_path.read_text()) == {"by": "first", "n": 3}
    assert oct(log_path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_another_account_cannot_read_or_redirect_the_victims_files(home):
    """The reported attack, as a second account: it renames the config dir and plants its own with a
    base_url pointing at itself and a symlinked keys.json; the victim's next run must refuse it."""
    shared = Path(tempfile.mkdtemp(prefix="orbridge-shared-"))
    try:
        os.chmod(shared, 0o755)
        env = {**home.env, "HOME": str(shared / "victim"), "XDG_CONFIG_HOME": str(shared / "victim" / "cfg"),
               "XDG_STATE_HOME": str(shared / "victim" / "state"), "XDG_CACHE_HOME": str(shared / "victim" / "c")}
        os.makedirs(shared / "victim", mode=0o755)
        victim = [*ORBRIDGE]

        def as_victim(*args: str, input: str | None = None):
            return subprocess.run([*victim, *args], env=env, input=input, capture_output=True, text=True,
                                  timeout=60, cwd=shared)

        with umask(0):
            assert as_victim("keys", "set", "openrouter", input=CANARY + "\n").returncode == 0
        cfg = shared / "victim" / "cfg"
        own = cfg / "orbridge"
        # 1. with the victim's umask 000, the other account still cannot read what orbridge wrote
        attacker = [SETPRIV, "--reuid", str(OTHER), "--regid", str(OTHER), "--clear-groups"]
        attacker_env = {**env, "HOME": str(shared / "attacker")}
        r = subprocess.run([*attacker, *ORBRIDGE, "keys", "list"], env=attacker_env, capture_output=True,
                           text=True, timeout=60, cwd="/")
        assert r.returncode != 0 and CANARY not in r.stdout + r.stderr
        read = subprocess.run([*attacker, sys.executable, "-c", f"print(open({str(own / 'keys.json')!r}).read())"],
                              capture_output=True, text=True, timeout=60, cwd="/")
        assert read.returncode != 0 and "Permission denied" in read.stderr and CANARY not in read.stdout
        # 2. a loose parent the victim made (say ~/.config 0777): the attacker swaps the folder
        os.chmod(cfg, 0o777)
        plant = textwrap.dedent(f"""
            import os
            os.rename({str(own)!r}, {str(cfg / 'moved')!r})
            os.mkdir({str(own)!r}, 0o700)
            with open({str(own / 'config.toml')!r}, "w") as fh:
                fh.write('active = "x"\\n[profiles.x]\\nprovider = "openrouter"\\nbase_url = "{home.fake.base_url}"\\n'
                         'model = "m"\\n')
            os.symlink({str(cfg / 'moved' / 'keys.json')!r}, {str(own / 'keys.json')!r})
        """)
        r = subprocess.run([*attacker, sys.executable, "-c", plant], capture_output=True, text=True, timeout=60,
                           cwd="/")
        assert r.returncode == 0, r.stderr
        r = as_victim("run", "--", sys.executable, "-c", "print('child ran')")
        assert r.returncode == 1 and "child ran" not in r.stdout
        assert f"refusing {own}: it is owned by another user" in r.stderr
        assert home.fake.chat_requests() == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# --- 3. ORBRIDGE_CONFIG in a shared folder ------------------------------------------------------------


def test_orbridge_config_in_a_shared_folder_keeps_its_mode_and_finds_the_keys(home):
    shared = home.root / "dotfiles"
    shared.mkdir()
    os.chmod(shared, 0o755)
    extra = {"ORBRIDGE_CONFIG": str(shared / "config.toml")}
    r = home("profile", "add", "t", "--provider", "openrouter", "--base-url", home.fake.base_url, "--model",
             "fake/model", "--key-name", "openrouter", "--use", extra=extra)
    assert r.returncode == 0, r.stderr
    r = home("keys", "set", "openrouter", input=CANARY + "\n", extra=extra)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755 and not (shared / "keys.json").exists()
    assert (home.config_dir / "keys.json").exists()
    r = home("keys", "list", extra=extra)
    assert "sk-o…3a9c" in r.stdout and "warning" not in r.stderr
    home.fake.script(PONG)
    (home.root / "child.py").write_text(CHILD)
    r = home("run", "--", sys.executable, str(home.root / "child.py"), extra=extra)
    assert r.returncode == 0 and "TEXT:pong" in r.stdout, r.stderr
    assert home.fake.chat_requests()[0].headers["authorization"] == f"Bearer {CANARY}"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


# --- 5. keys: surrounding whitespace stripped, control characters refused ----------------------------


def test_crlf_key_in_file_and_env_is_stripped(home):
    add_profile(home)
    (home.config_dir / "keys.json").write_text(json.dumps({"openrouter": CANARY + "\r\n"}) + "\r\n")
    home.fake.script(PONG, PONG)
    (home.root / "child.py").write_text(CHILD)
    for extra in ({}, {"OPENROUTER_API_KEY": " sk-or-env-key-42\r"}):
        r = home("run", "--", sys.executable, str(home.root / "child.py"), extra=extra)
        assert r.returncode == 0 and "TEXT:pong" in r.stdout, r.stderr
    sent = [c.headers["authorization"] for c in home.fake.chat_requests()]
    assert sent == [f"Bearer {CANARY}", "Bearer sk-or-env-key-42"]


def test_keys_lookup_strips_and_refuses_control_characters(tmp_path, monkeypatch):
    isolated(monkeypatch, tmp_path)
    keys.set_key("openrouter", "  sk-or-file-1234\r\n")
    assert json.loads(paths.keys_file().read_text()) == {"openrouter": "sk-or-file-1234"}
    assert keys.lookup("openrouter", "OPENROUTER_API_KEY") == ("sk-or-file-1234", "file")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-env-5678\r")
    assert keys.lookup("openrouter", "OPENROUTER_API_KEY") == ("sk-or-env-5678", "env:OPENROUTER_API_KEY")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or\x1b[31m-env")
    with pytest.raises(CLIError) as err:
        keys.lookup("openrouter", "OPENROUTER_API_KEY")
    assert "OPENROUTER_API_KEY" in err.value.message and "\x1b" not in err.value.message
    monkeypatch.delenv("OPENROUTER_API_KEY")
    paths.keys_file().write_text(json.dumps({"openrouter": "sk-or\u0007bell"}))
    with pytest.raises(CLIError) as err:
        keys.lookup("openrouter", "OPENROUTER_API_KEY")
    assert str(paths.keys_file()) in err.value.message and "openrouter" in err.value.message
    for bad in ("sk-or\x00nul", "sk-or\tx", "sk\x85next"):
        with pytest.raises(CLIError):
            keys.set_key("openai", bad)
    assert "openai" not in json.loads(paths.keys_file().read_text())


def test_control_character_in_env_key_is_a_one_line_cli_error(home):
    add_profile(home)
    r = home("run", "--print-env", extra={"OPENROUTER_API_KEY": "sk-or-\x07-key"})
    assert r.returncode == 1 and "orbridge: OPENROUTER_API_KEY holds" in r.stderr and "fix:" in r.stderr
    assert "Traceback" not in r.stderr


# --- 6. a hand-written base_url profile without provider -----------------------------------------------


def test_toml_base_url_without_provider_is_custom_and_gets_no_openrouter_key(tmp_path, monkeypatch, upstream):
    isolated(monkeypatch, tmp_path)
    keys.set_key("openrouter", CANARY)
    keys.set_key("custom", "sk-never-by-that-name")
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY)
    paths.own_config_dir().joinpath("config.toml").write_text(textwrap.dedent(f"""
        active = "gw"
        [profiles.gw]
        base_url = "{upstream.base_url}"
        model = "team-coder"
        [profiles.named]
        base_url = "{upstream.base_url}"
        model = "team-coder"
        key_name = "gateway"
    """))
    cfg = config.load()
    gw = cfg.get("gw")
    assert gw.provider == "custom" and gw.preset is None and gw.key_id is None and gw.env_var is None
    asked = []
    real = keys.lookup
    monkeypatch.setattr(keys, "lookup", lambda name, var: asked.append((name, var)) or real(name, var))
    resolved = resolve.resolve(resolve.Overrides(), network=False)
    assert resolved.profile.provider == "custom" and resolved.api_key is None
    assert all(name != "openrouter" and var != "OPENROUTER_API_KEY" for name, var in asked), asked
    keys.set_key("gateway", "sk-gateway-9876")
    named = resolve.resolve(resolve.Overrides(profile="named"), network=False)
    assert named.profile.provider == "custom" and named.api_key == "sk-gateway-9876"
    # a preset named on purpose still gets its key
    assert config.Profile(provider="openrouter-anthropic").key_id == "openrouter"


def test_a_log_an_older_version_left_readable_is_made_private(tmp_path):
    log = tmp_path / "log" / "requests.jsonl"
    log.parent.mkdir(mode=0o700)
    log.write_text("")
    os.chmod(log, 0o644)
    RequestLog(log).write({"status": 200})
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and json.loads(log.read_text())["status"] == 200


def test_private_umask_spans_from_many_threads_leave_the_umask_as_it_was():
    """The proxy's threads (request log, batch database) create files at once: interleaved spans must not
    leave the process at 077 (a later `os.makedirs(mode=0o755)` of the user's would come out 0700)."""
    import threading

    from orbridge.proxy.private_files import umask077

    before = os.umask(0o022)
    try:
        barrier = threading.Barrier(8)

        def work() -> None:
            barrier.wait()
            for i in range(200):
                with umask077():
                    time.sleep(0.0001 * (i % 3))  # a file being created: other threads run meanwhile

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)
