"""Anthropic request -> OpenAI request, on Claude Code-shaped bodies (pure functions, no server)."""

from __future__ import annotations

import json

from orbridge.proxy.anthropic_openai import reasoning
from orbridge.proxy.anthropic_openai.request import Target, translate_request
from orbridge.proxy.anthropic_openai.tools import alias
from orbridge.proxy.settings import ModelInfo

from . import claude_code_requests as cc

OR_CLAUDE = Target.for_model("anthropic/claude-sonnet-4.5", openrouter=True)
OR_OTHER = Target.for_model("qwen/qwen3-coder", openrouter=True)
PLAIN = Target.for_model("llama3", openrouter=False)


def tr(body: dict, target: Target = OR_OTHER, stream: bool = True) -> dict:
    return translate_request(body, target, stream).body


def test_v197_turn1_shape():
    out = tr(cc.turn1_v197())
    msgs = out["messages"]
    assert msgs[0]["role"] == "system"
    assert "x-anthropic-billing-header" not in json.dumps(msgs)  # dropped: it breaks prefix caching
    assert "Claude Agent SDK" in msgs[0]["content"]
    assert [m["role"] for m in msgs] == ["system", "user", "system"]
    assert msgs[2]["content"].startswith("Available agent types")
    assert len(out["tools"]) == 24
    for key in ("context_management", "output_config", "thinking", "metadata", "system"):
        assert key not in out
    assert out["user"].startswith('{"device_id"')
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert out["usage"] == {"include": True}
    assert out["reasoning"] == {"effort": "high"}
    assert out["max_tokens"] == 64000


def test_v332_block_list_system_message_and_tool_search():
    out = tr(cc.turn1_v332())
    assert [m["role"] for m in out["messages"]] == ["system", "user", "system"]
    assert "NotebookEdit" in out["messages"][2]["content"]
    names = [t["function"]["name"] for t in out["tools"]]
    assert "DeferredToolPlaceholder" not in names
    assert "ToolSearch" in names and "WebFetch" not in names
    assert out["reasoning"] == {"effort": "medium"}
    assert all("$schema" not in t["function"]["parameters"] for t in out["tools"])
    assert all("defer_loading" not in json.dumps(t) for t in out["tools"])


def test_tool_reference_declares_deferred_tool_and_becomes_text():
    out = tr(cc.tool_search_turn2())
    names = [t["function"]["name"] for t in out["tools"]]
    assert "WebFetch" in names and "DeferredToolPlaceholder" not in names
    msgs = out["messages"]
    assistant = msgs[-3]
    assert assistant["tool_calls"][0]["function"] == {"name": "ToolSearch",
                                                      "arguments": '{"query": "select:WebFetch"}'}
    tool = msgs[-2]
    assert tool == {"role": "tool", "tool_call_id": "toolu_ts", "content": "Tool WebFetch is now available."}
    assert msgs[-1] == {"role": "user", "content": "Tool loaded."}


def test_tool_results_follow_assistant_in_order_before_user_content():
    body = cc.turn1_v197()
    body["messages"] += [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a"}},
            {"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": "b"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "also this"},
            {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "B"}]},
            {"type": "tool_result", "tool_use_id": "t1", "content": "A", "is_error": True}]},
    ]
    msgs = tr(body)["messages"]
    assert msgs[-4]["role"] == "assistant" and msgs[-4]["content"] is None
    assert [c["id"] for c in msgs[-4]["tool_calls"]] == ["t1", "t2"]
    assert msgs[-3] == {"role": "tool", "tool_call_id": "t2", "content": "B"}
    assert msgs[-2] == {"role": "tool", "tool_call_id": "t1", "content": "Error: A"}
    assert msgs[-1] == {"role": "user", "content": "also this"}


