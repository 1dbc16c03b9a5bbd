"""LiteLLM 1.110.2's defects on the native providers, fixed on our side of the seam (the version is pinned in
pyproject.toml, so each fix is tied to the code it corrects). docs/proxy.md lists them; each has a test in
tests/test_native_providers.py that fails without it.

Also the one place that knows how each native preset reaches its endpoint: `--base-url` becomes LiteLLM's
`api_base` (or Bedrock's runtime endpoint), and the cloud settings come from the provider's usual variables.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

_GEMINI_VERSION = re.compile(r"/v1(?:beta|alpha)?\d*/?$")
AZURE_API_VERSION = "2024-10-21"  # a GA version of Azure OpenAI's data plane, when AZURE_API_VERSION is unset


def _env(env: Mapping[str, str], *names: str) -> str | None:
    return next((env[n].strip() for n in names if env.get(n, "").strip()), None)


def endpoint_kwargs(provider: str, base_url: str, env: Mapping[str, str] = os.environ) -> dict:
    """LiteLLM's arguments that point a native preset at its endpoint (`base_url` empty: the provider's own)."""
    kw: dict = {}
    base = base_url.rstrip("/")
    if provider == "gemini" and base:
        # LiteLLM appends `models/{m}:…` to api_base: the API version must be in it.
        kw["api_base"] = base if _GEMINI_VERSION.search(base) else base + "/v1beta"
    elif provider == "vertex":
        if base:
            kw["api_base"] = base  # an empty path: LiteLLM grafts /v1/projects/{p}/locations/{l}/… on it
        project = _env(env, "VERTEXAI_PROJECT", "GOOGLE_CLOUD_PROJECT")
        location = _env(env, "VERTEXAI_LOCATION", "GOOGLE_CLOUD_LOCATION", "GOOGLE_CLOUD_REGION")
        # The file the user named, passed by name: LiteLLM caches tokens per credentials, and without it every
        # service account shares one entry per project.
        named = (("vertex_project", project), ("vertex_location", location),
                 ("vertex_credentials", _env(env, "GOOGLE_APPLICATION_CREDENTIALS")))
        kw.update({k: v for k, v in named if v})
    elif provider == "bedrock":
        if base:
            kw["aws_bedrock_runtime_endpoint"] = base
        region = _env(env, "AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION")
        if region:
            kw["aws_region_name"] = region
    elif provider == "azure":
        if base:
            kw["api_base"] = base
        kw["api_version"] = _env(env, "AZURE_API_VERSION", "OPENAI_API_VERSION") or AZURE_API_VERSION
    elif provider == "cohere" and base:
        # LiteLLM posts to api_base as given: Cohere's v2 chat path must be in it.
        kw["api_base"] = base if urlsplit(base).path.endswith("/chat") else base + "/v2/chat"
    elif base:
        kw["api_base"] = base
    return kw


_BODY_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"')


def provider_message(text: str) -> str:
    """The provider's own words when LiteLLM quotes its JSON error body whole (`…Exception - b'{"error": …}'`)."""
    found = _BODY_MESSAGE.search(text)
    if not found:
        return text
    try:
        return json.loads('"' + found.group(1).replace("\\'", "'") + '"') or text  # b'…' escapes '
    except ValueError:
        return text


# An SDK LiteLLM imports only for one provider, and the extra that installs it.
_EXTRAS = {"google": "vertex"}
_NO_MODULE = re.compile(r"No module named '(\w+)")


def missing_extra(text: str) -> str | None:
    """The install command when LiteLLM failed for want of a provider's SDK (google-auth for Vertex)."""
    found = _NO_MODULE.search(text)
    extra = _EXTRAS.get(found.group(1)) if found else None
    return f"pipx install 'orbridge[{extra}]' (or pip install 'orbridge[{extra}]')" if extra else None


# --- retry hints LiteLLM drops -------------------------------------------------------------------------
_RETRY_DELAY = re.compile(r'"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"')  # Gemini/Vertex google.rpc.RetryInfo
_RETRY_WORDS = re.compile(r"retry after (\d+) seconds?", re.I)  # Azure's 429 wording


