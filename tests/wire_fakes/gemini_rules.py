"""The request checks Gemini's API makes before any model runs (AI Studio and Vertex alike): the OpenAPI
schema subset of function declarations, known fields, roles, call/response pairing, output cap, thought
signatures from Gemini 3. Each broken rule is the message the real API answers with."""

from __future__ import annotations

import base64
import re

MAX_OUTPUT = {"gemini-2.5-pro": 65536, "gemini-2.5-flash": 65536, "gemini-3-pro-preview": 65536,
              "gemini-2.0-flash": 8192}
SCHEMA_KEYS = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
               "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
               "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
TOP_KEYS = {"contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig",
            "cachedContent", "labels"}
FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)


def schema_problems(schema: object, where: str) -> list[str]:
    """Fields outside the OpenAPI subset Gemini's Schema accepts (the real API refuses them with a 400)."""
    if not isinstance(schema, dict):
        return [f"{where}: a schema must be an object"]
    problems = [f'Invalid JSON payload received. Unknown name "{k}" at \'{where}\': Cannot find field.'
                for k in schema if _camel(k) not in SCHEMA_KEYS]
    if "type" in schema and not isinstance(schema["type"], str):
        problems.append(f"Invalid JSON payload received. Proto field is not repeating, cannot start list "
                        f"at '{where}.type'.")
    for name, sub in (schema.get("properties") or {}).items():
        problems += schema_problems(sub, f"{where}.properties[{name}]")
    if "items" in schema:
        problems += schema_problems(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf") or schema.get("any_of") or []):
        problems += schema_problems(sub, f"{where}.any_of[{i}]")
    return problems


def _field(part: dict, name: str) -> object:
    """A proto field by its JSON name or its original snake_case name (the API accepts both)."""
    return part.get(name, part.get(re.sub(r"([A-Z])", r"_\1", name).lower()))


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return False
    return bool(text)


def _count(content: dict, kind: str) -> int:
    return sum(1 for part in content.get("parts") or [] if _field(part, kind) is not None)


def turn_problems(contents: list[dict], model: str) -> list[str]:
    """Gemini's pairing of function calls and responses (and, from Gemini 3, signatures on the calls)."""
    problems = []
    for i, content in enumerate(contents):
        before = contents[i - 1] if i else {}
        calls = _count(before, "functionCall")
        if _count(content, "functionResponse"):
            if before.get("role") != "model" or not calls:
                problems.append("Please ensure that function response turn comes immediately after a function call "
                                "turn.")
            elif _count(content, "functionResponse") != calls:
                problems.append("Please ensure that the number of function response parts is equal to the number "
                                "of function call parts of the function call turn.")
        if _count(content, "functionCall") and before.get("role", "user" if i else None) != "user":
            problems.append("Please ensure that function call turn comes immediately after a user turn or after a "
                            "function response turn.")
    if model.startswith("gemini-3"):
        asked = max((i for i, c in enumerate(contents) if c.get("role", "user") == "user" and _count(c, "text")),
                    default=0)
        for i, content in enumerate(contents[asked:], asked):
            first = next((p for p in content.get("parts") or [] if _field(p, "functionCall")), None)
            if first is not None and _field(first, "thoughtSignature") is None:
                problems.append("Function call is missing a thought_signature in functionCall parts. This is "
                                "required for tools to work correctly, and missing thought_signature may lead to "
                                f"degraded model performance. Additional data, function call `default_api:"
                                f"{_field(first, 'functionCall').get('name')}` , position {i + 1}. Please refer to "
                                "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
    return problems


def request_problems(body: object, model: str) -> tuple[list[str], str | None]:
    """(broken rules, Fail kind to answer with): the checks the real API makes before the model runs."""
    if not isinstance(body, dict):
        return ["Invalid JSON payload received."], None
    problems = [f'Invalid JSON payload received. Unknown name "{k}": Cannot find field.'
                for k in body if _camel(k) not in TOP_KEYS]
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        problems.append("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents or []):
        if content.get("role", "user") not in ("user", "model"):
            problems.append(f"Please use a valid role: user, model. (contents[{i}].role={content.get('role')!r})")
        if not content.get("parts"):
            problems.append(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        for j, part in enumerate(content.get("parts") or []):
            blob = _field(part, "inlineData")
            if isinstance(blob, dict) and not _is_base64(blob.get("data", "")):
                problems.append(f"Invalid value at 'contents[{i}].parts[{j}].inline_data.data' (TYPE_BYTES), "
                                f"Base64 decoding failed for \"{str(blob.get('data'))[:20]}\"")
    for t, tool in enumerate(body.get("tools") or []):
        for f, decl in enumerate(tool.get("functionDeclarations") or tool.get("function_declarations") or []):
            if not FUNCTION_NAME.match(decl.get("name", "")):
                problems.append(f"* GenerateContentRequest.tools[{t}].function_declarations[{f}].name: Invalid "
                                f"function name {decl.get('name')!r}.")
            if "parameters" in decl:
                problems += schema_problems(decl["parameters"], f"tools[{t}].function_declarations[{f}].parameters")
    problems += turn_problems(contents or [], model)
    config = body.get("generationConfig") or body.get("generation_config") or {}
    wanted = config.get("maxOutputTokens", config.get("max_output_tokens"))
    limit = MAX_OUTPUT.get(model, 65536)
    if problems:
        return problems, None
    if isinstance(wanted, int) and wanted > limit:
        return [f"Unable to submit request because it has a maxOutputTokens value of {wanted} but the supported "
                f"range is from 1 (inclusive) to {limit + 1} (exclusive). Update the value and try again."], \
            "output_cap"
    return [], None
