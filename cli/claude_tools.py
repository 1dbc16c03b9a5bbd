"""Claude Code's Bash and Read tools, as Claude Code 2.1.332 sends them (descriptions shortened): `orbridge
probe` asks models to call these, so a model that passes drives Claude Code's own tools."""

from __future__ import annotations

SCHEMA = "http://json-schema.org/draft-07/schema#"


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    """A tool in the shape Claude Code sends (JSON Schema draft 7, no extra properties)."""
    return {"name": name, "description": description,
            "input_schema": {"type": "object", "properties": properties, "required": required,
                             "additionalProperties": False, "$schema": SCHEMA}}


BASH = _tool(
    "Bash",
    "Executes a given bash command and returns its output. The working directory persists between commands. "
    "Use it for terminal operations like git, npm, docker, ls.",
    {
        "command": {"type": "string", "description": "The command to execute"},
        "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
        "description": {"type": "string", "description": "Clear, concise description of what this command does "
                                                         "in active voice, 5-10 words."},
        "run_in_background": {"type": "boolean", "description": "Set to true to run this command in the "
                                                                "background."},
    },
    ["command"],
)

READ = _tool(
    "Read",
    "Reads a file from the local filesystem. The file_path parameter must be an absolute path. You can call "
    "several tools in one response: read several files at once when useful.",
    {
        "file_path": {"type": "string", "description": "The absolute path to the file to read"},
        "offset": {"type": "number", "description": "The line number to start reading from"},
        "limit": {"type": "number", "description": "The number of lines to read"},
    },
    ["file_path"],
)

TOOLS = [BASH, READ]
JSON_TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool, "object": dict, "array": list}


def schema_problem(tool: dict, args: object) -> str | None:
    """What is wrong with `args` for `tool` (required, types, no extra keys), or None when they fit."""
    schema = tool["input_schema"]
    if not isinstance(args, dict):
        return "arguments are not an object"
    missing = [k for k in schema["required"] if k not in args]
    if missing:
        return f"missing {', '.join(missing)}"
    for key, value in args.items():
        spec = schema["properties"].get(key)
        if spec is None:
            return f"unknown argument {key}"
        kind = JSON_TYPES[spec["type"]]
        if not isinstance(value, kind) or (spec["type"] != "boolean" and isinstance(value, bool)):
            return f"{key} is not a {spec['type']}"
    return None
