"""Run every benchmark with its baseline in the same run; print a table, optionally write JSON.

    python -m bench [--json results.json] [--quick]

The fake upstream runs in its own process and answers instantly; the proxy runs as `orbridge serve` in
another, so only orbridge's overhead is measured. Medians of several runs; ratios against a baseline
measured in the same run. Numbers are what this machine gives, noise included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (`VmHWM`: its peak so far), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.rows: list[dict] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="orbridge-bench-"))
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(self.tmp / "cfg"), "XDG_STATE_HOME": str(self.tmp / "st"),
                    "XDG_CACHE_HOME": str(self.tmp / "cache"), "HOME": str(self.tmp / "home")}
        (self.tmp / "home").mkdir()
        self.fake_port = free_port()
        self.fake = subprocess.Popen([sys.executable, "-m", "bench.fake_server", str(self.fake_port)], cwd=ROOT)
        wait_port(self.fake_port)
        self.fake_url = f"http://127.0.0.1:{self.fake_port}/v1"
        self.proxy_port = free_port()
        self.proxy = subprocess.Popen(
            [sys.executable, "-m", "orbridge.cli", "serve", "--port", str(self.proxy_port), "--quiet",
             "--base-url", self.fake_url, "--model", "bench/chunks-20"],
            cwd=ROOT, env={**self.env, "ORBRIDGE_TOKEN": TOKEN}, stdout=subprocess.DEVNULL)
        wait_port(self.proxy_port)
        self.proxy_url = f"http://127.0.0.1:{self.proxy_port}"

    def close(self) -> None:
        for p in (self.proxy, self.fake):
            p.terminate()
            p.wait(10)

    def row(self, name: str, base: float | None, value: float, p90: float | None, unit: str, verdict: str,
            target: str, met: bool | None) -> None:
        self.rows.append({"benchmark": name, "baseline": base, "median": value, "p90": p90, "unit": unit,
                          "result": verdict, "target": target, "met": met})

    # -- HTTP helpers -------------------------------------------------------------------------------

    async def direct_stream(self, client: httpx.AsyncClient, n: int) -> tuple[float, float, int]:
        body = {"model": f"bench/chunks-{n}", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        return await self._read(client, f"{self.fake_url}/chat/completions", body, {}, b'"content":"tok')

    async def proxy_stream(self, client: httpx.AsyncClient, n: int, model: str | None = None
                           ) -> tuple[float, float, int]:
        body = {"model": model or f"bench/chunks-{n}", "max_tokens": 100, "stream": True,
                "messages": [{"role": "user", "content": "hi"}]}
        return await self._read(client, f"{self.proxy_url}/v1/messages", body, {"x-api-key": TOKEN}, b"text_delta")

    async def _read(self, client, url, body, headers, marker: bytes) -> tuple[float, float, int]:
        start = time.perf_counter()
        first = None
        count = 0
        async with client.stream("POST", url, json=body, headers=headers) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    count += 1
                    if first is None and marker.decode() in line:
                        first = time.perf_counter()
        end = time.perf_counter()
        return end - start, (first or end) - start, count

    # -- benchmarks ---------------------------------------------------------------------------------

    async def requests(self) -> None:
        n = 100 if self.quick else 500
        async with httpx.AsyncClient(timeout=30) as client:
            direct, proxied = [], []
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            abody = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
            for _ in range(20):
                await client.post(f"{self.fake_url}/chat/completions", json=body)
                await client.post(f"{self.proxy_url}/v1/messages", json=abody, headers={"x-api-key": TOKEN})
            for _ in range(n):
                t = time.perf_counter()
                await client.post(f"{self.fake_url}/chat/completions", json=body)
                direct.append(time.perf_counter() - t)
                t = time.perf_counter()
                r = await client.post(f"{self.proxy_url}/v1/messages", json=abody, headers={"x-api-key": TOKEN})
                proxied.append(time.perf_counter() - t)
                r.raise_for_status()
        base, med = statistics.median(direct) * 1e3, statistics.median(proxied) * 1e3
        self.row(f"small non-stream request ×{n}", base, med, pct(proxied, 0.9) * 1e3, "ms",
                 f"+{med - base:.2f} ms", "added p50 ≤ 0.6 ms", med - base <= 0.6)

    async def streams(self) -> None:
        n, runs = (2000, 3) if self.quick else (5000, 7)
        async with httpx.AsyncClient(timeout=60) as client:
            await self.direct_stream(client, 100)
            await self.proxy_stream(client, 100)
            direct, proxied = [], []
            for _ in range(runs):
                direct.append((await self.direct_stream(client, n))[0] / n)
                proxied.append((await self.proxy_stream(client, n))[0] / n)
            base, med = statistics.median(direct) * 1e6, statistics.median(proxied) * 1e6
            self.row(f"{n}-chunk stream, per chunk", base, med, pct(proxied, 0.9) * 1e6, "µs",
                     f"×{med / base:.2f}", "ratio ≤ 1.4", med / base <= 1.4)
            d_ttft, p_ttft = [], []
            for _ in range(20 if self.quick else 50):
                d_ttft.append((await self.direct_stream(client, 20))[1])
                p_ttft.append((await self.proxy_stream(client, 20))[1])
            base, med = statistics.median(d_ttft) * 1e3, statistics.median(p_ttft) * 1e3
            self.row("time to first token", base, med, pct(p_ttft, 0.9) * 1e3, "ms", f"+{med - base:.2f} ms",
                     "added ≤ 1 ms", med - base <= 1)

    async def concurrency(self) -> None:
        # Paced like a fast model (a chunk every 5 ms = 200 tokens/s), so the question is whether the proxy
        # keeps up with many live streams; with an instant upstream every stream is pure CPU and the wall
        # time is simply N times one stream on a single event loop.
        n, pace = 500, 5
        model = f"bench/paced-{n}-{pace}"
        streams = 30 if self.quick else 100
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200)) as client:
            alone = []
            for _ in range(3):
                t = time.perf_counter()
                await self.proxy_stream(client, n, model)
                alone.append(time.perf_counter() - t)
            t = time.perf_counter()
            results = await asyncio.gather(*(self.proxy_stream(client, n, model) for _ in range(streams)),
                                           return_exceptions=True)
            wall = time.perf_counter() - t
        errors = sum(1 for r in results if isinstance(r, BaseException) or r[2] < n)
        base = statistics.median(alone)
        self.row(f"{streams} concurrent streams × {n} chunks ({pace} ms apart)", base * 1e3, wall * 1e3, None, "ms",
                 f"×{wall / base:.2f} wall, {errors} errors", "0 errors; wall ≤ 1.5× one stream",
                 errors == 0 and wall / base <= 1.5)
        self.row("proxy RSS after the concurrency run", None, rss_mib(self.proxy.pid), None, "MiB",
                 f"{rss_mib(self.proxy.pid):.0f} MiB", "≤ 120 MiB", rss_mib(self.proxy.pid) <= 120)

    async def count_tokens(self) -> None:
        sys.path.insert(0, str(ROOT))
        from tests import claude_code_requests as cc

        body = cc.turn1_v197("count these tokens")
        for key in ("metadata", "max_tokens", "thinking", "context_management", "output_config", "stream"):
            body.pop(key)
        for tool in body["tools"]:
            tool["description"] = "Describes what the tool does and when to use it. " * 96
        size = len(json.dumps(body))
        times = []
        async with httpx.AsyncClient(timeout=30) as client:
            for i in range(60):
                t = time.perf_counter()
                r = await client.post(f"{self.proxy_url}/v1/messages/count_tokens", json=body,
                                      headers={"x-api-key": TOKEN})
                if i >= 10:
                    times.append(time.perf_counter() - t)
                r.raise_for_status()
        med = statistics.median(times) * 1e3
        self.row(f"count_tokens on a {size // 1024} KB body", None, med, pct(times, 0.9) * 1e3, "ms",
                 f"{med:.1f} ms", "≤ 20 ms p50", med <= 20)

    def idle_rss(self) -> None:
        httpx.post(f"{self.proxy_url}/v1/messages", headers={"x-api-key": TOKEN}, timeout=30, json={
            "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "warm up"}]}).raise_for_status()
        time.sleep(0.2)
        value = rss_mib(self.proxy.pid)
        self.row("proxy RSS idle (default path)", None, value, None, "MiB", f"{value:.0f} MiB", "≤ 80 MiB",
                 value <= 80)

    def cli(self) -> None:
        runs = 5 if self.quick else 10

        def timed(cmd: list[str]) -> list[float]:
            out = []
            for _ in range(runs):
                t = time.perf_counter()
                subprocess.run(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                out.append(time.perf_counter() - t)
            return out

        base = timed([sys.executable, "-c", "pass"])
        helps = timed([sys.executable, "-m", "orbridge.cli", "--help"])
        runs_true = timed([sys.executable, "-m", "orbridge.cli", "run", "--base-url", self.fake_url, "--model",
                           "m", "--", "true"])
        b = statistics.median(base) * 1e3
        h, r = statistics.median(helps) * 1e3, statistics.median(runs_true) * 1e3
        self.row("orbridge --help", b, h, pct(helps, 0.9) * 1e3, "ms", f"{h:.0f} ms (python -c pass {b:.0f})",
                 "≤ 150 ms", h <= 150)
        self.row("orbridge run -- true", b, r, pct(runs_true, 0.9) * 1e3, "ms", f"{r:.0f} ms", "≤ 400 ms", r <= 400)
        idle = timed([sys.executable, "-m", "orbridge.cli", "run", "--base-url", self.fake_url, "--model",
                      "m", "--", "sleep", "0.5"])
        i = statistics.median(idle) * 1e3 - 500
        self.row("orbridge run -- sleep 0.5 (proxy fully up and stopped), minus 500 ms", b, i, None, "ms",
                 f"{i:.0f} ms", "(informative)", None)

    def claude(self) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.claude_setup import binary

        claude = binary()
        if not claude.exists():
            self.row("orbridge run -- claude -p hi", None, float("nan"), None, "ms", "skipped: no claude in .cache",
                     "ratio ≤ 1.15", None)
            return
        work = self.tmp / "work"
        work.mkdir(exist_ok=True)
        env = {**self.env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_MAX_RETRIES": "0"}
        direct_env = {**env, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{self.fake_port}",
                      "ANTHROPIC_AUTH_TOKEN": "x", "ANTHROPIC_API_KEY": "", "ANTHROPIC_MODEL": "bench/chunks-20"}
        orb = [sys.executable, "-m", "orbridge.cli", "run", "--base-url", self.fake_url, "--model",
               "bench/chunks-20", "--claude", str(claude), "--", "claude", "-p", "hi"]
        direct, proxied = [], []
        for _ in range(3 if self.quick else 7):
            t = time.perf_counter()
            subprocess.run([str(claude), "-p", "hi"], env=direct_env, cwd=work, capture_output=True, check=False)
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(orb, env=env, cwd=work, capture_output=True, check=False)
            proxied.append(time.perf_counter() - t)
        b, m = statistics.median(direct) * 1e3, statistics.median(proxied) * 1e3
        self.row("orbridge run -- claude -p hi", b, m, pct(proxied, 0.9) * 1e3, "ms", f"×{m / b:.2f}",
                 "ratio ≤ 1.15", m / b <= 1.15)

    async def run_all(self) -> None:
        self.idle_rss()
        await self.requests()
        await self.streams()
        await self.count_tokens()
        await self.concurrency()
        self.cli()
        self.claude()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke check, noisier)")
    args = parser.parse_args()
    bench = Bench(args.quick)
    started = time.time()
    try:
        asyncio.run(bench.run_all())
    finally:
        bench.close()
    print(f"orbridge benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {time.time() - started:.0f} s\n")
    print("| benchmark | baseline | median | p90 | unit | result | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in bench.rows:
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        met = {True: "yes", False: "**no**", None: "n/a"}[r["met"]]
        print(f"| {r['benchmark']} | {fmt(r['baseline'])} | {fmt(r['median'])} | {fmt(r['p90'])} | {r['unit']} | "
              f"{r['result']} | {r['target']} | {met} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                                               "cores": os.cpu_count(), "rows": bench.rows}, indent=1))


if __name__ == "__main__":
    main()
