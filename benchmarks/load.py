"""Load: requests/s and latency percentiles of the service under concurrent clients.

Usage: python benchmarks/load.py [--concurrency 16 64] [--requests 2000] [--max-seconds 60]
                                 [--size 512] [--data-dir DIR] [--label NAME]
                                 [--out docs/results]

Starts ``astrid serve`` as its own process on a free port of 127.0.0.1 (the way it is
deployed), over a catalog that ``astrid demo`` filled with what the pipeline really produces
(or over ``--data-dir`` when given), creates a viewer API key with ``astrid keys create``,
then, for each endpoint and each concurrency, sends ``--requests`` requests (stopping early
after ``--max-seconds``) from that many concurrent httpx clients and records every latency:

- ``candidates``: ``GET /api/v1/candidates?limit=50`` (the list, default sort)
- ``candidate``: ``GET /api/v1/candidates/{id}`` (one candidate with its context)
- ``cone``: ``GET /api/v1/candidates/cone`` (60″ around a candidate)
- ``web``: ``GET /candidates`` (the review page's list, HTML)

Traffic goes to 127.0.0.1 only, bounded in count and time. Writes
``<out>/load_<label>.json`` and prints a table (requests/s, p50, p95, p99 in ms, errors).
The service's rate limits, where configured, are raised for the benchmark's own key so that
what is measured is the server, not the limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _astrid(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "astrid.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"astrid {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _prepare(data_dir: Path | None, size: int, work: Path, env: dict[str, str]) -> Path:
    if data_dir is not None:
        return data_dir
    out = work / "demo"
    _astrid("demo", "--size", str(size), "--out", str(out), "--seed", "0", env=env)
    return out / "data"


def _viewer_key(data_dir: Path, env: dict[str, str]) -> str:
    text = _astrid("keys", "create", "load-benchmark", "--data-dir", str(data_dir), env=env)
    match = re.search(r"^(astrid_\S+)$", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no key in the output of astrid keys create:\n{text}")
    return match.group(1)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"astrid serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"astrid serve did not answer within {seconds} s")


async def _hammer(
    url: str,
    path: str,
    params: dict[str, Any],
    headers: dict[str, str],
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as c:

        async def worker() -> None:
            nonlocal sent
            while sent < requests and time.perf_counter() - start < max_seconds:
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await c.get(path, params=params)
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000.0
    ok = statuses.get(200, 0)
    return {
        "requests": len(latencies),
        "ok": ok,
        "errors": {str(k): v for k, v in statuses.items() if k != 200},
        "seconds": wall,
        "requests_per_s": len(latencies) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint and level")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per endpoint/level")
    parser.add_argument("--size", type=int, default=512, help="demo field size")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--label", default="current")
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTRID_")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = _prepare(args.data_dir, args.size, work, env)
        key = _viewer_key(data_dir, env)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        serve_env = {**env, "ASTRID_RATE_LIMIT_PER_MINUTE": "100000000"}
        cmd = [sys.executable, "-m", "astrid.cli", "serve", "--port", str(port)]
        process = subprocess.Popen(
            [*cmd, "--data-dir", str(data_dir)], env=serve_env, stdout=subprocess.DEVNULL
        )
        try:
            _wait_until_up(url, process)
            headers = {"X-API-Key": key}
            items = httpx.get(
                f"{url}/api/v1/candidates", params={"limit": 1}, headers=headers, timeout=30
            ).json()["items"]
            if not items:
                raise SystemExit("the catalog has no candidates to ask for")
            first = items[0]
            endpoints = {
                "candidates": ("/api/v1/candidates", {"limit": 50}),
                "candidate": (f"/api/v1/candidates/{first['id']}", {}),
                "cone": (
                    "/api/v1/candidates/cone",
                    {"ra": first["ra"], "dec": first["dec"], "radius": 60},
                ),
                "web": ("/candidates", {}),
            }
            results: dict[str, dict[str, Any]] = {}
            for name, (path, params) in endpoints.items():
                for level in args.concurrency:
                    results[f"{name}@{level}"] = asyncio.run(
                        _hammer(
                            url,
                            path,
                            params,
                            headers,
                            concurrency=level,
                            requests=args.requests,
                            max_seconds=args.max_seconds,
                        )
                    )
        finally:
            process.terminate()
            process.wait(30)

    report = {
        "label": args.label,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": "python benchmarks/load.py " + " ".join(argv or sys.argv[1:]),
        "server": "astrid serve (uvicorn, one process)",
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"load_{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'endpoint@concurrency':24} {'req/s':>8} {'p50':>8} {'p95':>8} {'p99':>8}  errors")
    for name, r in results.items():
        print(
            f"{name:24} {r['requests_per_s']:8.1f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} "
            f"{r['p99_ms']:8.1f}  {r['errors'] or '-'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
