"""`orbridge statusline` as Claude Code runs it (a new process per refresh, up to every 300 ms), against a
full request log (~10 MB, just under rotation) with this session's lines at its end, and against a
bare `python -c pass` measured in the same run. Target: ≤ 50 ms.

    python -m bench.statusline [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SESSION = "bench-session-0001"


def write_log(path: Path, size: int = 10 * 1024 * 1024) -> int:
    """Other sessions' lines up to `size`, then 40 of this session's from the last ten minutes."""
    now = time.time()
    line = {"time": 0, "session": "", "profile": "default", "provider": "openrouter", "model": "claude-sonnet-4-5",
            "upstream_model": "qwen/qwen3-coder", "stream": True, "status": 200, "duration_ms": 2100.5,
            "ttft_ms": 640.2, "route": "default", "input_tokens": 31000, "output_tokens": 420, "cost": 0.0123}
    rows = []
    written = 0
    i = 0
    while written < size:
        rec = {**line, "time": round(now - 86400 + i, 3), "session": f"other-{i // 50}"}
        text = json.dumps(rec, separators=(",", ":")) + "\n"
        rows.append(text)
        written += len(text)
        i += 1
    for j in range(40):
        rows.append(json.dumps({**line, "time": round(now - 600 + j * 10, 3), "session": SESSION},
                               separators=(",", ":")) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(rows))
    return path.stat().st_size


def timed(argv: list[str], stdin: str, env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=True)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    exe = shutil.which("orbridge") or str(Path(sys.executable).parent / "orbridge")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ORBRIDGE_LOG_DIR": str(Path(tmp) / "log")}
        size = write_log(Path(tmp) / "log" / "requests.jsonl")
        status = json.dumps({"session_id": SESSION, "cost": {"total_duration_ms": 620_000},
                             "context_window": {"context_window_size": 262_144}})
        print(subprocess.run([exe, "statusline"], input=status, env=env, capture_output=True, text=True).stdout,
              end="")
        base = timed([sys.executable, "-c", "pass"], "", env, args.runs)
        line = timed([exe, "statusline"], status, env, args.runs)
        empty = timed([exe, "statusline"], json.dumps({"session_id": "none-such"}), env, args.runs)
    print(f"log {size / 1e6:.1f} MB, {args.runs} runs each, medians (p90)")
    for name, values in (("python -c pass (baseline)", base), ("orbridge statusline, session at the end", line),
                         ("orbridge statusline, unknown session (whole file)", empty)):
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        print(f"  {name:<52} {statistics.median(values):6.1f} ms ({p90:.1f})")


if __name__ == "__main__":
    main()
