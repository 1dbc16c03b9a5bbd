import anthropic

from .conftest import TOKEN
from .fake_upstream import Reply, text_stream


def test_text_stream_through_sdk(proxy, upstream):
    upstream.script(Reply(items=text_stream("Hello, wörld! 你好 🎉")))
    client = anthropic.Anthropic(base_url=proxy.url, api_key=TOKEN, max_retries=0)
    with client.messages.stream(model="claude-opus-4-8", max_tokens=100,
                                messages=[{"role": "user", "content": "hi"}]) as s:
        msg = s.get_final_message()
    assert msg.content[0].text == "Hello, wörld! 你好 🎉"
    assert msg.stop_reason == "end_turn"
    assert msg.model == "claude-opus-4-8"
    assert msg.usage.cache_read_input_tokens == 100
    assert msg.usage.input_tokens == 20
    assert len(upstream.chat_requests()) == 1
    sent = upstream.chat_requests()[0].body
    assert sent["model"] == "fake/opus"
    assert sent["stream"] is True
