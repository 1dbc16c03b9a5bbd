"""Small request bodies shaped like what real Claude Code sends (2.1.197 and 2.1.332), written for tests.

Shapes follow the captured traffic described in the shared research: key order, the billing-header
system block, cache_control markers, the `role: "system"` message at index 1 (string in 2.1.197, block
list in 2.1.332), adaptive thinking with output_config.effort, and tool search with a deferred
placeholder. Tool schemas are short stand-ins for the real ones.
"""

from __future__ import annotations

import copy

EPHEMERAL = {"type": "ephemeral"}
SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def _tool(name: str, props: dict, required: list[str], defer: bool = False) -> dict:
    tool = {"name": name, "description": f"The {name} tool.",
            "input_schema": {"$schema": SCHEMA, "type": "object", "properties": props,
                             "required": required, "additionalProperties": False}}
    if defer:
        tool["defer_loading"] = True
    return tool


BASH = _tool("Bash", {"command": {"type": "string"}, "timeout": {"type": "number"},
                      "description": {"type": "string"}, "run_in_background": {"type": "boolean"}},
             ["command"])
READ = _tool("Read", {"file_path": {"type": "string"}, "offset": {"type": "integer"}}, ["file_path"])
WRITE = _tool("Write", {"file_path": {"type": "string"}, "content": {"type": "string"}},
              ["file_path", "content"])
EDIT = _tool("Edit", {"file_path": {"type": "string"}, "old_string": {"type": "string"},
                      "new_string": {"type": "string"}}, ["file_path", "old_string", "new_string"])
TOOL_SEARCH = _tool("ToolSearch", {"query": {"type": "string"}, "max_results": {"type": "number"}},
                    ["query"])
WEB_FETCH = _tool("WebFetch", {"url": {"type": "string", "format": "uri"}, "prompt": {"type": "string"}},
                  ["url", "prompt"], defer=True)
PLACEHOLDER = {"name": "DeferredToolPlaceholder",
               "description": "Reserved placeholder that keeps deferred tool loading active; never call "
                              "this tool.", "input_schema": {"type": "object", "properties": {}},
               "defer_loading": True}

OLD_TOOLS = [_tool(n, {"x": {"type": "string"}}, []) for n in (
    "Agent", "CronCreate", "CronDelete", "CronList", "EnterWorktree", "ExitWorktree", "NotebookEdit",
    "ReportFindings", "ScheduleWakeup", "SendMessage", "Skill", "TaskCreate", "TaskGet", "TaskList",
    "TaskOutput", "TaskStop", "TaskUpdate", "WebFetch", "WebSearch", "Workflow")] + [BASH, EDIT, READ, WRITE]
NEW_TOOLS = [_tool(n, {"x": {"type": "string"}}, []) for n in (
    "Agent", "ListAgents", "ReportFindings", "ScheduleWakeup", "Skill", "Workflow")] + [
    BASH, EDIT, READ, TOOL_SEARCH, PLACEHOLDER, WRITE]


def _system(version: str, interactive: bool = False) -> list[dict]:
    who = ("You are Claude Code, Anthropic's official CLI for Claude." if interactive
           else "You are a Claude agent, built on Anthropic's Claude Agent SDK.")
    return [
        {"type": "text", "text": f"x-anthropic-billing-header: cc_version={version}.0b8; "
                                 "cc_entrypoint=sdk-cli;"},
        {"type": "text", "text": who, "cache_control": EPHEMERAL},
        {"type": "text", "text": "You are an agent working with the user toward their goals.\n\n"
                                 "# Environment\n - Primary working directory: /tmp/project",
         "cache_control": EPHEMERAL},
    ]


def turn1_v197(prompt: str = "say hi") -> dict:
    """2.1.197 `-p` turn 1: 24 tools, system message as a string, adaptive thinking, effort high."""
    return {
        "model": "claude-opus-4-8",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\nToday's date is 2026-11-26.\n</system-reminder>"},
                {"type": "text", "text": prompt, "cache_control": EPHEMERAL}]},
            {"role": "system", "content": "Available agent types for the Agent tool:\n- claude: catch-all"},
        ],
        "system": _system("2.1.197"),
        "tools": copy.deepcopy(OLD_TOOLS),
        "metadata": {"user_id": '{"device_id":"ab12","account_uuid":"","session_id":"s-1"}'},
        "max_tokens": 64000,
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": True,
    }


def turn1_v332(prompt: str = "say hi") -> dict:
    """2.1.332 `-p` turn 1: 12 tools with ToolSearch and a deferred placeholder; block-list system
    message naming the deferred tools; max_tokens 128000; thinking display omitted, effort medium."""
    return {
        "model": "claude-opus-5-5",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\nToday's date is 2026-11-26.\n</system-reminder>"},
                {"type": "text", "text": prompt}]},
            {"role": "system", "content": [
                {"type": "text", "text": "# Environment\nThe following deferred tools are now available via "
                                         "ToolSearch:\nNotebookEdit\nWebFetch\nWebSearch"}]},
        ],
        "system": _system("2.1.332"),
        "tools": copy.deepcopy(NEW_TOOLS),
        "metadata": {"user_id": '{"device_id":"ab12","account_uuid":"","session_id":"s-2"}'},
        "max_tokens": 128000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
        "stream": True,
    }


def bash_turn2(body: dict, thinking_signature: str = "") -> dict:
    """Turn 2 after a Bash tool call: assistant thinking + text + tool_use, then the tool result."""
    body = copy.deepcopy(body)
    body["messages"] += [
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Let me run it.", "signature": thinking_signature},
            {"type": "text", "text": "I'll run that."},
            {"type": "tool_use", "id": "toolu_01", "name": "Bash",
             "input": {"command": "echo hello", "description": "say hello"}}]},
        {"role": "user", "content": [
            {"tool_use_id": "toolu_01", "type": "tool_result", "content": "hello", "is_error": False,
             "cache_control": EPHEMERAL}]},
    ]
    return body


def tool_search_turn2(body: dict | None = None) -> dict:
    """2.1.332 after ToolSearch `select:WebFetch`: a tool_reference result, WebFetch now in `tools`."""
    body = copy.deepcopy(body or turn1_v332("fetch example.com"))
    tools = body["tools"]
    tools.insert(tools.index(next(t for t in tools if t["name"] == "ToolSearch")) + 1, copy.deepcopy(WEB_FETCH))
    body["messages"] += [
        {"role": "assistant", "content": [
            {"type": "text", "text": "I'll load it."},
            {"type": "tool_use", "id": "toolu_ts", "name": "ToolSearch", "input": {"query": "select:WebFetch"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_ts",
             "content": [{"type": "tool_reference", "tool_name": "WebFetch"}]},
            {"type": "text", "text": "Tool loaded.", "cache_control": EPHEMERAL}]},
    ]
    return body


def title_call() -> dict:
    """The interactive session-title call: no tools, thinking disabled, a JSON-schema output format."""
    return {
        "model": "claude-opus-5-5",
        "messages": [{"role": "user", "content": "Generate a title for: fix the login bug"}],
        "system": [{"type": "text", "text": "Generate a short title."}],
        "tools": [],
        "max_tokens": 32000,
        "thinking": {"type": "disabled"},
        "output_config": {"format": {"type": "json_schema", "schema": {
            "type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"],
            "additionalProperties": False}}},
        "stream": True,
    }
