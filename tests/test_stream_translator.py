"""The streaming state machine on recorded-style upstream chunks; every output passes the strict checker."""

from __future__ import annotations

import json

import pytest

from orbridge.proxy import sse
from orbridge.proxy.anthropic_openai import reasoning
from orbridge.proxy.anthropic_openai.response import translate_response
from orbridge.proxy.anthropic_openai.stream import StreamTranslator
from orbridge.proxy.anthropic_openai.tools import ToolNames, alias
from orbridge.proxy.errors import ProxyError

from .fake_upstream import USAGE, chunk, completion, text_stream, tool_stream
from .sse_validator import check


def run(chunks: list, names: ToolNames | None = None, stops: list[str] | None = None) -> dict:
    t = StreamTranslator("claude-opus-4-8", names or ToolNames(), stops, input_tokens=7)
    events = t.start()
    for c in chunks:
        if isinstance(c, dict):
            events += t.feed(c)
    events += t.finish()
    raw = b"".join(sse.encode(e) for e in events)
    summary = check(raw)
    summary["events"] = events
    return summary


def tc(index, id=None, name=None, args=None) -> dict:
    fn = {}
    if name is not None:
        fn["name"] = name
    if args is not None:
        fn["arguments"] = args
    call = {"index": index, "function": fn}
    if id:
        call["id"] = id
        call["type"] = "function"
    return chunk({"tool_calls": [call]})


ARGS = {"file_path": "/tmp/a \"quoted\" | pipe.txt", "content": "中文 ✓ emoji 🎉\nline2"}


def test_text():
    s = run(text_stream("Hello there"))
    assert s["blocks"] == [{"type": "text", "text": "Hello there"}]
    assert s["stop_reason"] == "end_turn"
    assert s["usage"] == {"input_tokens": 20, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 100, "output_tokens": 30}


@pytest.mark.parametrize("piece", [1, 3, 1000])
def test_tool_args_in_pieces(piece):
    s = run(tool_stream([("call_1", "Write", ARGS)], piece=piece))
    block = s["blocks"][0]
    assert block["type"] == "tool_use" and block["name"] == "Write" and block["id"] == "call_1"
    assert block["input"] == ARGS
    assert s["stop_reason"] == "tool_use"


def test_tool_args_with_empty_fragments_and_all_in_first_chunk():
    raw = json.dumps(ARGS)
    s = run([tc(0, "c1", "Write", ""), tc(0, args=""), tc(0, args=raw[:5]), tc(0, args=""),
             tc(0, args=raw[5:]), chunk({}, "tool_calls")])
    assert s["blocks"][0]["input"] == ARGS
    s = run([tc(0, "c1", "Write", raw), chunk({}, "tool_calls")])
    assert s["blocks"][0]["input"] == ARGS
    deltas = [e for e in s["events"] if e["type"] == "content_block_delta"]
    assert all(d["delta"]["partial_json"] for d in deltas)  # no empty input_json_delta


