"""Message Batches through `orbridge serve`: requests per second against a paced upstream, and serve's peak
RSS (VmHWM) over a 100,000-request batch: created, run and its results read back.

    python -m bench.batches [--quick] [--json out.json]

The fake upstream (its own process) answers every non-streamed chat completion after a fixed delay, like a
model that takes that long; the proxy runs as `orbridge serve --quiet` in another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

from .__main__ import ROOT, TOKEN, free_port, rss_mib, wait_port
from .fake_server import COMPLETION, read_body

TARGET_RSS_MIB = 150


def paced(delay: float):
    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": COMPLETION})
    return app


class Served:
    """A paced fake upstream and `orbridge serve` in front of it, with a private state dir."""

    def __init__(self, tmp: Path, delay_ms: int, concurrency: int) -> None:
        self.fake_port, self.port = free_port(), free_port()
        self.fake = subprocess.Popen([sys.executable, "-m", "bench.batches", "--fake", str(self.fake_port),
                                      str(delay_ms)], cwd=ROOT)
        wait_port(self.fake_port)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "XDG_STATE_HOME": str(tmp / f"state-{self.port}"),
               "XDG_CONFIG_HOME": str(tmp / "cfg"), "XDG_CACHE_HOME": str(tmp / "cache"), "ORBRIDGE_TOKEN": TOKEN}
        self.proc = subprocess.Popen([sys.executable, "-m", "orbridge.cli", "serve", "--port", str(self.port),
                                      "--quiet", "--base-url", f"http://127.0.0.1:{self.fake_port}/v1", "--model",
                                      "bench/batch", "--batch-concurrency", str(concurrency)],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        wait_port(self.port)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers={"x-api-key": TOKEN}, timeout=600)

    def close(self) -> None:
        self.http.close()
        for p in (self.proc, self.fake):
            p.terminate()
            p.wait(20)

    def run(self, n: int) -> tuple[float, float, int]:
        """Create an n-request batch (the body streamed), wait for its end, read its results: (seconds to
        create, seconds from creation to the end, result lines)."""
        def body():
            yield b'{"requests":['
            for i in range(n):
                item = {"custom_id": f"req-{i}", "params": {"model": "claude-sonnet-4-5", "max_tokens": 32,
                                                            "messages": [{"role": "user", "content": f"item {i}"}]}}
                yield (b"," if i else b"") + json.dumps(item).encode()
            yield b"]}"

        start = time.perf_counter()
        created = self.http.post("/v1/messages/batches", content=body())
        created.raise_for_status()
        made = time.perf_counter()
        batch_id = created.json()["id"]
        while self.http.get(f"/v1/messages/batches/{batch_id}").json()["processing_status"] != "ended":
            time.sleep(0.2)
        ended = time.perf_counter()
        lines = 0
        with self.http.stream("GET", f"/v1/messages/batches/{batch_id}/results") as r:
            for _line in r.iter_lines():
                lines += 1
        return made - start, ended - made, lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--fake", nargs=2, type=int, metavar=("PORT", "DELAY_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        uvicorn.run(paced(args.fake[1] / 1000), host="127.0.0.1", port=args.fake[0], log_level="warning",
                    access_log=False)
        return
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="orbridge-bench-batches-"))
    rows = []
    n = 500 if args.quick else 2000
    for delay_ms, concurrency in ((50, 8), (50, 32)):
        served = Served(tmp, delay_ms, concurrency)
        try:
            _made, took, lines = served.run(n)
        finally:
            served.close()
        assert lines == n, (lines, n)
        ideal = concurrency * 1000 / delay_ms
        rows.append({"benchmark": f"{n} requests, upstream {delay_ms} ms, concurrency {concurrency}",
                     "value": round(n / took, 1), "unit": "requests/s", "note": f"ideal {ideal:.0f}"})
    big = 20_000 if args.quick else 100_000
    served = Served(tmp, 0, 32)
    try:
        made, took, lines = served.run(big)
        peak = rss_mib(served.proc.pid, "VmHWM")
    finally:
        served.close()
    assert lines == big, (lines, big)
    rows.append({"benchmark": f"{big:,}-request batch: create (body streamed in)", "value": round(made, 1),
                 "unit": "s", "note": ""})
    rows.append({"benchmark": f"{big:,}-request batch: run, upstream instant, concurrency 32",
                 "value": round(big / took, 1), "unit": "requests/s", "note": f"{took:.0f} s"})
    rows.append({"benchmark": f"{big:,}-request batch: serve's peak RSS (VmHWM)", "value": round(peak, 1),
                 "unit": "MiB", "note": f"target ≤ {TARGET_RSS_MIB}: {'met' if peak <= TARGET_RSS_MIB else 'NOT met'}"})
    for row in rows:
        print(f"{row['benchmark']:<62} {row['value']:>9} {row['unit']:<11} {row['note']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
