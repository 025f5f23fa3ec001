"""The job worker: runs queued jobs one at a time, in the service or as `astrid worker`.

In the embedded default it is a daemon thread of ``astrid serve``; a fleet sets
``ASTRID_SERVE_WORKER=false`` so that the web replicas only enqueue, and runs any number
of ``astrid worker`` processes on any hosts that share the catalog and the store. Either way
it claims the oldest queued ``process`` job (an uploaded science image and
its reference, both registered observations), runs `astrid.pipeline.runner.Pipeline` on
them straight from the object store and records the run on the job. The frame runs in a
child process (`astrid.pipeline.frame_process`), so a native crash in it (a segfault in a
C extension) fails that job with the signal named, never the server. It is woken when a
job is queued and otherwise polls, so jobs queued by another process sharing the catalog
are picked up too. A running job's lease is renewed by heartbeat, so a long job is never
taken from a live worker; jobs left running by a worker that died are requeued once their
lease lapses, and the stale worker's outcome is refused (the claim's attempt number fences
it); the pipeline's run keys and claims make the retry safe. A job claimed
``max_attempts`` times without ever finishing (it kills each worker that runs it) is
marked failed instead.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

from astrid.catalog import Catalog
from astrid.catalog.jobs import JobRecord, claim_job, finish_job, renew_job, requeue_stale_jobs
from astrid.errors import AstridError, ClaimLostError
from astrid.pipeline.claiming import Heartbeat, shared_memory_catalog
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.frame import process_frame
from astrid.pipeline.frame_process import FrameFunction
from astrid.pipeline.object_context import ContextSources
from astrid.pipeline.runner import Pipeline
from astrid.service.metrics import Metrics
from astrid.store import ObjectStore

__all__ = ["PROCESS_JOB", "JobWorker"]

logger = logging.getLogger(__name__)

PROCESS_JOB = "process"


class JobWorker:
    """Runs queued jobs in a background thread.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
    config : PipelineConfig
        Science settings of every job (`PipelineConfig.from_settings`).
    work_dir : Path
        Gets ``job-<id>/`` folders with each job's products.
    metrics : Metrics
        Gets stage durations and candidate counts.
    lease : timedelta
        A job is claimed for this long and its lease renewed every third of it while it
        runs; a job whose lease lapsed (its worker died or hung) is requeued.
    max_attempts : int
        Claims of a job before one whose lease expired is given up (``failed``).
    poll_seconds : float
        How often to look for jobs when not woken.
    frame_function : callable
        What a frame runs in its child process (default
        `astrid.pipeline.frame.process_frame`; tests inject faults here).
    context : ContextSources, optional
        Catalogues of the objects stage.
    scheduler : str, optional
        A Dask scheduler's address: each job's frame runs on its workers
        (`astrid.pipeline.dask_frames`).
    reference_cache, reference_cache_bytes
        Where references' preparations are kept for the next jobs, and the budget
        (`Pipeline`'s): each job's frame runs in a child process of its own, which would
        otherwise prepare its reference again.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        config: PipelineConfig,
        *,
        work_dir: Path,
        metrics: Metrics,
        lease: timedelta = timedelta(minutes=2),
        max_attempts: int = 3,
        poll_seconds: float = 5.0,
        frame_function: FrameFunction = process_frame,
        context: ContextSources | None = None,
        scheduler: str | None = None,
        reference_cache: Path | None = None,
        reference_cache_bytes: int = 0,
    ) -> None:
        self.catalog = catalog
        self.reference_cache = reference_cache
        self.reference_cache_bytes = reference_cache_bytes
        self.scheduler = scheduler
        self.context = context
        self.store = store
        self.work_dir = work_dir
        self.metrics = metrics
        self.config = config
        self.lease = lease
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.frame_function = frame_function
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.run_forever, name="astrid-worker", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        """Look for jobs now (a job was just queued)."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop after the current job and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_forever(self) -> None:
        """Run jobs until `stop`: requeue lapsed ones, drain the queue, wait to be woken."""
        while not self._stop.is_set():
            try:
                self.drain()
            except AstridError as e:
                logger.error("job worker: %s", e)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def drain(self) -> int:
        """Requeue jobs whose lease lapsed, then run queued jobs until none is left (or
        `stop`); the number run."""
        requeued = requeue_stale_jobs(
            self.catalog, lease=self.lease, max_attempts=self.max_attempts
        )
        if requeued:
            logger.warning("requeued %d jobs whose worker stopped", requeued)
        n = 0
        while not self._stop.is_set() and self.run_once():
            n += 1
        return n

    def request_stop(self) -> None:
        """Stop after the current job, without waiting (a signal handler's call)."""
        self._stop.set()
        self._wake.set()

    def run_once(self) -> bool:
        """Claim and run one job; False when none was queued."""
        job = claim_job(
            self.catalog, kinds=(PROCESS_JOB,), max_attempts=self.max_attempts, lease=self.lease
        )
        if job is None:
            return False
        self.metrics.jobs_running.inc()
        heartbeat = Heartbeat(
            lambda: self._renew(job),
            self.lease.total_seconds() / 3.0,
            enabled=not shared_memory_catalog(self.catalog),
        )
        try:
            with heartbeat:
                status, run_id, error = self._process(job)
        except AstridError as e:
            status, run_id, error = "failed", None, str(e)
        except Exception as e:  # a broken job must not kill the worker; it is recorded
            logger.exception("job %d failed unexpectedly", job.id)
            status, run_id, error = "failed", None, f"{type(e).__name__}: {e}"
        finally:
            self.metrics.jobs_running.dec()
        try:
            finish_job(
                self.catalog,
                job.id,
                status=status,
                run_id=run_id,
                error=error,
                attempt=job.attempts,
            )
        except ClaimLostError as e:  # another worker took it over: its outcome stands
            logger.warning("%s", e)
            return True
        self.metrics.jobs.labels(kind=job.kind, status=status).inc()
        logger.info("job %d %s (run %s)", job.id, status, run_id)
        return True

    def _renew(self, job: JobRecord) -> None:
        if not renew_job(self.catalog, job.id, job.attempts, self.lease):
            logger.warning("job %d: lease lost (requeued or taken over)", job.id)

    def _process(self, job: JobRecord) -> tuple[str, int | None, str | None]:
        science_id = int(job.payload["observation_id"])
        reference_id = int(job.payload["reference_id"])
        pipeline = Pipeline(
            self.catalog,
            self.store,
            self.config,
            workers=1,
            isolate=True,
            frame_function=self.frame_function,
            recover_on_start=False,  # done once when the service opened
            context=self.context,  # catalogues loaded once, reference sources kept
            scheduler=self.scheduler,
            reference_cache=self.reference_cache,
            reference_cache_bytes=self.reference_cache_bytes,
        )
        report = pipeline.run(reference_id, [science_id], self.work_dir / f"job-{job.id}")
        frame = report.frames[0]
        if frame.status in ("done", "skipped", "duplicate", "superseded"):
            self.metrics.observe_frame(frame.timings, frame.n_candidates, status=frame.status)
            return "done", frame.run_id, None
        self.metrics.observe_frame(
            frame.timings, 0, status=frame.status, failed_stage=frame.failed_stage
        )
        return "failed", frame.run_id, f"{frame.failed_stage}: {frame.error}"
