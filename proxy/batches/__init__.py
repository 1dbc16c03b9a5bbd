"""Anthropic's Message Batches API on any upstream: stored in SQLite (store), run through the /v1/messages path
(runner), served over HTTP (api)."""
