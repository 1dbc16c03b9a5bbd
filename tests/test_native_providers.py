"""The native presets (gemini, vertex, bedrock, azure, cohere, mistral), each against a fake of its own wire
format (tests/wire_fakes): the profile resolved by the CLI's own code, the proxy under uvicorn, the official
`anthropic` SDK as client. Each LiteLLM defect fixed in proxy/upstreams/litellm_fixes.py has a test here."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import anthropic
import pytest

from orbridge.cli import config, resolve
from orbridge.proxy.upstreams import litellm_fixes

from . import claude_code_requests as cc
from .conftest import TOKEN
from .wire_fakes import Fail, Text, Thinking, ToolCall, Turn, start

MODELS = {"gemini": "gemini-2.5-flash", "vertex": "gemini-2.5-flash", "azure": None,
          "bedrock": "anthropic.claude-sonnet-4-20250514-v1:0", "cohere": "command-a-03-2025",
          "mistral": "mistral-large-latest"}
LITELLM = ("gemini", "vertex", "bedrock", "azure", "cohere", "mistral")
# Fields of Claude Code's request that only Anthropic's API knows: none may reach a provider.
ANTHROPIC_ONLY = ("context_management", "output_config", "cache_control", "anthropic", "DeferredToolPlaceholder",
                  "x-anthropic-billing-header", "defer_loading")
VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "AZURE_API_KEY", "AZURE_API_VERSION", "COHERE_API_KEY",
             "MISTRAL_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "AWS_REGION", "AWS_DEFAULT_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "VERTEXAI_PROJECT",
             "VERTEXAI_LOCATION", "AZURE_API_BASE")


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """One config/cache/state home for the module: LiteLLM's model table is read once, then cached."""
    root = tmp_path_factory.mktemp("native")
    return {"HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "cfg"), "XDG_CACHE_HOME": str(root / "cache"),
            "XDG_STATE_HOME": str(root / "state")}


