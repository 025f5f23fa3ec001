"""``astrid worker``: run the service's queued jobs in a process of their own.

The web replicas of a fleet set ``ASTRID_SERVE_WORKER=false`` and only enqueue; any number
of these processes, on any hosts that share the catalog database and the object store,
claim and run the jobs (`astrid.api.worker.JobWorker`: leases renewed by heartbeat, lapsed
ones requeued, a stale worker's outcome refused).
"""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    app,
    console,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.errors import AstridError


@app.command("worker", cls=Command)
def worker(
    once: Annotated[
        bool, typer.Option(help="Run what is queued now, then exit (for a timer or a batch).")
    ] = False,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the queue.", min=0.1)] = 5.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve this worker's Prometheus metrics (stage durations, jobs) on this port.",
            min=1,
            max=65535,
        ),
    ] = None,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
    verbose: Verbose = False,
) -> None:
    """Claim and run queued jobs (uploaded frames) until stopped (SIGTERM or Ctrl-C stop
    after the current job)."""
    from astrid.app import job_worker
    from astrid.catalog import connect
    from astrid.service.metrics import Metrics
    from astrid.store import ObjectStore

    setup_logging(verbose)
    with open_settings(data_dir, db) as settings:
        try:
            catalog = connect(settings.db_url)
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
        with catalog:
            metrics = Metrics()
            worker_loop = job_worker(settings, catalog, ObjectStore(settings.store_root), metrics)
            worker_loop.poll_seconds = poll
            if metrics_port is not None:
                from prometheus_client import start_http_server

                start_http_server(metrics_port, registry=metrics.registry)
            if once:
                try:
                    ran = worker_loop.drain()
                except AstridError as e:
                    print_error(e)
                    raise typer.Exit(2) from e
                console.print(f"{ran} job(s) run", soft_wrap=True)
                return
            previous = signal.signal(signal.SIGTERM, lambda *_: worker_loop.request_stop())
            console.print(f"worker: waiting for jobs (every {poll:g} s; Ctrl-C stops)")
            try:
                worker_loop.run_forever()
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
