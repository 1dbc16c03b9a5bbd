"""An instant fake upstream for benchmarks, run in its own process: OpenAI chat completions (stream or not,
N chunks chosen by the model name `bench/chunks-N`) and an Anthropic Messages stream (the baseline for
Claude Code itself)."""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn

CHUNK = b'data: {"id":"g","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tok "},' \
        b'"finish_reason":null}]}\n\n'
END = (b'data: {"id":"g","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
       b'\n\ndata: {"id":"g","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":10,'
       b'"completion_tokens":5}}\n\ndata: [DONE]\n\n')
COMPLETION = json.dumps({"id": "g", "object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1}}).encode()


def anthropic_stream(text: str) -> bytes:
    events = [
        {"type": "message_start", "message": {"id": "msg_b", "type": "message", "role": "assistant", "model": "m",
                                              "content": [], "stop_reason": None, "stop_sequence": None,
                                              "usage": {"input_tokens": 10, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 3}},
        {"type": "message_stop"}]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


async def read_body(receive) -> bytes:
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    path = scope["path"]
    if path.endswith("/messages"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": anthropic_stream("Hello from the bench server.")})
        return
    if not path.endswith("/chat/completions"):
        await send({"type": "http.response.start", "status": 200 if scope["method"] == "HEAD" else 404,
                    "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    req = json.loads(body)
    if not req.get("stream"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": COMPLETION})
        return
    model = req["model"]
    n, pause = 20, 0.0
    if model.startswith("bench/chunks-"):
        n = int(model.rsplit("-", 1)[1])
    elif model.startswith("bench/paced-"):  # bench/paced-N-MS: N chunks, MS milliseconds apart
        _, n_text, ms = model.split("-")
        n, pause = int(n_text), int(ms) / 1000
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for _ in range(n):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        if pause:
            await asyncio.sleep(pause)
    await send({"type": "http.response.body", "body": END})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