def credential_env(provider: str, creds: dict) -> dict[str, str]:
    """The provider's usual variables, set to what its fake accepts."""
    if provider == "gemini":
        return {"GEMINI_API_KEY": creds["api_key"]}
    if provider == "azure":
        return {"AZURE_API_KEY": creds["api_key"], "AZURE_API_VERSION": creds["api_version"]}
    if provider == "cohere":
        return {"COHERE_API_KEY": creds["api_key"]}
    if provider == "mistral":
        return {"MISTRAL_API_KEY": creds["api_key"]}
    if provider == "bedrock":
        return {"AWS_ACCESS_KEY_ID": creds["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY":
                creds["aws_secret_access_key"], "AWS_REGION": creds["region"]}
    return {"GOOGLE_APPLICATION_CREDENTIALS": str(creds["service_account_file"]),
            "VERTEXAI_PROJECT": creds["project"], "VERTEXAI_LOCATION": creds["location"]}


class Native:
    """A fake provider, the proxy resolved for it through the CLI's presets, and an SDK client."""

    def __init__(self, provider, fake, proxy, model: str) -> None:
        self.provider, self.fake, self.proxy, self.model = provider, fake, proxy, model
        self.client = anthropic.Anthropic(base_url=proxy.url, api_key=TOKEN, max_retries=0, timeout=60)

    def bodies(self) -> list[dict]:
        """What each model call carried (the proxy's start-up reachability GET is not one)."""
        return [r.body for r in self.fake.requests if r.method == "POST" and isinstance(r.body, dict)]


@pytest.fixture
def native(proxy_factory, monkeypatch, dirs):
    fakes = []

    def make(provider: str, model: str | None = None, env: dict | None = None) -> Native:
        fake = start(provider)
        fakes.append(fake)
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in {**dirs, **credential_env(provider, fake.credentials), **(env or {})}.items():
            monkeypatch.setenv(name, value)
        model = model or MODELS[provider] or fake.credentials["deployment"]
        tied = provider if config.PRESETS[provider].env_var else None  # a --base-url gets a key only when tied
        r = resolve.resolve(resolve.Overrides(provider=provider, base_url=fake.url, model=model, key_name=tied))
        s = resolve.proxy_settings(r, TOKEN)
        proxy = proxy_factory(upstream=s.upstream, models=s.models, model_info=s.model_info, first_byte_grace=8.0,
                              extra_secrets=s.extra_secrets)
        return Native(provider, fake, proxy, s.models.default)

    yield make
    for fake in fakes:
        fake.stop()


def ask(n: Native, body: dict | None = None, stream: bool = True, **kw):
    body = body or {"model": "claude-sonnet-5", "max_tokens": 1024,
                    "messages": [{"role": "user", "content": "say hi"}]}
    body = {**body, **kw}
    # Claude Code's fields the SDK has no argument for travel as they do from Claude Code: in the body.
    extra = {k: body.pop(k) for k in list(body) if k in ("context_management", "output_config")}
    body.pop("stream", None)
    if not stream:
        return n.client.messages.create(**body, extra_body=extra)
    with n.client.messages.stream(**body, extra_body=extra) as s:
        return s.get_final_message()


def sent(n: Native) -> str:
    """Every request the fake received, as text: what leaked is searchable."""
    return json.dumps(n.bodies())


@pytest.mark.parametrize("provider", LITELLM)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_text_and_usage(native, provider, stream):
    n = native(provider)
    n.fake.script([Turn([Text("Hello from the fake")], usage=(21, 5), chunks=3)])
    msg = ask(n, stream=stream)
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "Hello from the fake"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (21, 5)  # the provider's count, not an estimate
    assert n.fake.violations == []


@pytest.mark.parametrize("provider", LITELLM)
def test_claude_code_tools_parallel_calls_and_the_tool_result_turn(native, provider):
    n = native(provider)
    # Claude on Bedrock with thinking on always thinks first, and must see that thinking again with the results.
    thought = [Thinking("look first", signature="c2ln")] if provider == "bedrock" else []
    n.fake.script([
        Turn([*thought, Text("I'll look."), ToolCall("Bash", {"command": "ls -la"}),
              ToolCall("Read", {"file_path": "/a.py"})], usage=(900, 40), chunks=4),
        Turn([Text("Two files.")], usage=(950, 4)),
    ])
    body = cc.turn1_v332("list the files")
    if provider == "azure":  # a deployment's name tells no catalogue its cap (see the learned-cap test)
        body["max_tokens"] = 16_000
    msg = ask(n, body)
    calls = [b for b in msg.content if b.type == "tool_use"]
    assert [(c.name, c.input) for c in calls] == [("Bash", {"command": "ls -la"}), ("Read", {"file_path": "/a.py"})]
    assert msg.stop_reason == "tool_use"
    assert len({c.id for c in calls}) == 2
    first = sent(n)
    for field in ANTHROPIC_ONLY:
        assert field not in first, field
    assert '"Bash"' in first and '"Read"' in first  # Claude Code's tool names, declared as they are

    history = [*body["messages"], {"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                                     for b in msg.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c.id, "content": f"out {i}"}
                                            for i, c in enumerate(calls)]}]
    msg2 = ask(n, {**body, "messages": history})
    assert msg2.content[-1].text == "Two files."
    second = json.dumps(n.bodies()[-1])
    assert "out 0" in second and "out 1" in second and "ls -la" in second
    assert n.fake.violations == []


@pytest.mark.parametrize("provider", ["gemini", "bedrock", "vertex"])
def test_thinking_is_requested_and_round_trips(native, provider):
    """LiteLLM profiles had no catalogue, so orbridge never asked a reasoning model to think; now the catalogue
    says the model reasons and Claude Code's adaptive thinking reaches the provider, and the signature the
    provider gave comes back to it on the next turn."""
    n = native(provider)
    n.fake.script([Turn([Thinking("let me see", signature="c2lnLW9uZQ=="), ToolCall("Bash", {"command": "ls"})]),
                   Turn([Text("done")])])
    body = cc.turn1_v332("list the files")
    msg = ask(n, body)
    thinking = [b for b in msg.content if b.type == "thinking"]
    assert thinking and thinking[0].thinking == "let me see" and thinking[0].signature
    first = n.bodies()[0]
    asked = json.dumps(first)
    assert ("thinkingConfig" in asked or "reasoning_config" in asked or "budget_tokens" in asked
            or "thinking" in asked), asked[:400]
    history = [*body["messages"], {"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                                     for b in msg.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": b.id, "content": "a.py"}
                                            for b in msg.content if b.type == "tool_use"]}]
    assert ask(n, {**body, "messages": history}).content[-1].text == "done"
    assert "c2lnLW9uZQ==" in json.dumps(n.bodies()[-1])  # the provider's own signature, back where it belongs
    assert n.fake.violations == []


