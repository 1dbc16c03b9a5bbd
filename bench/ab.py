"""Paired A/B of the request path: this checkout against another commit, in one loop.

    python -m bench.ab REV [--rounds 3] [--requests 1000]
    python -m bench.ab --floor      # against bench/floor.py: the same web stack with no logic

Two `orbridge serve` processes (this working tree, and REV checked out in a temporary git worktree) in front
of one fake upstream. Each iteration times the fake directly, then both proxies in alternating order, so
machine noise hits both alike; it prints each one's added latency and the median of the per-iteration
differences. On a shared 2-core machine single `python -m bench` runs swing by ±0.1 ms; paired differences
of a few hundredths of a millisecond are stable in sign from round to round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .__main__ import ROOT, TOKEN, free_port, wait_port

BODY = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
STREAM = {"model": "bench/chunks-20", "max_tokens": 100, "stream": True,
          "messages": [{"role": "user", "content": "hi"}]}
DIRECT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def importable(source: Path, where: Path) -> Path:
    """A folder from which `source`'s cli/ and proxy/ import as `orbridge.cli` and `orbridge.proxy`, whatever
    checkout the virtualenv's editable install points at."""
    package = where / "orbridge"
    package.mkdir(parents=True)
    for name in ("cli", "proxy"):
        (package / name).symlink_to(source / name)
    return where


def checkout(rev: str, where: Path) -> Path:
    """REV in a temporary git worktree (removed by `main`), importable (see `importable`)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(where / "src"), rev],
                   check=True)
    return importable(where / "src", where / "path-b")


def serve(port: int, fake: str, home: Path, pythonpath: Path) -> subprocess.Popen:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "c"), "XDG_STATE_HOME": str(home / "s"),
           "XDG_CACHE_HOME": str(home / "k"), "HOME": str(home), "ORBRIDGE_TOKEN": TOKEN,
           "PYTHONPATH": str(pythonpath)}
    home.mkdir(parents=True)
    return subprocess.Popen([sys.executable, "-m", "orbridge.cli", "serve", "--port", str(port), "--quiet",
                             "--base-url", fake, "--model", "bench/chunks-20"], env=env, stdout=subprocess.DEVNULL)


async def first_token(client: httpx.AsyncClient, url: str, body: dict, headers: dict, marker: str) -> float:
    start, first = time.perf_counter(), None
    async with client.stream("POST", url, json=body, headers=headers) as resp:
        async for line in resp.aiter_lines():
            if first is None and marker in line:
                first = time.perf_counter()
    return (first or time.perf_counter()) - start


def report(name: str, direct: list, a: list, b: list) -> None:
    d, ma, mb = (statistics.median(x) * 1e3 for x in (direct, a, b))
    paired = statistics.median([x - y for x, y in zip(a, b, strict=True)]) * 1e3
    print(f"{name}: direct {d:.3f} ms, this checkout +{ma - d:.3f} ms, base +{mb - d:.3f} ms, "
          f"paired difference {paired:+.3f} ms")


async def one_round(fake: str, a: str, b: str, n: int) -> None:
    auth = {"x-api-key": TOKEN}
    async with httpx.AsyncClient(timeout=30) as client:
        direct, took = [], {a: [], b: []}
        for i in range(n + 30):
            start = time.perf_counter()
            await client.post(f"{fake}/chat/completions", json=DIRECT)
            elapsed = time.perf_counter() - start
            for url in (a, b) if i % 2 else (b, a):
                start = time.perf_counter()
                (await client.post(f"{url}/v1/messages", json=BODY, headers=auth)).raise_for_status()
                if i >= 30:
                    took[url].append(time.perf_counter() - start)
            if i >= 30:
                direct.append(elapsed)
        report("small non-stream request", direct, took[a], took[b])
        direct, took = [], {a: [], b: []}
        for i in range(n // 3 + 10):
            elapsed = await first_token(client, f"{fake}/chat/completions", STREAM, {}, '"content":"tok')
            for url in (a, b) if i % 2 else (b, a):
                value = await first_token(client, f"{url}/v1/messages", STREAM, auth, "text_delta")
                if i >= 10:
                    took[url].append(value)
            if i >= 10:
                direct.append(elapsed)
        report("time to first token", direct, took[a], took[b])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab")
    parser.add_argument("rev", nargs="?", help="the commit to compare this working tree with")
    parser.add_argument("--floor", action="store_true", help="compare with bench/floor.py instead of a commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    if (args.rev is None) == (not args.floor):
        parser.error("give a commit or --floor")
    tmp = Path(tempfile.mkdtemp(prefix="orbridge-ab-"))
    procs: list[subprocess.Popen] = []
    try:
        fake_port, a_port, b_port = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.fake_server", str(fake_port)], cwd=ROOT))
        wait_port(fake_port)
        fake = f"http://127.0.0.1:{fake_port}/v1"
        procs.append(serve(a_port, fake, tmp / "home-a", importable(ROOT, tmp / "path-a")))
        if args.floor:
            procs.append(subprocess.Popen([sys.executable, "-m", "bench.floor", str(b_port), fake], cwd=ROOT))
        else:
            procs.append(serve(b_port, fake, tmp / "home-b", checkout(args.rev, tmp)))
        wait_port(a_port)
        wait_port(b_port)
        print(f"this working tree against {args.rev or 'bench/floor.py'}, {args.rounds} rounds of "
              f"{args.requests} requests")
        for _ in range(args.rounds):
            asyncio.run(one_round(fake, f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}",
                                  args.requests))
    finally:
        try:
            for proc in procs:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        finally:
            if (tmp / "src").exists():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "src")],
                               check=False)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
