"""One real Claude Code turn per native provider (a Bash round trip) through `orbridge run --provider X
--base-url <fake>`, the fake speaking that provider's own wire format; the provider's key variable never
reaches the Bash tool."""

from __future__ import annotations

import pytest

from ..test_native_providers import MODELS, credential_env
from ..wire_fakes import Text, Thinking, ToolCall, Turn, start

# A credential variable of each provider that the child must not see (Vertex's is a file path, which stays).
SECRET = {"gemini": "GEMINI_API_KEY", "azure": "AZURE_API_KEY", "cohere": "COHERE_API_KEY",
          "mistral": "MISTRAL_API_KEY", "bedrock": "AWS_SECRET_ACCESS_KEY", "vertex": "VERTEXAI_CREDENTIALS"}


KEYED = {"gemini", "azure", "cohere", "mistral"}


@pytest.mark.parametrize("provider", list(SECRET))
def test_a_bash_round_trip_through_the_providers_own_api(e2e, provider):
    with start(provider) as fake:
        var = SECRET[provider]
        thought = [Thinking("run it", signature="c2ln")] if provider == "bedrock" else []  # Claude thinks first
        fake.script([Turn([*thought, Text("Running it."), ToolCall("Bash", {"command": f"echo native-${var}-end"})]),
                     *[Turn([Text("Done.")]) for _ in range(3)]])
        model = MODELS[provider] or fake.credentials["deployment"]
        env = credential_env(provider, fake.credentials)
        env.setdefault(var, "not-a-real-secret-123456")
        if provider == "azure":  # a deployment name tells no catalogue its output cap: the user's own setting
            env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = "16000"
        tied = ("--key-name", provider) if provider in KEYED else ()  # a --base-url gets a key only when tied
        r = e2e.run("run the echo", "--allowedTools", "Bash", env=env, timeout=150,
                    orbridge_args=("--provider", provider, "--base-url", fake.url, *tied, "--model", model))
        assert r.rc == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert r.result["result"] == "Done."
        assert [u["name"] for u in r.tool_uses()] == ["Bash"]
        calls = [q.body for q in fake.requests if q.method == "POST" and isinstance(q.body, dict)]
        assert "native--end" in str(calls[-1])  # the command ran, its output went back, the variable was empty
        assert env[var] not in str(calls)
        assert fake.violations == []