@pytest.mark.parametrize("provider", ["gemini", "bedrock", "azure"])
def test_images_reach_the_provider(native, provider):
    n = native(provider)
    n.fake.script([Turn([Text("a red dot")])])
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
    msg = ask(n, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "text", "text": "what is this?"}]}])
    assert msg.content[0].text == "a red dot"
    assert png in sent(n)
    assert n.fake.violations == []


KEY_NAMED = {"gemini": "$GEMINI_API_KEY", "azure": "$AZURE_API_KEY", "cohere": "$COHERE_API_KEY",
             "bedrock": "$AWS_ACCESS_KEY_ID", "vertex": "$GOOGLE_APPLICATION_CREDENTIALS",
             "mistral": "$MISTRAL_API_KEY"}


@pytest.mark.parametrize("provider", LITELLM)
def test_a_rejected_key_is_a_final_403_naming_the_variable(native, provider):
    if provider == "bedrock":  # a wrong secret: the signature does not verify (Fail("auth") is model access)
        n = native(provider, env={"AWS_SECRET_ACCESS_KEY": "wrong" * 8})
    else:
        n = native(provider)
        n.fake.script([Fail("auth")])
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        ask(n)
    message = info.value.body["error"]["message"]
    assert KEY_NAMED[provider] in message, message
    assert "keys set litellm" not in message


@pytest.mark.parametrize("provider", LITELLM)
def test_rate_limit_keeps_the_retry_hint(native, provider):
    """Gemini's RetryInfo and Azure's retry-after were dropped by LiteLLM: Claude Code then retried blind."""
    n = native(provider)
    n.fake.script([Fail("rate_limit", retry_after=17)])
    with pytest.raises(anthropic.RateLimitError) as info:
        ask(n)
    hint = "17" if provider in ("gemini", "azure") else None  # the others' 429s carry no hint: none is made up
    assert info.value.response.headers.get("retry-after") == hint


@pytest.mark.parametrize("provider", LITELLM)
def test_server_error_and_context_too_long(native, provider):
    n = native(provider)
    n.fake.script([Fail("server"), Fail("context")])
    with pytest.raises(anthropic.APIStatusError) as info:
        ask(n)
    assert info.value.status_code >= 500 and info.value.body["type"] == "error"
    with pytest.raises(anthropic.BadRequestError) as info:
        ask(n)
    assert "prompt is too long" in info.value.body["error"]["message"]  # the words Claude Code compacts on


@pytest.mark.parametrize("provider", ["gemini", "bedrock", "cohere"])
def test_claude_codes_max_tokens_is_capped_from_the_catalogue(native, provider):
    """Claude Code asks for 128000 output tokens; Gemini refused that. The catalogue's max output caps it."""
    n = native(provider)
    n.fake.script([Turn([Text("ok")])])
    ask(n, max_tokens=128_000)
    assert n.fake.violations == []
    assert len(n.bodies()) == 1 and "128000" not in sent(n)


@pytest.mark.parametrize("provider", ["gemini", "bedrock", "azure"])
def test_an_unknown_models_output_cap_is_learned_from_the_providers_400(native, provider):
    """A model the catalogue does not know (an Azure deployment never is): the provider's own "too many output
    tokens" 400 teaches the cap (Gemini's "(exclusive)" bound and Bedrock's "exceeds the model limit of
    64000" were not understood), and the request is sent again."""
    model = {"gemini": "gemini-2.5-flash-exp-unlisted", "bedrock": "anthropic.claude-unlisted-v1:0",
             "azure": None}[provider]
    n = native(provider, model=model)
    n.fake.script([Turn([Text("ok")])])  # the fake itself refuses the 128000 asked for, as the provider does
    assert ask(n, max_tokens=128_000).content[0].text == "ok"
    assert len(n.bodies()) == 2 and len(n.fake.violations) == 1


