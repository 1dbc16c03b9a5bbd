"""Vertex AI's Gemini (`/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:streamGenerateContent`),
the same bodies as AI Studio, behind a bearer token that the fake's own token endpoint issues for a JWT-bearer
grant signed with the key of the service-account file the fake writes (its token_uri points at the fake)."""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import time
from urllib.parse import parse_qsl

from . import gemini
from .rs256 import Key, read_jwt
from .script import Fail, token
from .server import Received, Reply, json_reply

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "https://oauth2.googleapis.com/token"  # what Google checks `aud` against, whatever token_uri says


@functools.cache
def _key() -> Key:
    """One throwaway key per test process: generating RSA in pure Python takes seconds."""
    return Key.generate()


class VertexFake(gemini.GeminiFake):
    name = "vertex"
    route = re.compile(r"^/(?:v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
                              r"/publishers/google/models/(?P<model>[^/:]+):(?P<method>generateContent|"
                              r"streamGenerateContent)$")

    def __init__(self) -> None:
        super().__init__()
        self.key_id = token(40).lower()
        self.tokens: set[str] = set()
        self._dir = tempfile.TemporaryDirectory(prefix="vertex-fake-")
        account = {"type": "service_account", "project_id": "wire-fake-project", "private_key_id": self.key_id,
                   "private_key": _key().pem(), "client_email": "orbridge-test@wire-fake-project.iam."
                                                                "gserviceaccount.com",
                   "client_id": "1" + token(20, "0123456789"), "token_uri": f"{self.url}/token",
                   "auth_uri": "https://accounts.google.com/o/oauth2/auth"}
        path = os.path.join(self._dir.name, "service-account.json")
        with open(path, "w") as f:
            json.dump(account, f)
        self.account = account
        self.credentials = {"service_account_file": path, "project": account["project_id"],
                            "location": "us-central1"}

    def stop(self) -> None:
        super().stop()
        self._dir.cleanup()

    def grant(self, req: Received) -> Reply:
        """Google's OAuth token endpoint for a service account's signed JWT assertion."""
        form = dict(parse_qsl(req.raw.decode()))
        if form.get("grant_type") != GRANT:
            return json_reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        read = read_jwt(_key(), form.get("assertion", ""))
        if read is None:
            return json_reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        _, claims = read
        now = time.time()
        if claims.get("iss") != self.account["client_email"] or claims.get("aud") != AUDIENCE:
            return json_reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if not claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0) \
                or claims.get("exp", 0) - claims.get("iat", 0) > 3600:
            return json_reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a "
                                                                                  "short-lived token (60 minutes) "
                                                                                  "and in a reasonable timeframe."})
        if SCOPE not in str(claims.get("scope", "")).split():
            return json_reply(400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."})
        access = "ya29.c." + token(120)
        with self._lock:
            self.tokens.add(access)
        return json_reply(200, {"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    def answer(self, req: Received) -> Reply:
        if req.method == "POST" and req.path == "/token":
            return self.grant(req)
        match = self.route.match(req.path)
        if match and (match["project"], match["location"]) != (self.credentials["project"],
                                                               self.credentials["location"]):
            return gemini.google_error(404, f"Publisher Model `projects/{match['project']}/locations/"
                                            f"{match['location']}/publishers/google/models/{match['model']}` "
                                            "not found.")
        return super().answer(req)

    def listing(self, req: Received) -> Reply | None:
        return None  # Vertex lists publisher models elsewhere; not faked

    def auth_failure(self, req: Received) -> Reply | None:
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer in self.tokens:
            return None
        return gemini.google_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                                        "token, login cookie or other valid authentication credential. See "
                                        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                                   [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                     "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "domain": "googleapis.com"}])

    def fail(self, fail: Fail, model: str, message: str | None = None) -> Reply:
        if fail.kind == "auth":
            return gemini.google_error(403, "Permission 'aiplatform.endpoints.predict' denied on resource "
                                            f"'//aiplatform.googleapis.com/projects/{self.credentials['project']}/"
                                            f"locations/{self.credentials['location']}/publishers/google/models/"
                                            f"{model}' (or it may not exist).")
        if fail.kind == "rate_limit":
            return gemini.google_error(429, "Resource exhausted. Please try again later. Please refer to "
                                            "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 "
                                            "for more details.")
        return super().fail(fail, model, message)
