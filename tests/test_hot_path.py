"""The hot path's shortcuts write the same bytes as the general path they skip.

`sse.encode` writes content_block_delta events from a template; whatever an event looks like, its bytes must
equal compact `json.dumps` with UTF-8 kept, the format the proxy has always sent (and the same exception when
a string cannot be UTF-8 encoded at all).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from orbridge.proxy import json_codec, sse

from .fake_upstream import Reply, chunk, text_stream, tool_stream


def reference(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def outcome(fn, event):
    try:
        return fn(event)
    except Exception as exc:  # noqa: BLE001 - the exception type is the outcome compared
        return type(exc)


FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json",
          "signature_delta": "signature", "citations_delta": "citation", "Text_delta": "text", "": "x"}
texts = st.text(alphabet=st.characters(codec=None), max_size=40)
anything = st.none() | st.booleans() | st.integers(-2**70, 2**70) | texts | st.lists(st.integers(), max_size=2)
indexes = st.integers(0, 3) | st.integers(-2**70, 2**70)


@st.composite
def exact_deltas(draw) -> dict:
    """The shape the translator builds, with any text: control characters, quotes, astral code points."""
    kind = draw(st.sampled_from(list(FIELDS)[:4]))
    return {"type": "content_block_delta", "index": draw(indexes), "delta": {"type": kind, FIELDS[kind]: draw(texts)}}


@st.composite
def near_misses(draw) -> dict:
    """One change to that shape: keys reordered or added, a bool or float index, an unknown delta kind, the wrong
    field name, a value that is not a string."""
    event = draw(exact_deltas())
    delta = event["delta"]
    kind, name = delta["type"], FIELDS[delta["type"]]
    change = draw(st.sampled_from(["order", "outer order", "extra", "outer extra", "index", "kind", "type key", "name",
                                   "value"]))
    if change == "type key":
        event["delta"] = {draw(st.sampled_from(["kind", "Type", "text"])): kind, name: delta[name]}
    elif change == "order":
        event["delta"] = {name: delta[name], "type": kind}
    elif change == "outer order":
        event = {"index": event["index"], "type": event["type"], "delta": delta}
    elif change == "extra":
        delta["extra"] = draw(anything)
    elif change == "outer extra":
        event["usage"] = {}
    elif change == "index":
        event["index"] = draw(st.booleans() | st.just(1.0) | st.just(None))
    elif change == "kind":
        delta["type"] = draw(st.sampled_from(list(FIELDS)[4:]) | anything)
    elif change == "name":
        event["delta"] = {"type": kind, draw(st.sampled_from(["type2", "index", *FIELDS.values()])): delta[name]}
    else:
        delta[name] = draw(anything)
    return event


@settings(max_examples=3000, deadline=None)
@given(exact_deltas() | near_misses())
def test_delta_template_writes_the_general_encoders_bytes(event):
    assert outcome(sse.encode, event) == outcome(reference, event)


def test_every_code_point_is_escaped_as_before():
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for kind, name in [("text_delta", "text"), ("input_json_delta", "partial_json")]:
        event = {"type": "content_block_delta", "index": 7, "delta": {"type": kind, name: text}}
        assert sse.encode(event) == reference(event)
    lone = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a\ud800"}}
    assert outcome(sse.encode, lone) == outcome(reference, lone) is UnicodeEncodeError


def test_a_real_stream_is_canonical_compact_json(proxy, upstream):
    """Through the whole proxy: every data line is exactly the compact dump of its own parse."""
    tricky = 'quote " back \\ nl \n tab \t nul \x00 del \x7f é ☃ 😀 \u2028 </script>'
    upstream.script(Reply(items=[chunk({"reasoning": "think " + tricky}), *text_stream(tricky, piece=3)[1:]]),
                    Reply(items=tool_stream([("call_1", "Write", {"content": tricky})])))
    for _ in range(2):
        resp, raw = proxy.stream({"model": "claude-sonnet-4-5", "max_tokens": 50,
                                  "messages": [{"role": "user", "content": "hi"}]})
        assert resp.status_code == 200
        deltas = 0
        for block in raw.decode().split("\n\n"):
            if not block:
                continue
            event_line, data_line = block.split("\n")
            data = data_line.removeprefix("data: ")
            event = json.loads(data)
            assert event_line == f"event: {event['type']}"
            assert sse.encode(event) == reference(event) == (block + "\n\n").encode()
            deltas += event["type"] == "content_block_delta"
        assert deltas > 5


scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(alphabet=st.characters(codec=None))
           | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)
json_texts = st.tuples(json_values, st.booleans(), st.sampled_from([None, 1])).map(
    lambda v: json.dumps(v[0], ensure_ascii=v[1], indent=v[2]))


def parsed(fn, text):
    try:
        return repr(fn(text))  # repr: nan equals nan, -0.0 differs from 0.0, 1 differs from 1.0
    except ValueError:
        return "ValueError"


@settings(max_examples=3000, deadline=None)
@given(json_texts | st.text(max_size=30) | json_texts.map(lambda t: t[:-1]) | json_texts.map(lambda t: t + " x"))
def test_chunk_parser_reads_everything_as_json_loads_does(text):
    assert parsed(json_codec.loads, text) == parsed(json.loads, text)


def test_chunk_parser_edges():
    for text in ['18446744073709551616', '-9223372036854775809', '1e400', 'NaN', '-Infinity', '"\\ud800"',
                 '{"a":1,"a":2}', '9007199254740993', '9007199254740993.0', '\ufeff{}', '[1,]', '"\t"', '']:
        assert parsed(json_codec.loads, text) == parsed(json.loads, text), text


def test_ids_are_unique_and_shaped_as_before():
    """Message and tool ids come from a generator seeded once (no system call per id): still 24 hex digits,
    still unique."""
    import re

    from orbridge.proxy.anthropic_openai.stream import new_message_id, new_tool_id

    ids = [new_message_id() for _ in range(20_000)] + [new_tool_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"(msg|toolu)_[0-9a-f]{24}", i) for i in ids)