def test_a_field_mistral_refuses_is_dropped_and_remembered(native):
    """Mistral's 422 names the refused field only in pydantic's `loc`: it is dropped for that model from then on."""
    n = native("mistral", model="mistral-small-latest")  # the catalogue says it reasons: reasoning_effort is sent
    n.fake.script([Turn([Text("one")]), Turn([Text("two")])])
    assert ask(n, cc.turn1_v332("hi")).content[-1].text == "one"
    assert ask(n, cc.turn1_v332("hi")).content[-1].text == "two"
    first, second, third = n.bodies()
    assert "reasoning_effort" in first and "reasoning_effort" not in second and "reasoning_effort" not in third
    assert n.fake.violations == ["body.reasoning_effort: Extra inputs are not permitted"]


def test_cohere_stream_parser_reads_sse_lines_and_the_usage():
    """LiteLLM 1.110.2 ran json.loads on `event: …` lines (every Cohere stream a 500) and read message-end's
    usage from a `data` key Cohere never sends."""
    import asyncio

    from orbridge.proxy.upstreams.litellm_provider import _load

    _load()
    from litellm.llms.cohere.chat.v2_transformation import CohereV2ChatConfig

    lines = ["event: message-start", 'data: {"type":"message-start","id":"x"}', "",
             "event: content-delta", 'data: {"type":"content-delta","index":0,"delta":{"message":{"content":'
             '{"text":"Hi"}}}}', "", "event: message-end",
             'data: {"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"billed_units":'
             '{"input_tokens":5,"output_tokens":2},"tokens":{"input_tokens":70,"output_tokens":2}}}}']

    async def feed():
        for line in lines:
            yield line

    async def collect(fixed: bool):
        litellm_fixes.ours.set(fixed)  # as orbridge's transport sets it for its own calls
        it = CohereV2ChatConfig().get_model_response_iterator(feed(), sync_stream=False)
        return [c async for c in it]

    with pytest.raises(RuntimeError, match="message-start"):  # LiteLLM's own parser, for everyone else
        asyncio.run(collect(False))
    chunks = asyncio.run(collect(True))
    assert "".join(c["text"] for c in chunks) == "Hi"
    end = chunks[-1]
    assert end["is_finished"] and end["finish_reason"] == "stop"
    assert (end["usage"]["prompt_tokens"], end["usage"]["completion_tokens"]) == (70, 2)


@pytest.mark.parametrize(("provider", "base", "expected"), [
    ("gemini", "http://h:1", {"api_base": "http://h:1/v1beta"}),
    ("gemini", "http://h:1/v1beta/", {"api_base": "http://h:1/v1beta"}),
    ("cohere", "http://h:1", {"api_base": "http://h:1/v2/chat"}),
    ("bedrock", "http://h:1", {"aws_bedrock_runtime_endpoint": "http://h:1", "aws_region_name": "eu-west-3"}),
    ("azure", "http://h:1", {"api_base": "http://h:1", "api_version": litellm_fixes.AZURE_API_VERSION}),
    ("vertex", "", {"vertex_project": "p1", "vertex_location": "eu-west-3", "vertex_credentials": "/sa.json"}),
])
def test_base_url_becomes_litellms_endpoint(provider, base, expected):
    env = {"AWS_REGION": "eu-west-3", "VERTEXAI_PROJECT": "p1", "GOOGLE_CLOUD_LOCATION": "eu-west-3",
           "GOOGLE_APPLICATION_CREDENTIALS": "/sa.json"}
    assert litellm_fixes.endpoint_kwargs(provider, base, env) == expected


BLOCK_GOOGLE = """
import sys, importlib.abc, asyncio
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "google" or name.startswith("google."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
sys.meta_path.insert(0, Block())
from orbridge.proxy.upstreams.litellm_provider import LiteLLMTransport
from orbridge.proxy.settings import Upstream
t = LiteLLMTransport(Upstream(base_url=sys.argv[1], provider="vertex", kind="litellm"))
async def main():
    try:
        await t.complete({"model": "vertex_ai/gemini-2.5-flash", "max_tokens": 10,
                          "messages": [{"role": "user", "content": "hi"}]})
    except Exception as e:
        print(e.status, e.body)
asyncio.run(main())
"""


