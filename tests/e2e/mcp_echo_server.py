"""A minimal MCP stdio server with one tool, for giving Claude Code a tool whose name exceeds 64 chars."""

import json
import sys

TOOL = "echo_the_given_text_back_verbatim_please"


def reply(msg_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg_id}
    out["error" if error else "result"] = error or result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    method, msg_id = msg.get("method"), msg.get("id")
    if msg_id is None:
        continue  # notifications
    if method == "initialize":
        reply(msg_id, {"protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
                       "capabilities": {"tools": {}}, "serverInfo": {"name": "echo", "version": "1.0"}})
    elif method == "tools/list":
        reply(msg_id, {"tools": [{"name": TOOL, "description": "Echo the text back.",
                                  "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                                                  "required": ["text"]}}]})
    elif method == "tools/call":
        text = msg["params"].get("arguments", {}).get("text", "")
        reply(msg_id, {"content": [{"type": "text", "text": f"echo: {text}"}]})
    elif method == "ping":
        reply(msg_id, {})
    else:
        reply(msg_id, error={"code": -32601, "message": f"unknown method {method}"})