def retry_after(exc: Exception, text: str) -> str | None:
    """The upstream's retry hint, wherever LiteLLM left it: the response headers (Azure's error path raises
    with them empty: `litellm_response_headers` or the words of the message then), or Gemini's RetryInfo
    in the error body, which LiteLLM never reads."""
    for source in (getattr(getattr(exc, "response", None), "headers", None),
                   getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None)):
        try:
            value = source and (source.get("retry-after") or source.get("llm_provider-retry-after"))
        except AttributeError:
            value = None
        if value:
            return str(value)
    found = _RETRY_DELAY.search(text) or _RETRY_WORDS.search(text)
    if found:
        return str(max(1, round(float(found.group(1)))))
    return None


# --- a rejected key that is not a 401 ------------------------------------------------------------------
_BAD_KEY = re.compile(r"API_KEY_INVALID|API key not valid|invalid_grant|RefreshError|invalid api token"
                      r"|UnrecognizedClientException|security token included in the request is invalid"
                      r"|InvalidSignatureException|invalid subscription key|aiplatform\.endpoints\.predict\\?' denied",
                      re.I)


def rejected_key(status: int, text: str) -> bool:
    """Gemini answers a bad key with a 400 INVALID_ARGUMENT, a Vertex token refresh that fails reaches us as
    a 500, a service account without Vertex's predict permission as a 403 with no word of keys: each is a
    rejected credential, final, and the fix names the variable."""
    return status in (400, 401, 403, 500, 502) and bool(_BAD_KEY.search(text))


# --- what a reasoning provider needs back on the next turn -------------------------------------------------
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # the tool_use ids Claude Code accepts
_ID_PREFIX = "obx_"


def client_id(tool_id: str) -> str:
    """LiteLLM carries Gemini's thought signature inside the tool-call id (`call_…__thought__<base64>`), which
    Anthropic's id alphabet cannot hold: the translator would mint a new id and the signature would be lost.
    Such an id travels to the client base64url-encoded, and comes back whole (`provider_id`)."""
    if _SAFE_ID.match(tool_id):
        return tool_id
    return _ID_PREFIX + base64.urlsafe_b64encode(tool_id.encode()).decode().rstrip("=")


def provider_id(tool_id: object) -> object:
    if not isinstance(tool_id, str) or not tool_id.startswith(_ID_PREFIX):
        return tool_id
    raw = tool_id[len(_ID_PREFIX):]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except ValueError:
        return tool_id


def answer(data: dict) -> dict:
    """A LiteLLM chunk or completion as the translator reads it: safe tool ids, and Bedrock's signed reasoning
    (`thinking_blocks`) as `reasoning_details`, whose signature the translator keeps for the next turn."""
    for choice in data.get("choices") or ():
        part = choice.get("delta") or choice.get("message") or {}
        for call in part.get("tool_calls") or ():
            if isinstance(call.get("id"), str):
                call["id"] = client_id(call["id"])
        blocks = [b for b in part.pop("thinking_blocks", None) or () if isinstance(b, dict)]
        if blocks:  # the text arrives in one delta, its signature in a later one: both as reasoning_details
            part.pop("reasoning_content", None)
            part["reasoning_details"] = [
                {"type": "reasoning.encrypted", "data": b.get("data", "")} if b.get("type") == "redacted_thinking"
                else {"type": "reasoning.text", "text": b.get("thinking", ""),
                      **({"signature": b["signature"]} if b.get("signature") else {})}
                for b in blocks]
    return data


_MISTRAL_ID = re.compile(r"^[A-Za-z0-9]{9}$")