def test_vertex_without_google_auth_says_which_extra_to_install(tmp_path):
    """google-auth is an extra (`orbridge[vertex]`): without it, one final error with the install command."""
    key = tmp_path / "sa.json"
    key.write_text('{"type": "service_account"}')
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(key), "VERTEXAI_PROJECT": "p",
           "XDG_CACHE_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", BLOCK_GOOGLE, "http://127.0.0.1:9"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.stdout.startswith("400 ") and "pipx install 'orbridge[vertex]'" in r.stdout, r.stdout + r.stderr


def doctor(home, provider: str, *args: str, extra: dict | None = None) -> dict:
    r = home("doctor", "--provider", provider, *args, "--json", extra={"ORBRIDGE_CLAUDE": sys.executable,
                                                                         **(extra or {})}, timeout=120)
    assert r.stdout, r.stderr
    return {c["name"]: c for c in json.loads(r.stdout)["checks"]}


def test_doctor_names_each_missing_credential(home, tmp_path):
    checks = doctor(home, "bedrock", "--model", "anthropic.claude-sonnet-4-20250514-v1:0")
    assert "$AWS_ACCESS_KEY_ID" in checks["credentials"]["detail"] and "AWS_PROFILE" in checks["credentials"]["fix"]
    assert checks["region"]["status"] == "warn" and "AWS_REGION=" in checks["region"]["fix"]
    assert "us-west-2" in checks["region"]["detail"]  # what LiteLLM falls back to
    assert "live round trip" not in checks  # nothing is sent without credentials

    checks = doctor(home, "vertex", "--model", "gemini-2.5-pro",
                    extra={"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")})
    assert checks["credentials"]["status"] == "fail"
    assert "$GOOGLE_APPLICATION_CREDENTIALS: cannot read" in checks["credentials"]["detail"]
    checks = doctor(home, "vertex", "--model", "gemini-2.5-pro")
    assert "gcloud auth application-default login" in checks["credentials"]["fix"]

    checks = doctor(home, "azure", "--model", "gpt-4o-prod", extra={"AZURE_API_KEY": "az-key-123456789"})
    assert checks["endpoint"]["status"] == "fail" and "AZURE_API_BASE" in checks["endpoint"]["fix"]

    for provider, var in (("gemini", "GEMINI_API_KEY"), ("cohere", "COHERE_API_KEY")):
        checks = doctor(home, provider, "--model", "m")
        assert checks["api key"]["status"] == "fail" and var in checks["api key"]["fix"]


def test_doctor_round_trip_through_a_native_fake(home):
    with start("gemini") as fake:
        fake.script([Turn([Text("ok")])])
        checks = doctor(home, "gemini", "--base-url", fake.url, "--key-name", "gemini", "--model",
                        "gemini-2.5-flash", extra={"GEMINI_API_KEY": fake.credentials["api_key"]})
        assert checks["api key"]["status"] == "ok"
        assert checks["live round trip"]["status"] == "ok", checks["live round trip"]
        assert fake.violations == []


def test_mistral_gets_nine_character_tool_ids_for_another_models_calls(native):
    """A conversation begun on another model carries `toolu_…` ids; Mistral takes only 9 letters and digits."""
    n = native("mistral")
    n.fake.script([Turn([Text("ok")])])
    history = [{"role": "user", "content": "list"},
               {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01AbCdEf", "name": "Bash",
                                                  "input": {"command": "ls"}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01AbCdEf",
                                             "content": "a.py"}]}]
    assert ask(n, messages=history).content[0].text == "ok"
    messages = n.bodies()[-1]["messages"]
    call_id = messages[1]["tool_calls"][0]["id"]
    assert len(call_id) == 9 and call_id.isalnum() and messages[2]["tool_call_id"] == call_id
    assert n.fake.violations == []


