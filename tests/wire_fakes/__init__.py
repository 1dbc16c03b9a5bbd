"""Fakes of providers' own wire formats (Gemini, Vertex, Bedrock, Azure, Cohere, Mistral), one HTTP server each.

    with start("gemini") as fake:
        fake.script([Turn([Text("Hello")]), Fail("rate_limit")])
        ... drive LiteLLM / orbridge at fake.url with fake.credentials ...
        assert fake.violations == []

Each fake follows the provider's public API reference, not any client library: paths, auth, request rules
(broken ones are recorded in `violations` and answered with the provider's own 400/422), stream framing, errors.
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