def mistral_id(tool_id: object) -> object:
    """Mistral takes only tool-call ids of 9 letters and digits (LiteLLM sends any): another model's id
    (`toolu_…`, `call_…`) becomes 9 characters derived from it, the same for the call and its result."""
    if not isinstance(tool_id, str) or _MISTRAL_ID.match(tool_id):
        return tool_id
    digest = hashlib.sha256(tool_id.encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:9])


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def request(body: dict, provider: str = "") -> dict:
    """Our OpenAI body as LiteLLM reads it: the provider's own tool ids, and signed reasoning given back as
    `thinking_blocks` (LiteLLM's field for Bedrock's reasoningContent) instead of OpenRouter's `reasoning_details`."""
    fix = (lambda i: mistral_id(provider_id(i))) if provider == "mistral" else provider_id
    for msg in body.get("messages") or ():
        if msg.get("role") == "tool":
            msg["tool_call_id"] = fix(msg.get("tool_call_id"))
        for call in msg.get("tool_calls") or ():
            call["id"] = fix(call.get("id"))
        details = msg.pop("reasoning_details", None) if msg.get("role") == "assistant" else None
        if details:
            msg["thinking_blocks"] = [
                {"type": "redacted_thinking", "data": d.get("data", "")} if d.get("type") == "reasoning.encrypted"
                else {"type": "thinking", "thinking": d.get("text", ""), "signature": d.get("signature", "")}
                for d in details if isinstance(d, dict)]
            msg.pop("reasoning_content", None)
    return body


# --- Cohere v2 streams ---------------------------------------------------------------------------------
_COHERE_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
_COHERE_FAILED = {"ERROR", "TIMEOUT"}  # the answer did not finish: an error, never a complete turn


class CohereStreamFailed(Exception):
    """Cohere ended a stream with finish_reason ERROR or TIMEOUT."""


def _cohere_iterator(base: type) -> type:
    """Cohere v2's stream parser, corrected: LiteLLM runs `json.loads` on every SSE line (`event: …` too,
    so every stream failed with a 500), and reads `message-end` from `data.delta` where Cohere sends
    `delta`, so the usage Cohere reports was dropped and replaced by an estimate."""

    class CohereV2Stream(base):
        def convert_str_chunk_to_generic_chunk(self, chunk):  # noqa: D102 - LiteLLM's hook
            line = chunk.decode("utf-8") if isinstance(chunk, bytes) else str(chunk)
            line = line.strip()
            if line.startswith("data:"):
                line = line[5:].strip()
            if not line.startswith("{"):  # `event:` lines, blank lines, comments
                return self.chunk_parser({})
            return self.chunk_parser(json.loads(line))

        def _parse_message_end(self, chunk: dict):
            delta = chunk.get("delta") or (chunk.get("data") or {}).get("delta") or {}
            usage_data = delta.get("usage") or {}
            tokens = usage_data.get("tokens") or usage_data.get("billed_units") or {}
            usage = None
            if tokens:
                prompt, completion = int(tokens.get("input_tokens") or 0), int(tokens.get("output_tokens") or 0)
                usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": prompt + completion}
            reason = str(delta.get("finish_reason") or "COMPLETE")
            if reason in _COHERE_FAILED:
                raise CohereStreamFailed(f"cohere ended the answer with finish_reason {reason}")
            return True, _COHERE_FINISH.get(reason, reason.lower()), usage

        def chunk_parser(self, chunk: dict):
            if chunk.get("type") == "message-end":
                chunk = {**chunk, "event": "message-end"}  # LiteLLM dispatches message-end on `event`
            return super().chunk_parser(chunk)

    return CohereV2Stream


# Set while orbridge's own transport calls LiteLLM: the patched methods change nothing for other callers of
# LiteLLM in the process (a library user, a test of LiteLLM itself).
ours: contextvars.ContextVar[bool] = contextvars.ContextVar("orbridge_litellm_call", default=False)


def apply(litellm) -> None:
    """Install the fixes into the imported LiteLLM (once, at import), active only for orbridge's calls."""
    from litellm.llms.cohere.chat.v2_transformation import CohereV2ChatConfig
    from litellm.llms.cohere.common_utils import CohereV2ModelResponseIterator

    stream_class = _cohere_iterator(CohereV2ModelResponseIterator)
    make_iterator = CohereV2ChatConfig.get_model_response_iterator

    def get_model_response_iterator(self, streaming_response, sync_stream: bool, json_mode: bool | None = False):
        if not ours.get():
            return make_iterator(self, streaming_response, sync_stream, json_mode)
        return stream_class(streaming_response=streaming_response, sync_stream=sync_stream, json_mode=json_mode)

    CohereV2ChatConfig.get_model_response_iterator = get_model_response_iterator