def test_keys_for_native_presets(home, monkeypatch):
    """A stored Gemini key goes to Gemini's own API (never to a --base-url); Vertex and Bedrock take none."""
    r = home("keys", "set", "gemini", input="gm-stored-key-123456\n")
    assert r.returncode == 0, r.stderr
    for name, value in home.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    own = resolve.resolve(resolve.Overrides(provider="gemini", model="gemini-2.5-pro"))
    assert (own.api_key, own.profile.model) == ("gm-stored-key-123456", "gemini/gemini-2.5-pro")
    elsewhere = resolve.resolve(resolve.Overrides(provider="gemini", base_url="http://127.0.0.1:9", model="m"))
    assert elsewhere.api_key is None and "$GEMINI_API_KEY" in elsewhere.key_fix
    r = home("keys", "set", "bedrock", input="whatever\n")
    assert r.returncode == 2 and "doctor --provider bedrock" in r.stderr and "stored" not in r.stdout
    assert max(len(line) for line in r.stderr.splitlines()) <= 80


def test_a_cohere_stream_ending_in_error_is_not_a_finished_turn():
    """Cohere's finish_reason ERROR or TIMEOUT: the answer did not finish, so it must not end as end_turn."""
    import asyncio

    from orbridge.proxy.upstreams.litellm_provider import _load

    _load()
    from litellm.llms.cohere.chat.v2_transformation import CohereV2ChatConfig

    for reason in ("ERROR", "TIMEOUT"):
        end = json.dumps({"type": "message-end", "delta": {"finish_reason": reason}})
        lines = ['data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hal"}}}}',
                 f"data: {end}"]

        async def feed(lines=lines):
            for line in lines:
                yield line

        async def collect(feed=feed):
            litellm_fixes.ours.set(True)
            it = CohereV2ChatConfig().get_model_response_iterator(feed(), sync_stream=False)
            return [c async for c in it]

        with pytest.raises(Exception, match=f"finish_reason {reason}"):
            asyncio.run(collect())


@pytest.mark.parametrize("provider", ["gemini", "bedrock"])
def test_a_model_of_another_provider_is_refused_before_anything_is_sent(native, provider):
    """`/model openai/gpt-4o` in a Gemini session must not send the Gemini key (or AWS credentials) to OpenAI:
    the profile calls its own provider only. A bare id gets the provider's prefix."""
    n = native(provider)
    with pytest.raises(anthropic.NotFoundError) as exc:
        n.client.messages.create(model="openai/gpt-4o", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert exc.value.response.headers["x-should-retry"] == "false"
    assert f"is not a {provider} model" in exc.value.body["error"]["message"]
    assert n.bodies() == []


def test_a_base_url_gets_the_providers_key_only_when_tied(proxy_factory, monkeypatch, dirs):
    """LiteLLM would read $GEMINI_API_KEY by itself and send it to any --base-url: without --key-name nothing
    is sent, and the error says how to tie the key."""
    with start("gemini") as fake:
        for name, value in {**dirs, "GEMINI_API_KEY": fake.credentials["api_key"]}.items():
            monkeypatch.setenv(name, value)
        r = resolve.resolve(resolve.Overrides(provider="gemini", base_url=fake.url, model="gemini-2.5-flash"))
        s = resolve.proxy_settings(r, TOKEN)
        proxy = proxy_factory(upstream=s.upstream, models=s.models, model_info=s.model_info)
        client = anthropic.Anthropic(base_url=proxy.url, api_key=TOKEN, max_retries=0)
        with pytest.raises(anthropic.PermissionDeniedError) as exc:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=20,
                                   messages=[{"role": "user", "content": "hi"}])
        assert "--key-name gemini" in exc.value.body["error"]["message"]
        assert [q for q in fake.requests if q.method == "POST"] == []
        assert fake.credentials["api_key"] not in json.dumps([q.headers for q in fake.requests])


def test_vertex_without_any_credentials_is_a_final_error_naming_the_fix():
    from orbridge.proxy.upstreams.litellm_provider import _error

    err = _error(Exception("Your default credentials were not found. To set up Application Default "
                           "Credentials, see https://cloud.google.com/docs/authentication"), "vertex", "m")
    assert err.missing_credentials
