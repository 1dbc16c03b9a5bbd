"""The floor of orbridge's web stack: a forwarder with no logic, on the same server and client libraries.

    python -m bench.floor PORT UPSTREAM_URL

Raw ASGI on uvicorn (uvloop, httptools) that reads the body and posts a fixed chat completion to the
upstream with aiohttp, relaying the answer's bytes. No token check, validation, translation or log: what
any proxy built on these libraries pays per request. `python -m bench.ab --floor` times orbridge against it.
"""

from __future__ import annotations

import json
import sys

import aiohttp
import uvicorn

UPSTREAM = sys.argv[2] if len(sys.argv) > 2 else ""
session: aiohttp.ClientSession | None = None


async def app(scope, receive, send) -> None:
    global session
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    stream = bool(json.loads(body).get("stream"))
    session = session or aiohttp.ClientSession()
    out = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
    async with session.post(UPSTREAM + "/chat/completions", data=out.encode(),
                            headers={"content-type": "application/json"}) as answer:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream" if stream else b"application/json")]})
        if not stream:
            await send({"type": "http.response.body", "body": await answer.read()})
            return
        async for chunk in answer.content.iter_any():  # (the session lives as long as the process)
            # bench.ab looks for "text_delta" in orbridge's stream; here the fake's own text marks the token.
            await send({"type": "http.response.body", "body": chunk.replace(b'"content"', b'"text_delta"'),
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                loop="uvloop", http="httptools")
