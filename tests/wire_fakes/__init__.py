"""Fakes of providers' own wire formats (Gemini, Vertex, Bedrock, Azure, Cohere, Mistral), one HTTP server each.

    with start("gemini") as fake:
        fake.script([Turn([Text("Hello")]), Fail("rate_limit")])
        ... drive LiteLLM / orbridge at fake.url with fake.credentials ...
        assert fake.violations == []

Each fake follows the provider's public API reference, not any client library: paths, auth, request rules
(broken ones are recorded in `violations` and answered with the provider's own 400/422), stream framing, errors.
An unscripted model call gets a 500 in the provider's shape saying so.

How LiteLLM 1.110.2 reaches each (what it was seen to call):
    gemini   api_base=fake.url, api_key              -> /models/{m}:streamGenerateContent?alt=sse (also /v1beta/…)
    vertex   api_base=fake.url, vertex_project/location, vertex_credentials=service_account_file (google-auth)
                                                     -> /token, then /v1/projects/{p}/locations/{l}/publishers/…
    bedrock  aws_bedrock_runtime_endpoint=fake.url, aws keys, aws_region_name -> /model/{id}/converse-stream
    azure    api_base=fake.url, api_key, api_version -> /openai/deployments/{d}/chat/completions?api-version=…
    cohere   api_base=fake.url (posts to "/") or fake.url + "/v2/chat"
    mistral  api_base=fake.url or fake.url + "/v1"   -> /v1/chat/completions

Script conventions: Turn.finish "stop" | "tool_calls" | "length", mapped to each provider's own word;
Turn.usage (input, output) or (input, output, reasoning) where output includes reasoning (Gemini reports
candidates = output - reasoning and thoughtsTokenCount = reasoning). Thinking(signature=None): the fake signs
where the provider always does (Bedrock: any reasoning, and it accepts back only signatures it issued; Gemini:
reasoning in a turn with function calls), else sends none.
Azure and Mistral have no visible thinking: a scripted Thinking there is an error.
"""

from __future__ import annotations

import importlib

from .script import Fail, Text, Thinking, ToolCall, Turn
from .server import Received, WireFake

PROVIDERS = {"gemini": "GeminiFake", "vertex": "VertexFake", "bedrock": "BedrockFake", "azure": "AzureFake",
             "cohere": "CohereFake", "mistral": "MistralFake"}

__all__ = ["Fail", "Received", "Text", "Thinking", "ToolCall", "Turn", "WireFake", "start", "PROVIDERS"]


def start(provider: str) -> WireFake:
    """A started fake of `provider` (a context manager: leaving the block stops it)."""
    if provider not in PROVIDERS:
        raise ValueError(f"no wire fake for {provider!r}; one of {sorted(PROVIDERS)}")
    module = importlib.import_module(f".{provider}", __name__)
    return getattr(module, PROVIDERS[provider])().start()
