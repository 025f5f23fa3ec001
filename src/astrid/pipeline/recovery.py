"""Recovery after a process died mid-run (``kill -9``, a crash, a power cut).

Every queued or running run records its owner, ``host:pid:start`` (the process start time
in clock ticks since boot, from ``/proc``, so a recycled pid is not taken for the dead
process). `recover` runs when a pipeline or the service starts: runs of this host whose
owner is gone are marked failed at stage ``"interrupted"`` (the failed-run retry then
redoes them under the same run id when their frames come again), and the object store's
temporary files older than ``stale_temp_seconds`` are removed. Runs of other hosts are
left alone: their liveness cannot be checked from here.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from astrid.catalog import Catalog
from astrid.store import ObjectStore

__all__ = ["Recovered", "current_owner", "owner_alive", "recover"]

log = logging.getLogger(__name__)

#: Temporary objects untouched this long are taken to be left by a dead writer.
DEFAULT_STALE_TEMP_SECONDS = 3600.0


def _start_ticks(pid: int) -> str:
    """The process start time (clock ticks since boot), or "" where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return ""
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19]  # field 22 of stat(5); fields[0] is field 3


def current_owner() -> str:
    """``host:pid:start`` of this process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def owner_alive(owner: str) -> bool | None:
    """Whether the process ``owner`` names still runs; None for another host or a bad value."""
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    return not start or _start_ticks(pid) == start


@dataclass(frozen=True)
class Recovered:
    """What `recover` cleaned up."""

    interrupted_runs: list[int]
    removed_temporaries: int


def recover(
    catalog: Catalog,
    store: ObjectStore,
    *,
    stale_temp_seconds: float = DEFAULT_STALE_TEMP_SECONDS,
) -> Recovered:
    """Fail the runs whose process died and remove stale temporary objects.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
    stale_temp_seconds : float
        Temporary objects older than this are removed (younger ones may belong to a writer
        still at work in another process).
    """
    interrupted = []
    for run in catalog.unfinished_runs():
        if run.owner is None or owner_alive(run.owner) is not False:
            continue
        pid = run.owner.rsplit(":", 2)[1]
        error = f"interrupted: its process {pid} died while the run was {run.status}"
        catalog.fail_run(run.id, stage="interrupted", error=error)
        if run.science_id is not None:
            catalog.mark_observation(run.science_id, status="failed", error=error)
        catalog.record_event("RunInterrupted", {"run_id": run.id, "owner": run.owner})
        interrupted.append(run.id)
    if interrupted:
        log.warning("marked %d runs of dead processes failed (interrupted)", len(interrupted))
    removed = store.remove_stale_temporaries(stale_temp_seconds)
    if removed:
        log.warning("removed %d stale temporary objects from the store", removed)
    return Recovered(interrupted_runs=interrupted, removed_temporaries=removed)
