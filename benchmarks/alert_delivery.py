"""Latency from the end of a frame's subtraction to its alerts delivered by webhook.

A simulated sequence (`astrid.simulation.simulate_sequence`, default 1024², 10 epochs)
goes through `Pipeline` one frame per call, as a survey runs it when a frame arrives
(SQLite, local store, scoring on). A subscription with the filter ``rb >= 0`` (every
published alert) sends each alert to a webhook on a local HTTP server that records when
each request arrived. Per alert, latency = arrival − the moment the frame's difference
stage ended (the start of the stage after it, from `Pipeline.run`'s ``on_stage``); the
stages in between (scoring, writing, the objects stage, the alerts stage, delivery) are
what it measures. Then the same with a webhook that never answers (the endpoint hangs):
how much longer a frame takes, and that its alerts are queued for retry, not lost.

    python benchmarks/alert_delivery.py [--size 1024] [--epochs 10] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from markdown_report import machine_line, write_report

from astrid.catalog import connect
from astrid.catalog.deliveries import delivery_counts
from astrid.catalog.subscriptions import add_filter, add_subscription
from astrid.delivery import verify_signature
from astrid.pipeline.runner import Pipeline
from astrid.simulation import SequenceConfig, simulate_sequence
from astrid.store import ObjectStore

SECRET = "benchmark-secret"


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint recording (alert id, arrival time, signature valid)."""

    daemon_threads = True

    def __init__(self, hang_s: float = 0.0) -> None:
        self.arrivals: list[tuple[int, float, bool]] = []
        self.hang_s = hang_s
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.server.hang_s:
            time.sleep(self.server.hang_s)
            return
        valid = verify_signature(
            SECRET,
            self.headers.get("X-AstrID-Signature", ""),
            self.headers.get("X-AstrID-Timestamp", ""),
            body,
        )
        self.server.arrivals.append((int(json.loads(body)["alert_id"]), arrived, valid))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def config_for(size: int, epochs: int) -> SequenceConfig:
    base = SequenceConfig()
    scale = (size / 512) ** 2
    field = replace(
        base.field, shape=(size, size), n_stars=int(250 * scale), n_galaxies=int(15 * scale)
    )
    return replace(
        base,
        field=field,
        schedule=tuple(base.schedule[:epochs]),
        n_transients=int(base.n_transients * scale),
        n_variables=int(base.n_variables * scale),
        asteroids_per_night=int(base.asteroids_per_night * scale),
    )


def run_sequence(paths: dict[str, Any], root: Path, receiver: Receiver) -> dict[str, Any]:
    """Every epoch through the pipeline, one per call; latencies and frame times."""
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    latencies: list[float] = []
    frame_seconds: list[float] = []
    after_subtraction: list[float] = []
    stages: dict[str, list[float]] = {
        "score+write": [],
        "objects": [],
        "alerts": [],
        "delivery": [],
    }
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        add_filter(catalog, name="all", expression="rb >= 0")
        add_subscription(
            catalog,
            name="hook",
            filter_name="all",
            kind="webhook",
            target=receiver.url,
            secret=SECRET,
            options={"timeout": 2.0},
        )
        pipeline = Pipeline(catalog, ObjectStore(str(root / "store")), workers=1)
        for frame in paths["epochs"]:
            ended: dict[str, float] = {}

            def on_stage(_: str, stage: str, ended: dict[str, float] = ended) -> None:
                if stage in ("score", "write") and "difference" not in ended:
                    ended["difference"] = time.time()

            seen = len(receiver.arrivals)
            start = time.time()
            report = pipeline.run(paths["reference"], [frame], root / "out", on_stage=on_stage)
            done = time.time()
            timings = report.frames[0].timings
            stages["score+write"].append(timings.get("score", 0.0) + timings.get("write", 0.0))
            stages["objects"].append(report.objects.seconds if report.objects else 0.0)
            stages["alerts"].append(report.alerts.seconds if report.alerts else 0.0)
            stages["delivery"].append(report.deliveries.seconds if report.deliveries else 0.0)
            frame_seconds.append(done - start)
            after_subtraction.append(done - ended["difference"])
            latencies += [t - ended["difference"] for _, t, _ in receiver.arrivals[seen:]]
        counts = delivery_counts(catalog)
    receiver.shutdown()
    receiver.server_close()
    return {
        "latencies": np.array(latencies),
        "frame_seconds": np.array(frame_seconds),
        "after_subtraction": np.array(after_subtraction),
        "valid": all(v for _, _, v in receiver.arrivals),
        "stages": {k: float(np.median(v)) for k, v in stages.items()},
        "counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    seq = simulate_sequence(config_for(args.size, args.epochs), seed=args.seed)
    lines = [
        machine_line(
            "python benchmarks/alert_delivery.py "
            f"--size {args.size} --epochs {args.epochs} --seed {args.seed}"
        ),
        "",
        "| endpoint | alerts delivered | latency median (s) | p95 (s) | max (s) "
        "| after subtraction per frame (s) | of which score+write / objects / alerts / "
        "delivery (s) | frame (s) | delivery records |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, hang in (("answers at once", 0.0), ("hangs (timeout 2 s)", 60.0)):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            paths = seq.write(root / "sequence")
            result = run_sequence(paths, root, Receiver(hang))
        lat = result["latencies"]
        stats = (
            (f"{np.median(lat):.2f}", f"{np.percentile(lat, 95):.2f}", f"{lat.max():.2f}")
            if lat.size
            else ("–", "–", "–")
        )
        assert result["valid"], "a webhook signature did not verify"
        lines.append(
            f"| {name} | {lat.size} | {' | '.join(stats)} "
            f"| {np.median(result['after_subtraction']):.2f} "
            f"| {' / '.join(f'{v:.2f}' for v in result['stages'].values())} "
            f"| {np.median(result['frame_seconds']):.2f} "
            f"| {json.dumps(result['counts'])} |"
        )
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
