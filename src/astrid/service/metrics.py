"""Prometheus metrics of the service, served at ``/metrics``.

Each app has its own registry (several apps in one process, as in tests, do not collide).
Requests are labelled by route template (``/api/v1/candidates/{candidate_id}``), not by
path, so the number of series stays bounded.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from astrid.catalog.models import JOB_STATUSES, RUN_STATUSES
from astrid.catalog.queue_stats import QueueStats
from astrid.errors import AstridError, ConfigurationError

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware", "QueueCollector"]

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


class Metrics:
    """The service's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "astrid_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "astrid_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "astrid_pipeline_stage_duration_seconds",
            "Pipeline stage durations of processed uploads.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.candidates = Counter(
            "astrid_candidates_processed",
            "Candidates stored by processed uploads.",
            registry=self.registry,
        )
        self.jobs = Counter(
            "astrid_jobs",
            "Finished jobs by kind and status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.jobs_running = Gauge(
            "astrid_jobs_running", "Jobs being processed now.", registry=self.registry
        )
        self.frames = Counter(
            "astrid_frames",
            "Frames by outcome (done, skipped, failed...) and the stage a failed one failed at.",
            ["status", "failed_stage"],
            registry=self.registry,
        )

    def observe_frame(
        self,
        timings: Mapping[str, float],
        n_candidates: int,
        *,
        status: str = "done",
        failed_stage: str | None = None,
    ) -> None:
        """Record one frame's outcome, stage durations and candidate count."""
        for stage, seconds in timings.items():
            self.stage_seconds.labels(stage=stage).observe(float(seconds))
        self.candidates.inc(n_candidates)
        self.frames.labels(status=status, failed_stage=failed_stage or "").inc()

    def write_textfile(self, path: str | os.PathLike[str]) -> None:
        """Write the metrics for node_exporter's textfile collector (atomically: a
        temporary file renamed over ``path``), with the time of writing as
        ``astrid_batch_last_run_timestamp_seconds``: how a batch command that exits
        before any scrape reports (``astrid run --metrics-file``)."""
        stamp = Gauge(
            "astrid_batch_last_run_timestamp_seconds",
            "When the batch command wrote these metrics (Unix time).",
            registry=self.registry,
        )
        stamp.set(time.time())
        try:
            write_to_textfile(os.fspath(path), self.registry)
        except OSError as e:
            raise ConfigurationError(f"cannot write the metrics file {path}: {e}") from e
        finally:
            self.registry.unregister(stamp)

    def watch_queues(self, read: Callable[[], QueueStats]) -> None:
        """Report the queues as ``read`` finds them in the catalog at each scrape."""
        self.registry.register(QueueCollector(read))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class QueueCollector(Collector):
    """Gauges of the work queues read from the catalog when scraped (`queue_stats`), so
    every replica reports the same numbers; ``astrid_catalog_up`` is 0 (and the queue
    gauges absent) while the database cannot be read."""

    def __init__(self, read: Callable[[], QueueStats]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("astrid_catalog_up", "Whether the catalog could be read.")
        try:
            stats = self.read()
        except AstridError as e:
            log.warning("metrics: %s", e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily(
            "astrid_queue_jobs", "Jobs by status, from the catalog.", labels=["status"]
        )
        for status in JOB_STATUSES:
            jobs.add_metric([status], stats.jobs.get(status, 0))
        yield jobs
        runs = GaugeMetricFamily(
            "astrid_runs", "Processing runs by status, from the catalog.", labels=["status"]
        )
        for status in RUN_STATUSES:
            runs.add_metric([status], stats.runs.get(status, 0))
        yield runs
        failed = GaugeMetricFamily(
            "astrid_runs_failed_by_stage", "Failed runs by the stage they failed at.",
            labels=["stage"],
        )  # fmt: skip
        for stage, n in sorted(stats.failed_runs_by_stage.items()):
            failed.add_metric([stage], n)
        yield failed
        yield GaugeMetricFamily(
            "astrid_queue_oldest_queued_job_age_seconds",
            "Age of the oldest queued job (0 when none waits).",
            value=stats.oldest_queued_job_s,
        )
        yield GaugeMetricFamily(
            "astrid_runs_oldest_unfinished_age_seconds",
            "Age of the oldest queued or running run (0 when none).",
            value=stats.oldest_unfinished_run_s,
        )


def _route_label(scope: Scope, prefixed: Mapping[int, str]) -> str:
    route = scope.get("route")
    # FastAPI may hand over the router's own route, whose path lacks the include prefix
    if id(route) in prefixed:
        return prefixed[id(route)]
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


class MetricsMiddleware:
    """ASGI middleware counting requests and timing them by route template.

    ``prefixed`` maps ``id(route)`` of routes included under a prefix to their full path
    template (``/api/v1/candidates/{candidate_id}``).
    """

    def __init__(
        self, app: ASGIApp, metrics: Metrics, prefixed: Mapping[int, str] | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.prefixed = dict(prefixed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: dict[str, Any] = {"code": 500}
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_label(scope, self.prefixed)
            method = str(scope.get("method", "?"))
            self.metrics.requests.labels(
                method=method, route=route, status=str(status["code"])
            ).inc()
            self.metrics.latency.labels(method=method, route=route).observe(
                time.perf_counter() - start
            )