def test_tool_args_only_in_finish_chunk():
    c = chunk({"tool_calls": [{"index": 0, "id": "c9", "type": "function",
                               "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}]}, "tool_calls")
    s = run([chunk({"role": "assistant", "content": ""}), c, chunk(usage=USAGE)])
    assert s["blocks"] == [{"type": "tool_use", "id": "c9", "name": "Bash", "input": {"command": "ls"}}]
    assert s["stop_reason"] == "tool_use"


def test_parallel_calls_interleaved_by_index_never_mix():
    a, b = json.dumps({"command": "echo a"}), json.dumps({"file_path": "/x"})
    chunks = [chunk({"content": "Two things."}), tc(0, "c0", "Bash", a[:4]), tc(1, "c1", "Read", b[:3]),
              tc(0, args=a[4:9]), tc(1, args=b[3:]), tc(0, args=a[9:]), chunk({}, "tool_calls")]
    s = run(chunks)
    assert [b_["type"] for b_ in s["blocks"]] == ["text", "tool_use", "tool_use"]
    assert s["blocks"][1]["input"] == {"command": "echo a"}
    assert s["blocks"][2]["input"] == {"file_path": "/x"}
    assert [b_["id"] for b_ in s["blocks"][1:]] == ["c0", "c1"]


def test_parallel_sequential_calls():
    s = run(tool_stream([("c0", "Bash", {"command": "a"}), ("c1", "Bash", {"command": "b"})], piece=2))
    assert [b["input"] for b in s["blocks"]] == [{"command": "a"}, {"command": "b"}]


def test_missing_duplicate_and_numeric_tool_ids_are_replaced():
    s = run([tc(0, "0", "Bash", "{}"), tc(1, "0", "Bash", "{}"), tc(2, None, "Read", "{}"),
             chunk({}, "tool_calls")])
    ids = [b["id"] for b in s["blocks"]]
    assert len(set(ids)) == 3 and all(i.replace("_", "").isalnum() for i in ids)


def test_tool_name_alias_restored():
    names = ToolNames()
    long = "mcp__server__" + "x" * 80
    names.outbound(long)
    s = run(tool_stream([("c", alias(long), {"a": 1})]), names=names)
    assert s["blocks"][0]["name"] == long


def test_openrouter_reasoning_with_signature_then_text():
    chunks = [
        chunk({"role": "assistant", "reasoning": "Think", "reasoning_details": [
            {"type": "reasoning.text", "text": "Think", "format": "anthropic-claude-v1", "index": 0}]}),
        chunk({"reasoning": "ing.", "reasoning_details": [
            {"type": "reasoning.text", "text": "ing.", "signature": "sig-xyz", "index": 0}]}),
        chunk({"content": "Answer"}), chunk({}, "stop"), chunk(usage=USAGE)]
    s = run(chunks)
    assert [b["type"] for b in s["blocks"]] == ["thinking", "text"]
    assert s["blocks"][0]["thinking"] == "Thinking."
    env = reasoning.read_signature(s["blocks"][0]["signature"])
    # Sent as reasoning_details with a signature: that is the field it goes back in, on any endpoint.
    assert env == {"src": "reasoning_details", "sig": "sig-xyz", "fmt": "anthropic-claude-v1"}


def test_deepseek_reasoning_content_and_same_chunk_mix():
    s = run([chunk({"reasoning_content": "hmm", "content": "Hi"}), chunk({"reasoning_content": "late?"}),
             chunk({}, "stop")])
    assert [b["type"] for b in s["blocks"]] == ["thinking", "text", "thinking"]
    assert reasoning.read_signature(s["blocks"][0]["signature"])["src"] == "reasoning_content"


def test_encrypted_reasoning_is_carried_in_signature():
    enc = {"type": "reasoning.encrypted", "data": "opaque==", "id": "rs_1"}
    s = run([chunk({"reasoning_details": [enc]}), chunk({"content": "ok"}), chunk({}, "stop")])
    assert s["blocks"][0]["type"] == "thinking"
    assert reasoning.read_signature(s["blocks"][0]["signature"])["enc"] == [enc]


def test_empty_tool_calls_list_with_content_is_text_only():
    s = run([chunk({"content": "plain", "tool_calls": []}), chunk({}, "stop")])
    assert s["blocks"] == [{"type": "text", "text": "plain"}]


def test_text_after_tool_call_closes_tool_first():
    s = run([tc(0, "c0", "Bash", '{"command":"x"}'), chunk({"content": "done"}), chunk({}, "tool_calls")])
    assert [b["type"] for b in s["blocks"]] == ["tool_use", "text"]


@pytest.mark.parametrize("finish,expected", [("stop", "end_turn"), ("length", "max_tokens"),
                                             ("tool_calls", "end_turn"), ("content_filter", "refusal")])
def test_stop_reasons(finish, expected):
    s = run([chunk({"content": "x"}), chunk({}, finish)])
    assert s["stop_reason"] == expected


def test_stop_sequence_reported_when_upstream_names_it():
    c = chunk({}, "stop")
    c["choices"][0]["stop_reason"] = "END"
    s = run([chunk({"content": "x"}), c], stops=["END"])
    assert s["stop_reason"] == "stop_sequence" and s["stop_sequence"] == "END"


def test_no_usage_is_estimated_and_no_content_is_valid():
    s = run([chunk({"content": "x" * 40}), chunk({}, "stop")])
    assert s["usage"]["output_tokens"] == 10 and s["usage"]["input_tokens"] == 7
    s = run([chunk({}, "stop")])
    assert s["blocks"] == [] and s["stop_reason"] == "end_turn"


def test_finish_reason_error_raises():
    t = StreamTranslator("m", ToolNames())
    with pytest.raises(ProxyError):
        t.feed(chunk({}, "error"))


def test_non_stream_response_matches_stream():
    comp = completion("Sure.", tool_calls=[
        {"id": "call_a", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/x"}'}}],
        finish="tool_calls", reasoning="why")
    msg = translate_response(comp, "claude-sonnet-5", ToolNames())
    assert msg["type"] == "message" and msg["model"] == "claude-sonnet-5"
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert msg["content"][2]["input"] == {"command": "ls"}
    assert msg["stop_reason"] == "tool_use"
    assert msg["usage"]["cache_read_input_tokens"] == 100


def test_tool_args_cut_by_max_tokens_still_parse():
    s = run([tc(0, "c1", "Write", '{"file_path": "/tmp/x", "content": "half a li'), chunk({}, "length")])
    assert s["stop_reason"] == "max_tokens"
    assert s["blocks"][0]["input"] == {"file_path": "/tmp/x", "content": "half a li"}


def test_tool_calls_finish_without_a_call_is_end_turn():
    s = run([chunk({"content": "nothing to run"}), chunk({}, "tool_calls")])
    assert s["stop_reason"] == "end_turn"


@pytest.mark.parametrize("pieces", [
    ["<think>", "Let me see.", "</think>", "\n\nAnswer."],
    ["<th", "ink>Let me", " see.</th", "ink>\n\nAnswer."],
    ["  <think>Let me see.</think>Answer."],
])
def test_think_tags_in_content_become_a_thinking_block(pieces):
    s = run([chunk({"content": p}) for p in pieces] + [chunk({}, "stop")])
    assert [b["type"] for b in s["blocks"]] == ["thinking", "text"]
    assert s["blocks"][0]["thinking"] == "Let me see." and s["blocks"][1]["text"] == "Answer."
    assert reasoning.read_signature(s["blocks"][0]["signature"])["src"] == "think_tag"


def test_text_that_merely_mentions_think_is_text():
    s = run([chunk({"content": "<th"}), chunk({"content": "is is text"}), chunk({}, "stop")])
    assert s["blocks"] == [{"type": "text", "text": "<this is text"}]
    s = run([chunk({"content": "Use <think> tags."}), chunk({}, "stop")])
    assert s["blocks"] == [{"type": "text", "text": "Use <think> tags."}]
    s = run([chunk({"content": "<thi"}), chunk({}, "stop")])
    assert s["blocks"] == [{"type": "text", "text": "<thi"}]


def test_unclosed_think_is_flushed_as_thinking():
    s = run([chunk({"content": "<think>cut off mid-thou"}), chunk({}, "length")])
    assert s["blocks"][0] == {**s["blocks"][0], "type": "thinking", "thinking": "cut off mid-thou"}


@pytest.mark.parametrize("finish,expected", [("STOP", "end_turn"), ("MAX_TOKENS", "max_tokens"),
                                             ("SAFETY", "refusal"), ("weird", "end_turn")])
def test_finish_reason_spellings(finish, expected):
    assert run([chunk({"content": "x"}), chunk({}, finish)])["stop_reason"] == expected


def test_content_as_a_list_of_parts():
    s = run([chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}]}),
             chunk({"content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]}),
             chunk({}, "stop")])
    assert [(b["type"], b.get("thinking") or b.get("text")) for b in s["blocks"]] == [("thinking", "hmm"),
                                                                                      ("text", "Hello there")]
