"""Frames on a Dask cluster (issue 17 item 1): the same candidates as the local pool, from
workers that read the stored frames by URL, run in another working directory and hand
back their products as store keys; a frame that fails on a worker fails alone; an
unreachable scheduler is one clear error naming its address."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.cli import app
from astrid.errors import ConfigurationError
from astrid.pipeline import dask_frames
from astrid.pipeline.runner import Pipeline
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from crashing_frames import crash_on_marked_frames
from s3_server import S3Server
from small_field import SMALL_FIELD

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402  (installed with distributed)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[str]:
    """A 2-worker `LocalCluster` (processes) whose workers run in their own folder (and
    reach the S3 server: they start after its settings are in the environment)."""
    elsewhere = tmp_path_factory.mktemp("workers")
    here = os.getcwd()
    os.chdir(elsewhere)  # the worker processes start (and stay) in another directory
    try:
        # a frame that kills its worker is retried once (the scheduler reads this at start)
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            local = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                worker_dashboard_address=None,
                local_directory=str(elsewhere),
            )
    finally:
        os.chdir(here)
    with local:
        yield str(local.scheduler_address)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("frames")
    paths = simulate_pair(SMALL_FIELD, seed=4).write(root / "pair")
    with fits.open(paths["science"]) as hdul:
        hdul[0].header["TESTNAME"] = "segfault"  # other content, other run key
        hdul.writeto(root / "segfault.fits")
    return {**paths, "segfault": root / "segfault.fits"}


def _run(
    root: Path, frames: dict[str, Path], stages: list[str], store: str, **kwargs: Any
) -> tuple[Any, list[dict[str, Any]]]:
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(store), publish_alerts=False, **kwargs)
        report = pipeline.run(
            frames["reference"],
            [frames["science"]],
            root / "out",
            on_stage=lambda _, stage: stages.append(stage),
        )
        return report, catalog.candidates()


def _same(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in {"id", "run_id", "created_at", "object_id"}}


def test_frames_on_a_dask_cluster_give_the_local_candidates(
    cluster: str, s3_server: S3Server, frames: dict[str, Path], tmp_path: Path
) -> None:
    """The local run keeps a local store; the cluster's frames go through S3 only."""
    local_stages: list[str] = []
    local_store = str(tmp_path / "local" / "store")
    local, expected = _run(tmp_path / "local", frames, local_stages, local_store, workers=1)
    stages: list[str] = []
    s3_store = s3_server.new_store_url()
    remote, got = _run(tmp_path / "dask", frames, stages, s3_store, scheduler=cluster)
    assert stages == local_stages  # the workers' stage messages reach the client
    (frame,) = remote.frames
    assert frame.status == "done", frame.error
    assert frame.n_candidates == local.frames[0].n_candidates > 0
    assert [_same(r) for r in got] == [_same(r) for r in expected]
    # the products came back through the store into --out, byte for byte the local ones
    for name, path in local.frames[0].products_local.items():
        copied = Path(frame.products_local[name])
        assert copied.parent == tmp_path / "dask" / "out" / "difference"
        assert copied.read_bytes() == Path(path).read_bytes(), name
    with connect(f"sqlite:///{tmp_path / 'dask' / 'astrid.sqlite'}") as catalog:
        (run,) = catalog.runs()
        assert run.status == "done" and run.n_candidates == frame.n_candidates
        store = ObjectStore(s3_store)
        assert all(store.exists(key) for key in run.products.values())


def test_astrid_run_on_the_cluster_with_frames_given_by_s3_urls(
    cluster: str,
    s3_server: S3Server,
    frames: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's acceptance run: the command line, the scheduler's address, inputs and
    store in S3, workers elsewhere; the candidates of the local pool."""
    import s3fs

    _, expected = _run(tmp_path / "local", frames, [], str(tmp_path / "local" / "store"))
    prefix = s3_server.new_store_url().replace("/store", "/frames")
    fs = s3fs.S3FileSystem(endpoint_url=s3_server.endpoint)
    for role in ("science", "reference"):
        fs.put_file(str(frames[role]), f"{prefix}/{role}.fits")
    for name in [n for n in os.environ if n.startswith("ASTRID_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ASTRID_STORE_URL", s3_server.new_store_url())
    data, out = tmp_path / "cli", tmp_path / "cli" / "out"
    args = ["run", f"{prefix}/science.fits", "-r", f"{prefix}/reference.fits", "-o", str(out)]
    args += ["--data-dir", str(data), "--scheduler", cluster, "--no-alerts"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        got = catalog.candidates()
        (run,) = catalog.runs()
        assert run.status == "done" and run.n_candidates == len(got) > 0
    assert [_same(r) for r in got] == [_same(r) for r in expected]
    assert len(list((out / "difference").glob("science.*.diff.fits"))) == 1


def test_a_frame_that_kills_its_worker_fails_alone(
    cluster: str, frames: dict[str, Path], tmp_path: Path
) -> None:
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(
            catalog,
            ObjectStore(str(tmp_path / "store")),
            publish_alerts=False,
            score=False,
            scheduler=cluster,
            frame_function=crash_on_marked_frames,
        )
        report = pipeline.run(
            frames["reference"], [frames["segfault"], frames["science"]], tmp_path / "out"
        )
        crashed, good = report.frames
        assert good.status == "done", good.error
        assert crashed.status == "failed"
        assert crashed.error is not None and "KilledWorker" in crashed.error
        assert catalog.unfinished_runs() == []


def test_an_unreachable_scheduler_is_one_clear_error(
    frames: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_frames, "CONNECT_TIMEOUT_S", 1.0)
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(tmp_path / "store")), scheduler=address)
        with pytest.raises(ConfigurationError, match=r"Dask scheduler at tcp://127\.0\.0\.1:9"):
            pipeline.run(frames["reference"], [frames["science"]], tmp_path / "out")
        assert catalog.runs() == []
