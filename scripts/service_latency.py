"""Request latency of a running `astrid serve`: sequential requests, median and p95 per route.

    python scripts/service_latency.py --url http://127.0.0.1:8000 --key astrid_... [--n 200]

Reads a few candidate ids from the API first, then times each route ``--n`` times with one
keep-alive connection (client and server on the same machine). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with httpx.Client(base_url=args.url, headers={"X-API-Key": args.key}, timeout=30) as client:
        first = client.get("/api/v1/candidates", params={"limit": 1}).json()["items"][0]
        cid, ra, dec = first["id"], first["ra"], first["dec"]
        routes = {
            "GET /api/v1/health": "/api/v1/health",
            "GET /api/v1/candidates?limit=50&sort=abs_scorr": (
                "/api/v1/candidates?limit=50&sort=abs_scorr&order=desc"
            ),
            "GET /api/v1/candidates/{id}": f"/api/v1/candidates/{cid}",
            "GET /api/v1/candidates/cone (60 arcsec)": (
                f"/api/v1/candidates/cone?ra={ra}&dec={dec}&radius=60"
            ),
            "GET /api/v1/candidates/{id}/cutouts/difference.png": (
                f"/api/v1/candidates/{cid}/cutouts/difference.png"
            ),
            "GET /api/v1/exports/candidates.csv": "/api/v1/exports/candidates.csv",
            "GET /candidates/{id} (page)": f"/candidates/{cid}",
        }
        print("| route | median ms | p95 ms |")
        print("|---|---|---|")
        for name, path in routes.items():
            client.get(path).raise_for_status()  # warm up
            times = []
            for _ in range(args.n):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"| {name} | {statistics.median(times):.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
