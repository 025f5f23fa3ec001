"""Recovery of what a dead process left: its runs (interrupted) and its temporary objects."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from astrid.app import open_service
from astrid.catalog import Catalog, connect
from astrid.config import Settings
from astrid.pipeline.recovery import current_owner, owner_alive, recover
from astrid.store import ObjectStore


def _dead_owner() -> str:
    """The owner string of a process that has exited."""
    code = "from astrid.pipeline.recovery import current_owner; print(current_owner())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _run(catalog: Catalog, key: str, *, status: str, owner: str | None) -> int:
    obs = catalog.register_observation(
        content_sha256=key * 64,
        name=f"frame {key}",
        path=f"/data/{key}.fits",
        role="science",
        mjd=None,
        filter=None,
        exptime=0.0,
        gain=0.0,
        shape=(64, 64),
        wcs_header=None,
    )
    return catalog.start_run(
        key=key,
        science_id=obs,
        reference_id=None,
        config={},
        code_version="test",
        status=status,
        owner=owner,
    )


def test_owner_liveness() -> None:
    assert owner_alive(current_owner()) is True
    assert owner_alive(_dead_owner()) is False
    host, pid, start = current_owner().rsplit(":", 2)
    assert host == socket.gethostname() and int(pid) == os.getpid()
    assert owner_alive(f"{host}:{pid}:{int(start or 0) + 1}") is False  # a recycled pid
    assert owner_alive(f"another-host-{host}:{pid}:{start}") is None
    assert owner_alive("nonsense") is None


@pytest.mark.local_store  # its half-written objects are local files
def test_recover_fails_the_runs_of_dead_processes_only(tmp_path: Path) -> None:
    store = ObjectStore(str(tmp_path / "store"))
    key = store.put_bytes(b"an object")
    object_path = store.local_path(key)
    assert object_path is not None
    old = object_path.with_name(f".{object_path.name}.tmp-aaaa")
    young = object_path.with_name(f".{object_path.name}.tmp-bbbb")
    for path in (old, young):
        path.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    dead = _dead_owner()
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        queued = _run(catalog, "a", status="queued", owner=dead)
        running = _run(catalog, "b", status="running", owner=dead)
        alive = _run(catalog, "c", status="running", owner=current_owner())
        elsewhere = _run(catalog, "d", status="running", owner=f"other-host:1:{2}")
        unknown = _run(catalog, "e", status="running", owner=None)

        recovered = recover(catalog, store)

        assert recovered.interrupted_runs == [queued, running]
        assert recovered.removed_temporaries == 1
        assert not old.exists() and young.exists() and object_path.exists()
        runs = {run.id: run for run in catalog.runs()}
        for run_id in (queued, running):
            assert (runs[run_id].status, runs[run_id].failed_stage) == ("failed", "interrupted")
            assert runs[run_id].error is not None
            assert f"process {dead.split(':')[1]} died" in runs[run_id].error
        assert [runs[i].status for i in (alive, elsewhere, unknown)] == ["running"] * 3
        assert [e.payload["run_id"] for e in catalog.events(type="RunInterrupted")] == [
            queued,
            running,
        ]
        # A retry reuses the run.
        again = catalog.start_run(
            key="a",
            science_id=runs[queued].science_id,
            reference_id=None,
            config={},
            code_version="test",
        )
        assert again == queued


def test_the_service_recovers_when_it_opens(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with connect(settings.db_url) as catalog:
        run_id = _run(catalog, "a", status="running", owner=_dead_owner())
    service = open_service(settings)
    try:
        (run,) = service.catalog.runs()
        assert (run.id, run.status, run.failed_stage) == (run_id, "failed", "interrupted")
    finally:
        service.close()
