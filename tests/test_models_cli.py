"""`orbridge models` and the catalogue `run` reads, as subprocesses against the fake upstream."""

from __future__ import annotations

import json
import socket

CATALOGUE = {"data": [{"id": "fake/model", "context_length": 200000, "max_output_tokens": 9000},
                      {"id": "fake/other"}]}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env_value(out: str, name: str) -> str | None:
    for line in out.splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1].split()[0]
    return None


def test_litellm_table_is_cached(home, tmp_path):
    args = ("models", "--provider", "litellm", "--search", "gemini/gemini-2.5-pro", "--json")
    first = home(*args)
    assert first.returncode == 0, first.stderr
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "litellm.py").write_text("raise ImportError('litellm must not be imported: the cache answers')\n")
    second = home(*args, extra={"PYTHONPATH": str(shadow)})
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
    refreshed = home(*args, "--refresh", extra={"PYTHONPATH": str(shadow)})  # --refresh reads LiteLLM again
    assert refreshed.returncode == 1 and "must not be imported" in refreshed.stderr


def test_models_for_a_local_server_that_is_down_says_so(home):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    r = home("models", "--base-url", url)
    assert r.returncode == 1, r.stderr
    assert f"nothing answers at {url} — is the server running?" in r.stderr
    assert "check your network" not in r.stderr and "Traceback" not in r.stderr


def test_custom_endpoint_catalogue_feeds_run(home):
    home.fake.catalogue = CATALOGUE
    r = home("models", "--base-url", home.fake.base_url, "--search", "fake/model")
    assert r.returncode == 0 and "200k" in r.stdout, r.stderr
    env = home("run", "--print-env", "--base-url", home.fake.base_url, "--model", "fake/model").stdout
    assert _env_value(env, "CLAUDE_CODE_MAX_CONTEXT_TOKENS") == "200000", env
    assert _env_value(env, "CLAUDE_CODE_MAX_OUTPUT_TOKENS") == "9000", env


def test_run_reads_a_custom_catalogue_without_models_first_and_remembers_failures(home):
    home.fake.catalogue = None  # the endpoint has no /models: run falls back, and does not ask again soon
    env = home("run", "--print-env", "--base-url", home.fake.base_url, "--model", "fake/model").stdout
    assert _env_value(env, "CLAUDE_CODE_MAX_CONTEXT_TOKENS") == "128000", env
    home.fake.catalogue = CATALOGUE
    env = home("run", "--print-env", "--base-url", home.fake.base_url, "--model", "fake/model").stdout
    assert _env_value(env, "CLAUDE_CODE_MAX_CONTEXT_TOKENS") == "128000", env  # the failure is remembered
    assert home("models", "--base-url", home.fake.base_url).returncode == 0  # an explicit fetch clears it
    env = home("run", "--print-env", "--base-url", home.fake.base_url, "--model", "fake/model").stdout
    assert _env_value(env, "CLAUDE_CODE_MAX_CONTEXT_TOKENS") == "200000", env


def test_run_with_a_dead_local_endpoint_starts_without_a_catalogue(home):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    r = home("run", "--print-env", "--base-url", url, "--model", "m", timeout=30)
    assert r.returncode == 0, r.stderr
    assert _env_value(r.stdout, "CLAUDE_CODE_MAX_CONTEXT_TOKENS") == "128000"
    assert list((home.root / "cache" / "orbridge").glob("models-*.failed"))
