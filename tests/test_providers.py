"""Routing rules, fallbacks, web search, provider quirks, cost, `orbridge usage`, presets through the CLI."""

from __future__ import annotations

import json
import sys
import time

import pytest

from orbridge.proxy.anthropic_openai.request import Target, translate_request
from orbridge.proxy.anthropic_openai.tools import gemini_schema
from orbridge.proxy.routing import choose_model
from orbridge.proxy.settings import ModelInfo, ModelMap, Routes, Settings, Upstream

from . import claude_code_requests as cc
from .conftest import add_profile
from .fake_upstream import Reply, chunk, completion, text_stream

MIN = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
PNG = "iVBORw0KGgo="


def settings(rules, **kw) -> Settings:
    return Settings(token="t", upstream=Upstream(base_url="http://x/v1"),
                    models=ModelMap(default="d/default", haiku="h/haiku"),
                    routes=Routes(rules=tuple(rules), **kw),
                    model_info={"d/default": ModelInfo(vision=False)})


@pytest.mark.parametrize("body,expected", [
    ({**MIN, "model": "claude-haiku-4-5-20251001"}, ("r/background", "background")),
    ({**MIN, "thinking": {"type": "enabled", "budget_tokens": 10000}}, ("r/think", "think")),
    ({**MIN, "thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, ("r/think", "think")),
    ({**MIN, "thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}, ("d/default", "default")),
    ({**MIN, "messages": [{"role": "user", "content": "long " * 3000}]}, ("r/long", "long_context")),
    ({**MIN, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, ("r/web", "web_search")),
    ({**MIN, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]},
     ("r/vision", "image")),
    (MIN, ("d/default", "default")),
])
def test_routing_rules(body, expected):
    rules = [("background", "r/background"), ("think", "r/think"), ("long_context", "r/long"),
             ("web_search", "r/web"), ("image", "r/vision")]
    assert choose_model(body, settings(rules, long_context_threshold=2000)) == expected


def test_first_matching_rule_wins_in_profile_order():
    body = {**MIN, "model": "claude-haiku-4-5", "thinking": {"type": "enabled", "budget_tokens": 5000}}
    assert choose_model(body, settings([("think", "a/think"), ("background", "a/bg")]))[0] == "a/think"
    assert choose_model(body, settings([("background", "a/bg"), ("think", "a/think")]))[0] == "a/bg"


@pytest.mark.parametrize("stream", [True, False])
def test_fallbacks_before_the_first_byte_and_logged(proxy_factory, upstream, tmp_path, stream):
    p = proxy_factory(models=ModelMap(default="m/primary"), model_info={},
                      routes=Routes(fallbacks=("m/second", "m/third")))
    upstream.script(Reply(status=429, body={"error": {"message": "rate limited"}}),
                    Reply(status=503, body={"error": {"message": "down"}}),
                    Reply(items=text_stream("third time lucky")) if stream else Reply(body=completion("third")))
    resp = p.stream(MIN)[0] if stream else p.post("/v1/messages", MIN)
    assert resp.status_code == 200
    assert [r.body["model"] for r in upstream.chat_requests()] == ["m/primary", "m/second", "m/third"]
    time.sleep(0.05)
    rec = json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[-1])
    assert rec["upstream_model"] == "m/third" and rec["fallbacks"] == ["m/primary: 429", "m/second: 503"]


def test_no_fallback_on_a_final_error(proxy_factory, upstream):
    p = proxy_factory(models=ModelMap(default="m/primary"), model_info={}, routes=Routes(fallbacks=("m/second",)))
    upstream.script(Reply(status=400, body={"error": {"message": "bad request"}}))
    assert p.post("/v1/messages", MIN).status_code == 400
    assert len(upstream.chat_requests()) == 1


def test_route_in_log(proxy_factory, upstream, tmp_path):
    p = proxy_factory(routes=Routes(rules=(("background", "m/cheap"),)))
    upstream.script(Reply(body=completion("ok")))
    p.post("/v1/messages", {**MIN, "model": "claude-haiku-4-5"})
    time.sleep(0.05)
    rec = json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[-1])
    assert (rec["route"], rec["upstream_model"]) == ("background", "m/cheap")


def test_web_search_on_openrouter_uses_the_web_plugin_and_cites_sources(proxy, upstream):
    body = {**MIN, "tools": [cc.BASH, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
            "tool_choice": {"type": "tool", "name": "web_search"}}
    notes = [{"type": "url_citation", "url_citation": {"url": "https://example.org/a", "title": "Example A"}}]
    upstream.script(Reply(items=[chunk({"content": "The answer is 42."}), chunk({"annotations": notes}),
                                 chunk({}, "stop")]))
    resp, raw = proxy.stream(body)
    assert resp.status_code == 200
    sent = upstream.chat_requests()[0].body
    assert sent["plugins"] == [{"id": "web", "max_results": 3}]
    assert [t["function"]["name"] for t in sent["tools"]] == ["Bash"] and "tool_choice" not in sent
    from .sse_validator import check

    text = check(raw)["blocks"][0]["text"]
    assert text.startswith("The answer is 42.") and "Sources:\n- Example A: https://example.org/a" in text


def test_web_search_elsewhere_is_dropped_not_a_400():
    body = {**MIN, "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "any"}}
    out = translate_request(body, Target.for_model("llama3", openrouter=False), True).body
    assert "tools" not in out and "tool_choice" not in out and "plugins" not in out


def test_gemini_schema_sanitiser_on_the_claude_code_tool_list():
    tools = cc.OLD_TOOLS + cc.NEW_TOOLS + [{"name": "Weird", "input_schema": {
        "$schema": cc.SCHEMA, "type": "object", "additionalProperties": False,
        "propertyNames": {"pattern": "^[a-z]+$"},
        "properties": {"n": {"type": "integer", "exclusiveMinimum": 0},
                       "mode": {"const": "fast"},
                       "maybe": {"type": ["string", "null"], "format": "uri"},
                       "when": {"type": "string", "format": "date-time"},
                       "list": {"type": "array", "items": {"type": "object", "additionalProperties": True,
                                                           "properties": {"x": {"oneOf": [{"type": "string"},
                                                                                          {"type": "number"}]}}}}},
        "required": ["n", "ghost"], "input_examples": [{"n": 1}]}}]
    body = {**MIN, "tools": tools}
    out = translate_request(body, Target.for_model("google/gemini-2.5-pro", openrouter=True), True).body
    allowed = {"type", "format", "description", "nullable", "enum", "properties", "required", "items",
               "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern", "anyOf",
               "minProperties", "maxProperties", "title", "default", "propertyOrdering"}

    def walk(schema, path="") -> None:
        assert set(schema) <= allowed, (path, set(schema) - allowed)
        for k, v in (schema.get("properties") or {}).items():
            walk(v, f"{path}.{k}")
        if "items" in schema:
            walk(schema["items"], path + "[]")
        for i, v in enumerate(schema.get("anyOf") or []):
            walk(v, f"{path}|{i}")

    for tool in out["tools"]:
        walk(tool["function"]["parameters"], tool["function"]["name"])
    weird = next(t for t in out["tools"] if t["function"]["name"] == "Weird")["function"]["parameters"]
    assert weird["required"] == ["n"] and weird["properties"]["n"]["minimum"] == 0
    assert weird["properties"]["mode"]["enum"] == ["fast"]
    assert weird["properties"]["maybe"] == {"type": "string", "nullable": True}
    assert weird["properties"]["when"]["format"] == "date-time"
    other = translate_request(body, Target.for_model("qwen/qwen3-coder", openrouter=True), True).body
    assert next(t for t in other["tools"] if t["function"]["name"] == "Weird")["function"]["parameters"][
        "additionalProperties"] is False  # other models keep the schema as written
    assert gemini_schema("nonsense") == {}


def test_cost_from_catalogue_prices_when_the_upstream_reports_none(proxy_factory, upstream, tmp_path):
    p = proxy_factory(model_info={"fake/sonnet": ModelInfo(price_in=2.0, price_out=10.0)})
    upstream.script(Reply(body=completion("ok", usage={"prompt_tokens": 1000, "completion_tokens": 100})))
    p.post("/v1/messages", MIN)
    time.sleep(0.05)
    rec = json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[-1])
    assert rec["cost"] == pytest.approx(0.003) and rec["cost_source"] == "catalogue"


def test_usage_command_on_a_written_log(home):
    logdir = home.root / "state" / "orbridge" / "log"
    logdir.mkdir(parents=True)
    now = time.time()
    recs = [
        {"time": now - 60, "profile": "a", "upstream_model": "x/one", "status": 200, "input_tokens": 100,
         "output_tokens": 10, "cache_read_input_tokens": 50, "cost": 0.01},
        {"time": now - 120, "profile": "b", "upstream_model": "x/two", "status": 200, "input_tokens": 5,
         "output_tokens": 1, "cost": 0.002},
        {"time": now - 180, "profile": "a", "upstream_model": "x/one", "status": 429, "error_type": "rate_limit_error"},
        {"time": now - 10 * 86400, "profile": "a", "upstream_model": "x/old", "status": 200, "input_tokens": 9},
    ]
    (logdir / "requests.jsonl.1").write_text(json.dumps(recs[3]) + "\n")
    (logdir / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[:3]))
    r = home("usage", "--json")
    rows = {row["model"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {"x/one", "x/two"}
    assert rows["x/one"]["requests"] == 2 and rows["x/one"]["errors"] == 1
    assert rows["x/one"]["input_tokens"] == 100 and rows["x/one"]["cost"] == pytest.approx(0.01)
    by_profile = json.loads(home("usage", "--by", "profile", "--since", "30d", "--json").stdout)
    assert {row["profile"]: row["requests"] for row in by_profile} == {"a": 3, "b": 1}
    table = home("usage", "--by", "day").stdout
    assert "total" in table and "0.0120" in table
    assert home("usage", "--since", "yesterday").returncode == 2


CHILD = ("import anthropic; c = anthropic.Anthropic(max_retries=0)\n"
         "print(c.messages.create(model='claude-sonnet-5', max_tokens=20, "
         "messages=[{'role':'user','content':'hi'}]).content[0].text)")


def test_cli_litellm_provider_with_base_url(home):
    args = ("run", "--provider", "litellm", "--model", "openai/fake/lite", "--base-url", home.fake.base_url, "--",
            sys.executable, "-c", CHILD)
    r = home(*args)  # no key anywhere: a final error that says so, not a 500 retried ten times
    assert r.returncode == 1 and "PermissionDeniedError" in r.stderr and "OPENAI_API_KEY" in r.stderr
    assert home.fake.chat_requests() == []
    home.fake.script(Reply(body=completion("via litellm")))
    r = home(*args, extra={"OPENAI_API_KEY": "sk-openai-test-1234"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "via litellm"
    assert home.fake.chat_requests()[0].body["model"] == "fake/lite"


def test_cli_anthropic_passthrough_provider(home):
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
               "content": [{"type": "text", "text": "via pass-through"}], "stop_reason": "end_turn",
               "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 2}}
    home.fake.script(Reply(body=message))
    r = home("run", "--provider", "anthropic", "--model", "claude-real-model",
             "--base-url", home.fake.base_url.replace("/api/v1", ""), "--key-name", "anthropic", "--", sys.executable,
             "-c", CHILD,
             extra={"ANTHROPIC_API_KEY": "sk-ant-canary-123456"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "via pass-through"
    sent = home.fake.received[-1]
    assert sent.path == "/v1/messages" and sent.body["model"] == "claude-real-model"
    assert sent.headers["x-api-key"] == "sk-ant-canary-123456"


def test_profile_with_routes_and_fallbacks_round_trips(home):
    add_profile(home)
    cfg = home.config_dir / "config.toml"
    text = cfg.read_text().replace('[profiles.t]\n', '[profiles.t]\nfallbacks = ["f/one", "f/two"]\n')
    text += '\n[profiles.t.routes]\nbackground = "r/cheap"\nlong_context_threshold = 1000\n'
    cfg.write_text(text)
    assert home("profile", "edit", "t", "--haiku", "fake/h2").returncode == 0
    saved = cfg.read_text()
    assert 'fallbacks = ["f/one", "f/two"]' in saved and 'background = "r/cheap"' in saved
    cfg.write_text(saved + '\n[profiles.bad]\nmodel = "x"\n[profiles.bad.routes]\nsometimes = "y"\n')
    r = home("profile", "list")
    assert r.returncode == 2 and "unknown rules: sometimes" in r.stderr


@pytest.mark.parametrize("message,cap", [
    ("max_tokens is too large: 128000. This model supports at most 16384 completion tokens, whereas you "
     "provided 128000.", 16384),
    ("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]", 8192),
    ("This model's maximum context length is 32768 tokens. However, you requested 128020 tokens (20 in the "
     "messages, 128000 in the completion). Please reduce the length of the messages or completion.", 32732),
])
def test_output_cap_learned_from_the_upstream_error(proxy_factory, upstream, message, cap):
    p = proxy_factory(models=ModelMap(default="m/small"), model_info={})
    body = {**MIN, "max_tokens": 128000}
    upstream.script(Reply(status=400, body={"error": {"message": message}}), Reply(body=completion("first")),
                    Reply(body=completion("second")))
    assert p.post("/v1/messages", body).json()["content"][0]["text"] == "first"
    assert p.post("/v1/messages", body).json()["content"][0]["text"] == "second"
    assert [r.body["max_tokens"] for r in upstream.chat_requests()] == [128000, cap, cap]


def test_a_real_bad_request_is_not_retried(proxy_factory, upstream):
    p = proxy_factory(models=ModelMap(default="m/small"), model_info={})
    upstream.script(Reply(status=400, body={"error": {"message": "messages: invalid role at index 3"}}))
    assert p.post("/v1/messages", {**MIN, "max_tokens": 128000}).status_code == 400
    assert len(upstream.chat_requests()) == 1


@pytest.mark.parametrize("message,dropped", [
    ("Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
     "response_format"),
    ("Unrecognized request argument supplied: top_k", "top_k"),
    ("'reasoning_effort' : property 'reasoning_effort' is unsupported, did you mean 'reasoning'?",
     "reasoning_effort"),
    ("Extra inputs are not permitted: body.user", "user"),
])
def test_an_optional_parameter_the_endpoint_rejects_is_dropped_and_remembered(proxy_factory, upstream, message,
                                                                             dropped):
    provider = "openrouter" if dropped == "top_k" else "custom"
    p = proxy_factory(upstream=Upstream(base_url=upstream.base_url, provider=provider), model_info={},
                      models=ModelMap(default="m/strict"))
    body = {**cc.title_call(), "model": "claude-sonnet-5", "top_k": 5, "stream": False,
            "thinking": {"type": "enabled", "budget_tokens": 2048}, "metadata": {"user_id": "u-1"}}
    upstream.script(Reply(status=400, body={"error": {"message": message}}), Reply(body=completion("{}")),
                    Reply(body=completion("{}")))
    assert p.post("/v1/messages", body).status_code == 200
    assert p.post("/v1/messages", body).status_code == 200
    sent = [r.body for r in upstream.chat_requests()]
    assert dropped in sent[0] and dropped not in sent[1] and dropped not in sent[2]
    assert len(sent) == 3


OPENAI_KIND = ["openrouter", "openai", "deepseek", "groq", "together", "mistral", "ollama", "lmstudio", "vllm"]
ANTHROPIC_KIND = ["anthropic", "openrouter-anthropic", "deepseek-anthropic", "moonshot", "minimax"]


@pytest.mark.parametrize("preset", OPENAI_KIND + ANTHROPIC_KIND)
def test_every_preset_works_through_the_fake_servers(home, preset):
    from orbridge.cli.config import PRESETS

    p = PRESETS[preset]
    extra = {p.env_var: f"sk-{preset}-key-123456"} if p.env_var else {}
    if p.kind == "anthropic":
        home.fake.script(Reply(body={"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                                     "content": [{"type": "text", "text": f"hi from {preset}"}],
                                     "stop_reason": "end_turn", "stop_sequence": None,
                                     "usage": {"input_tokens": 1, "output_tokens": 1}}))
        base = home.fake.base_url.replace("/api/v1", "")
    else:
        home.fake.script(Reply(body=completion(f"hi from {preset}")))
        base = home.fake.base_url
    tie = ("--key-name", p.key or preset) if p.env_var else ()  # a one-off URL gets a key only when tied
    r = home("run", "--provider", preset, "--base-url", base, "--model", "vendor/model", *tie, "--",
             sys.executable, "-c", CHILD, extra=extra)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"hi from {preset}"
    sent = home.fake.received[-1]
    assert sent.body["model"] == "vendor/model"
    if p.env_var:
        header = sent.headers["x-api-key"] if p.kind == "anthropic" else sent.headers["authorization"][7:]
        assert header == f"sk-{preset}-key-123456"
    else:
        assert "authorization" not in sent.headers
    assert sent.path.endswith("/v1/messages" if p.kind == "anthropic" else "/chat/completions")


@pytest.mark.parametrize("message", [
    "System message must be at the beginning.",
    "Conversation roles must alternate user/assistant/user/assistant/...",
])
def test_template_that_wants_one_leading_system_message(proxy_factory, upstream, message):
    p = proxy_factory(upstream=Upstream(base_url=upstream.base_url, provider="vllm"), model_info={},
                      models=ModelMap(default="qwen3"))
    body = {**cc.turn1_v332(), "stream": False}
    upstream.script(Reply(status=400, body={"error": {"message": message}}), Reply(body=completion("ok")),
                    Reply(body=completion("ok")))
    assert p.post("/v1/messages", body).status_code == 200
    assert p.post("/v1/messages", body).status_code == 200
    first, second, third = (r.body["messages"] for r in upstream.chat_requests())
    assert [m["role"] for m in first] == ["system", "user", "system"]
    for msgs in (second, third):
        assert [m["role"] for m in msgs] == ["system", "user"]
        assert "Claude Agent SDK" in msgs[0]["content"] and "NotebookEdit" in msgs[0]["content"]
