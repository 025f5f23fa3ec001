"""Run frames on a Dask distributed cluster whose workers share no disk with the client.

`DaskFrames` is the cluster twin of `astrid.pipeline.frame_process.FrameProcesses`: the
same tasks in, the same ``(task, outcome)`` pairs out as frames finish. What differs is
where files live. A worker may run on another host, so a task names every file by an
fsspec URL into the object store (``file:///…`` on a shared disk, ``s3://…``), never by a
client path: the runner hands it the science and reference frames as their stored objects
(`DaskFrames.source`), the calibration masters and the model are fetched by the worker
into a scratch folder of its own, the products are written there and put into the store, and the
outcome comes back with their store keys (``FrameOutcome.product_keys``) for the client to
record (and copy into its ``--out`` folder).

The scheduler is any Dask distributed one: a `distributed.LocalCluster` (tests, one host),
dask-jobqueue (Slurm, PBS) or dask-kubernetes; only its address is needed
(``ASTRID_SCHEDULER_ADDRESS`` or ``astrid run --scheduler``). Workers need AstrID installed
and the store's credentials (the same environment variables as the client). Stage names
reach the client as Dask events (``Worker.log_event``), so progress and the ``running``
status work as with local processes. A worker that dies mid-frame has its frame retried by
Dask on another worker (its ``allowed-failures`` setting); a frame that still cannot run
comes back as a failed outcome naming the error, and the other frames go on.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from astrid.catalog import Catalog
from astrid.errors import ConfigurationError
from astrid.pipeline.frame import FrameOutcome, process_frame
from astrid.pipeline.frame_process import FrameFunction, FrameTask
from astrid.pipeline.inputs import FrameSource, copy_url, stored_observation
from astrid.pipeline.scoring import ScoringModel, local_model_file
from astrid.store import ObjectStore

__all__ = ["DaskFrames", "connect_scheduler", "run_on_worker", "scheduler_workers"]

log = logging.getLogger(__name__)

#: The Dask event topic the workers' stage messages go to.
TOPIC = "astrid-frame"
#: Seconds to reach the scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0


def connect_scheduler(address: str, timeout_s: float | None = None) -> Any:
    """A `distributed.Client` on the scheduler at ``address``.

    Raises
    ------
    ConfigurationError
        If Dask distributed is not installed or the scheduler cannot be reached in
        ``timeout_s`` seconds (default `CONNECT_TIMEOUT_S`; the message names the address).
    """
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        from distributed import Client
    except ImportError as e:  # an optional extra
        raise ConfigurationError(
            f"scheduler {address}: Dask distributed is not installed (pip install 'astrid[dask]')",
            scheduler=address,
        ) from e
    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConfigurationError(
            f"cannot reach the Dask scheduler at {address}: {e}", scheduler=address
        ) from e


def scheduler_workers(address: str, timeout_s: float = 2.0) -> int:
    """How many workers the scheduler at ``address`` has (a readiness probe).

    Raises
    ------
    ConfigurationError
        As `connect_scheduler`: not installed, or not reached in ``timeout_s`` seconds.
    """
    client = connect_scheduler(address, timeout_s)
    try:
        return len(client.scheduler_info().get("workers", {}))
    finally:
        client.close()


def run_on_worker(
    function: FrameFunction,
    task: FrameTask,
    store_url: str,
    fetch: Mapping[str, str],
    key: str,
) -> FrameOutcome:
    """One frame on a Dask worker: fetch what it reads, run it, store its products.

    ``fetch`` maps calibration kinds to the URLs of their masters; the model, if any, is
    read from the store at ``store_url`` (`local_model_file`: once per host and version).
    Stage names go to the client as events on ``TOPIC``; products go into that store and
    come back as keys.
    """
    from distributed import get_worker

    worker = get_worker()

    def on_stage(stage: str) -> None:
        worker.log_event(TOPIC, {"key": key, "stage": stage})

    on_stage("start")
    with tempfile.TemporaryDirectory(prefix="astrid-frame-") as scratch:
        folder = Path(scratch)
        kwargs = dict(task.kwargs)
        if fetch:
            kwargs["calibration"] = {
                kind: str(copy_url(url, folder / f"master-{kind}.fits"))
                for kind, url in fetch.items()
            }
        store = ObjectStore(store_url)
        model = kwargs.get("model")
        if isinstance(model, ScoringModel) and model.file_key is not None:
            path = local_model_file(store, model.file_key, model.label)
            kwargs["model"] = replace(model, path=str(path))
        science, reference, _, config = task.args
        out = folder / "out"
        outcome = function(science, reference, str(out), config, **kwargs, on_stage=on_stage)
        if outcome.ok and outcome.products:
            keys = {name: store.put_file(path) for name, path in outcome.products.items()}
            relative = {
                name: str(Path(path).relative_to(out)) for name, path in outcome.products.items()
            }
            outcome = replace(outcome, products=relative, product_keys=keys)
    return outcome


class DaskFrames:
    """Runs frames on a Dask cluster (see the module docstring).

    Parameters
    ----------
    client : distributed.Client
        Connected to the scheduler (`connect_scheduler`).
    store : ObjectStore
        The store the workers put products into (by its URL: they must reach it).
    function : callable
        The frame function (`astrid.pipeline.frame.process_frame` or one with its
        signature), importable by name on the workers.
    poll_s : float
        How often stage messages and finished frames are looked at.
    """

    def __init__(
        self,
        client: Any,
        store: ObjectStore,
        function: FrameFunction = process_frame,
        *,
        poll_s: float = 0.2,
    ) -> None:
        self.client = client
        self.store = store
        self.function = function
        self.poll_s = poll_s

    @classmethod
    @contextmanager
    def connect(
        cls, address: str, store: ObjectStore, function: FrameFunction = process_frame
    ) -> Iterator[DaskFrames]:
        """A `DaskFrames` on the scheduler at ``address``, disconnected on exit
        (`connect_scheduler` says what is raised)."""
        client = connect_scheduler(address)
        try:
            yield cls(client, store, function)
        finally:
            client.close()

    def source(self, catalog: Catalog, source: FrameSource, observation_id: int) -> FrameSource:
        """Where a worker reads a registered frame: its object in the store, by URL (the
        label stays the one reports use)."""
        record, _ = stored_observation(catalog, self.store, observation_id)
        assert record.store_key is not None  # stored_observation raises when there is none
        url = self.store.url(record.store_key)
        return FrameSource(label=source.label, url=url, name=record.name)

    def run(
        self,
        tasks: list[FrameTask],
        calibration: Mapping[str, str],
        model: ScoringModel | None,
        out: Path,
        *,
        on_start: Callable[[FrameTask, str], None] | None = None,
        on_stage: Callable[[FrameTask, str], None] | None = None,
    ) -> Iterator[tuple[FrameTask, FrameOutcome]]:
        """Yield each task with its outcome as it finishes (not in order).

        The calibration masters (local files) are put into the store for the workers to
        fetch (the model is there already), and each frame's products are copied
        from the store into ``out`` where the local pool would have written them.
        ``on_start(task, where)`` is called when a worker begins the task, ``on_stage`` as
        it starts a stage. Closing the iterator cancels the frames not finished.
        """
        fetch = {
            kind: self.store.url(self.store.put_file(path)) for kind, path in calibration.items()
        }
        for task, outcome in self._frames(tasks, fetch, on_start, on_stage):
            yield task, self._localise(outcome, out)

    def _localise(self, outcome: FrameOutcome, out: Path) -> FrameOutcome:
        """The outcome with its products copied from the store to ``out`` (their paths)."""
        local: dict[str, str] = {}
        for name, relative in outcome.products.items():
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with self.store.open(outcome.product_keys[name]) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
            local[name] = str(target)
        return replace(outcome, products=local)

    def _frames(
        self,
        tasks: list[FrameTask],
        fetch: Mapping[str, str],
        on_start: Callable[[FrameTask, str], None] | None,
        on_stage: Callable[[FrameTask, str], None] | None,
    ) -> Iterator[tuple[FrameTask, FrameOutcome]]:
        events: queue.Queue[dict[str, Any]] = queue.Queue()

        def handler(event: tuple[float, Any]) -> None:  # on the client's event loop
            message = event[1]
            if isinstance(message, dict):
                events.put(message)

        self.client.subscribe_topic(TOPIC, handler)
        by_key: dict[str, FrameTask] = {}
        futures = []
        for task in tasks:
            key = f"astrid-frame-{task.id}-{uuid.uuid4().hex[:12]}"
            by_key[key] = task
            arguments = (self.function, task, self.store.url_root, dict(fetch))
            futures.append(self.client.submit(run_on_worker, *arguments, key, key=key, pure=False))
        stages: dict[str, str] = {}

        def note(key: str, stage: str) -> None:
            task = by_key[key]
            if key not in stages and on_start is not None:
                on_start(task, "a Dask worker")
            stages[key] = stage
            if stage != "start" and on_stage is not None:
                on_stage(task, stage)

        remaining = list(futures)
        try:
            while remaining:
                try:
                    message = events.get(timeout=self.poll_s)
                except queue.Empty:
                    message = None
                while message is not None:
                    if str(message.get("key")) in by_key:
                        note(str(message["key"]), str(message.get("stage")))
                    message = events.get_nowait() if not events.empty() else None
                for future in [f for f in remaining if f.done()]:
                    remaining.remove(future)
                    task = by_key[future.key]
                    yield task, _outcome(future, task, stages.get(future.key))
        finally:
            self.client.cancel([f for f in futures if not f.done()])
            self.client.unsubscribe_topic(TOPIC)


def _outcome(future: Any, task: FrameTask, stage: str | None) -> FrameOutcome:
    """A finished future's outcome; a failed task (an error outside the frame's own
    handling, a worker lost for good) becomes this frame's failed outcome."""
    try:
        outcome = future.result()
    except Exception as e:  # whatever the worker raised: this frame fails, not the batch
        error = f"Dask task {future.key} failed: {type(e).__name__}: {e}"
        log.error("%s: %s", task.label, error)
        return FrameOutcome(task.label, ok=False, failed_stage=stage or "dask", error=error)
    assert isinstance(outcome, FrameOutcome)
    return outcome
