"""How failures look to the client: output limits are not "prompt is too long", unknown models and missing
credentials are final and named, LiteLLM's wording arrives without its traceback."""

from __future__ import annotations

import json

from orbridge.proxy.errors import UpstreamError, context_overflow, from_upstream
from orbridge.proxy.upstreams.litellm_provider import _error, clean_message

from .fake_upstream import Reply, chunk
from .sse_validator import parse_sse

MIN = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def test_output_limit_after_length_stop_ends_the_message(proxy, upstream):
    # As OpenRouter sends it: a `length` stop, then an error chunk about the token limit, then [DONE].
    upstream.script(Reply(items=[chunk({"role": "assistant", "content": "partial answer"}), chunk({}, "length"),
                                 {"error": {"code": 400, "message": "Token limit reached"},
                                  "usage": {"prompt_tokens": 43, "completion_tokens": 10}}]))
    resp, raw = proxy.stream(MIN)
    events = parse_sse(raw)
    names = [e for e, _ in events]
    assert "error" not in names and names[-1] == "message_stop"
    delta = next(d for e, d in events if e == "message_delta")
    assert delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 10  # the usage the error chunk carried is kept


def test_token_limit_wording_is_not_a_context_overflow():
    assert context_overflow("Token limit reached") is None
    assert context_overflow("max_tokens exceeds the limit of 8192") is None
    assert context_overflow("Input tokens exceed the configured limit of 272000 tokens.").startswith(
        "prompt is too long")
    err = from_upstream(UpstreamError(400, json.dumps({"error": {"message": "Token limit reached"}}), {}, "x"))
    assert "prompt is too long" not in err.message


def test_unknown_model_is_final_and_named(proxy, upstream):
    upstream.script(Reply(status=400, body={"error": {"message": "fake/sonnet is not a valid model ID", "code": 400}}))
    resp = proxy.post("/v1/messages", MIN)
    body = resp.json()["error"]
    assert resp.status_code == 404 and body["type"] == "not_found_error"
    assert resp.headers["x-should-retry"] == "false"
    assert "fake/sonnet" in body["message"] and "orbridge models --search" in body["message"]


def test_litellm_missing_key_is_final_named_and_clean():
    class Missing(Exception):
        status_code = 500

    raw = ("litellm.APIConnectionError: Missing Gemini API key. Set the GEMINI_API_KEY or GOOGLE_API_KEY "
           "environment variable.\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
           "Give Feedback / Get Help: https://github.com/BerriAI/litellm/issues/new\n")
    err = _error(Missing(raw), "litellm", "gemini/gemini-2.5-pro")
    assert err.missing_credentials and "GEMINI_API_KEY" in err.body
    assert "Traceback" not in err.body and "github.com" not in err.body and "litellm.API" not in err.body
    mapped = from_upstream(err, "Set the provider's variable")
    assert mapped.status == 403 and mapped.headers["x-should-retry"] == "false"
    assert "GEMINI_API_KEY" in mapped.message


def test_litellm_connection_failure_counts_as_unreachable():
    class Down(Exception):
        status_code = 500

    err = _error(Down("litellm.InternalServerError: CohereException - Cannot connect to host 127.0.0.1:9"),
                 "litellm", "cohere/command-r")
    assert err.status == 0


def test_clean_message():
    assert clean_message("litellm.BadRequestError: OpenAIException - bad thing\nLiteLLM.Info: If you need to "
                         "debug this error, use `litellm._turn_on_debug()'.") == "bad thing"


def test_one_off_base_url_never_gets_a_stored_or_preset_key(home):
    """A key goes only to its preset's endpoint or where --key-name ties it (pass-through and custom alike)."""
    import sys

    child = ("import anthropic; c = anthropic.Anthropic(max_retries=0)\n"
             "try: c.messages.create(model='m', max_tokens=5, messages=[{'role':'user','content':'x'}])\n"
             "except anthropic.APIError as e: print(e)")
    assert home("keys", "set", "custom", input="sk-custom-stored-1234\n").returncode == 0
    assert home("keys", "set", "anthropic", input="sk-ant-stored-12345\n").returncode == 0
    home.fake.script(Reply(status=401, body={"type": "error", "error": {"type": "authentication_error",
                                                                         "message": "no key"}}, repeat=True))
    env = {"ANTHROPIC_API_KEY": "sk-ant-env-123456", "OPENROUTER_API_KEY": "sk-or-env-123456"}
    base = home.fake.base_url
    for args in (("--provider", "anthropic", "--base-url", base.replace("/api/v1", "")),
                 ("--base-url", base), ("--profile", "default", "--base-url", base)):
        r = home("run", *args, "--model", "m", "--", sys.executable, "-c", child, extra=env)
        sent = home.fake.received[-1].headers
        assert "x-api-key" not in sent and "authorization" not in sent, (args, sent)
        assert "No API key was sent" in r.stdout, r.stdout  # the fix says how to tie one
    r = home("run", "--provider", "anthropic", "--base-url", base.replace("/api/v1", ""), "--key-name", "anthropic",
             "--model", "m", "--", sys.executable, "-c", child, extra=env)
    assert home.fake.received[-1].headers["x-api-key"] == "sk-ant-env-123456"
    assert "$ANTHROPIC_API_KEY" in r.stdout  # the fix names the key that was sent


def test_profile_show_hides_url_userinfo(home):
    r = home("profile", "add", "gw", "--base-url", "https://bob:hunter22secret@gw.example/v1", "--model", "m")
    assert r.returncode == 0, r.stderr
    out = home("profile", "show", "gw").stdout
    assert "hunter22secret" not in out and "https://gw.example/v1" in out


def test_url_passwords_never_printed_by_models_or_doctor(home):
    url = home.fake.base_url.replace("http://", "http://alice:s3cretpw99@")
    home.fake.catalogue = None  # /models answers an error, which httpx words with the whole URL
    home.fake.script(Reply(status=401, body={"error": {"message": "no"}}, repeat=True))
    outputs = []
    for args in (("models", "--base-url", url), ("models", "--json", "--base-url", url),
                 ("doctor", "--base-url", url, "--model", "m"),
                 ("doctor", "--json", "--base-url", url, "--model", "m")):
        r = home(*args)
        outputs.append(r.stdout + r.stderr)
        assert "Traceback" not in outputs[-1]
    assert not [o for o in outputs if "s3cretpw99" in o], outputs
