"""A stored batch as Anthropic's `message_batch` object (the API's answers and `orbridge batches --json`)."""

from __future__ import annotations

import time

from .store import OUTCOMES


def rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    whole = int(seconds)
    micros = int(round((seconds - whole) * 1_000_000)) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def status(batch: dict) -> str:
    if batch["ended_at"] is not None:
        return "ended"
    return "canceling" if batch["cancel_initiated_at"] is not None else "in_progress"


def message_batch(batch: dict, base_url: str) -> dict:
    """The object, with `results_url` pointing back at whoever serves it (`base_url`) once the batch ended.
    Counts are live: requests move out of `processing` as each finishes."""
    counts = {outcome: batch[outcome] for outcome in OUTCOMES}
    ended = batch["ended_at"] is not None
    return {
        "id": batch["id"], "type": "message_batch", "processing_status": status(batch),
        "request_counts": {"processing": batch["total"] - sum(counts.values()), **counts},
        "created_at": rfc3339(batch["created_at"]), "ended_at": rfc3339(batch["ended_at"]),
        "expires_at": rfc3339(batch["expires_at"]), "cancel_initiated_at": rfc3339(batch["cancel_initiated_at"]),
        "archived_at": None,
        "results_url": f"{base_url.rstrip('/')}/v1/messages/batches/{batch['id']}/results" if ended else None,
    }