def test_images_in_user_and_tool_result():
    png = "iVBORw0KGgo="
    body = {"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}},
            {"type": "text", "text": "what?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "r1", "name": "Read",
                                           "input": {"file_path": "s.png"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "r1", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}]}]},
    ]}
    msgs = tr(body)["messages"]
    assert msgs[0]["content"][0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}
    assert msgs[0]["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}}
    assert msgs[2]["role"] == "tool" and "image" in msgs[2]["content"]
    assert msgs[3]["role"] == "user" and msgs[3]["content"][0]["type"] == "image_url"


def test_long_and_odd_tool_names_get_stable_distinct_aliases():
    long_a = "mcp__my-very-long-server-name__" + "a" * 60 + "_one"
    long_b = "mcp__my-very-long-server-name__" + "a" * 60 + "_two"
    odd = "mcp__srv__tool.with.dots"
    for name in (long_a, long_b, odd):
        short = alias(name)
        assert len(short) <= 64 and short.replace("_", "").replace("-", "").isalnum()
        assert alias(name) == short
    assert alias(long_a) != alias(long_b)
    assert alias("Bash") == "Bash"
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": long_a, "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": long_a}}
    t = translate_request(body, OR_OTHER, True)
    assert t.body["tools"][0]["function"]["name"] == alias(long_a)
    assert t.body["tool_choice"] == {"type": "function", "function": {"name": alias(long_a)}}
    assert t.tool_names.inbound(alias(long_a)) == long_a


def test_tool_choice_variants_and_parallel():
    base = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "tools": [cc.BASH]}
    assert tr({**base, "tool_choice": {"type": "auto"}})["tool_choice"] == "auto"
    assert tr({**base, "tool_choice": {"type": "any"}})["tool_choice"] == "required"
    assert tr({**base, "tool_choice": {"type": "none"}})["tool_choice"] == "none"
    out = tr({**base, "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}})
    assert out["parallel_tool_calls"] is False


def test_server_tools_dropped():
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "tools": [cc.BASH, {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
            "tool_choice": {"type": "tool", "name": "web_search"}}
    out = tr(body)
    assert [t["function"]["name"] for t in out["tools"]] == ["Bash"]
    assert "tool_choice" not in out


def test_max_tokens_clamped_to_model_output_cap():
    target = Target.for_model("x/y", True, ModelInfo(max_output=16384))
    assert tr(cc.turn1_v332(), target)["max_tokens"] == 16384
    assert tr(cc.turn1_v332(), OR_OTHER)["max_tokens"] == 128000


def test_openai_reasoning_models_use_max_completion_tokens():
    target = Target.for_model("o4-mini", openrouter=False)
    out = tr({"model": "m", "max_tokens": 500, "messages": [{"role": "user", "content": "x"}]}, target)
    assert out["max_completion_tokens"] == 500 and "max_tokens" not in out


def test_thinking_budget_and_disabled():
    body = {"model": "claude-haiku-4-5", "max_tokens": 32000, "messages": [{"role": "user", "content": "x"}],
            "thinking": {"type": "enabled", "budget_tokens": 31999}}
    assert tr(body)["reasoning"] == {"max_tokens": 31999}
    assert tr(body, PLAIN)["reasoning_effort"] == "high"
    title = tr(cc.title_call())
    assert "reasoning" not in title and "reasoning_effort" not in title
    assert title["response_format"]["type"] == "json_schema"
    assert title["response_format"]["json_schema"]["schema"]["required"] == ["title"]


def test_adaptive_thinking_on_plain_endpoint_only_for_known_reasoners():
    assert "reasoning_effort" not in tr(cc.turn1_v332(), PLAIN)
    reasoner = Target.for_model("deepseek-reasoner", False, ModelInfo(reasoning=True))
    assert tr(cc.turn1_v332(), reasoner)["reasoning_effort"] == "medium"


def test_cache_control_kept_only_for_models_that_use_it():
    kept = tr(cc.turn1_v197(), OR_CLAUDE)
    assert kept["messages"][0]["content"][1]["cache_control"] == {"type": "ephemeral"}
    assert kept["messages"][1]["content"][1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(tr(cc.turn1_v197(), OR_OTHER))
    assert "cache_control" not in json.dumps(tr(cc.turn1_v197(), PLAIN))


def test_sampling_stop_sequences():
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "temperature": 0.2, "top_p": 0.9, "top_k": 5, "stop_sequences": ["a", "b", "c", "d", "e"]}
    out = tr(body)
    assert (out["temperature"], out["top_p"], out["top_k"]) == (0.2, 0.9, 5)
    assert out["stop"] == ["a", "b", "c", "d"]
    assert "top_k" not in tr(body, PLAIN)
    assert "usage" not in tr(body, PLAIN)


def test_thinking_history_round_trip():
    sig = reasoning.make_signature("reasoning", "or-sig-1", "anthropic-claude-v1", [])
    body = cc.bash_turn2(cc.turn1_v197(), thinking_signature=sig)
    out = tr(body)
    assistant = next(m for m in out["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == [{"type": "reasoning.text", "text": "Let me run it.",
                                               "signature": "or-sig-1", "format": "anthropic-claude-v1"}]
    assert assistant["content"] == "I'll run that."
    ds = reasoning.make_signature("reasoning_content", None, None, [])
    plain = tr(cc.bash_turn2(cc.turn1_v197(), thinking_signature=ds), PLAIN)
    assert next(m for m in plain["messages"] if m["role"] == "assistant")["reasoning_content"] == \
        "Let me run it."
    # A gateway reached by base_url that relays OpenRouter: its signed reasoning_details go back as they came.
    signed = reasoning.make_signature("reasoning_details", "gw-sig-2", "openai-responses-v1",
                                      [{"type": "reasoning.encrypted", "data": "ENC=="}])
    gw = tr(cc.bash_turn2(cc.turn1_v197(), thinking_signature=signed), PLAIN)
    assistant = next(m for m in gw["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Let me run it.", "signature": "gw-sig-2", "format": "openai-responses-v1"},
        {"type": "reasoning.encrypted", "data": "ENC=="}]
    assert "reasoning_content" not in assistant
    # Plain `reasoning` text from a non-OpenRouter endpoint goes back in `reasoning`.
    plain_reasoning = tr(cc.bash_turn2(cc.turn1_v197(), thinking_signature=reasoning.make_signature(
        "reasoning", None, None, [])), PLAIN)
    assert next(m for m in plain_reasoning["messages"] if m["role"] == "assistant")["reasoning"] == "Let me run it."
    # A thinking block we did not mint (an Anthropic signature, or none) is not sent to another provider.
    foreign = tr(cc.bash_turn2(cc.turn1_v197(), thinking_signature="EqQBCkYIBxgC"))
    assistant = next(m for m in foreign["messages"] if m["role"] == "assistant")
    assert "reasoning_details" not in assistant and "reasoning_content" not in assistant
