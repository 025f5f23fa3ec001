"""Tests of the service's job worker: it runs uploads with the configuration the CLI uses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from typer.testing import CliRunner

from astrid.api.worker import JobWorker
from astrid.catalog.jobs import claim_job, enqueue_job, requeue_stale_jobs
from astrid.catalog.jobs import job as job_record
from astrid.cli import app
from astrid.errors import AstridError
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.inputs import register_observation
from astrid.pipeline.runner import Pipeline
from astrid.simulation import simulate_pair
from crashing_frames import crash_on_marked_frames
from service_env import build_env
from small_field import SMALL_FIELD


def _worker_config(root: Path, **settings: Any) -> PipelineConfig:
    """The configuration the service's worker runs uploaded jobs with."""
    envs = build_env(root, seed_catalog=False, **settings)
    env = next(envs)
    try:
        return env.service.worker.config
    finally:
        envs.close()


def test_worker_honours_the_detector_and_threshold_settings(tmp_path: Path) -> None:
    config = _worker_config(tmp_path / "service", detector="unet", threshold=6.5)
    assert config.subtract.detector == "unet"
    assert config.subtract.threshold == 6.5


class _Stop(AstridError):
    """Raised instead of running the pipeline once its configuration is seen."""


def test_cli_and_worker_build_the_same_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASTRID_DETECTOR", "unet")
    monkeypatch.setenv("ASTRID_THRESHOLD", "6.5")
    monkeypatch.setenv("ASTRID_DATA_DIR", str(tmp_path / "data"))
    seen: list[PipelineConfig] = []

    def run(self: Pipeline, *args: Any, **kwargs: Any) -> None:
        seen.append(self.config)
        raise _Stop("stopped")

    monkeypatch.setattr(Pipeline, "run", run)
    for command in (["run", "--reference", "ref.fits", "sci.fits"], ["demo", "--size", "512"]):
        result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / command[0])])
        assert result.exit_code == 2, result.output
    worker = _worker_config(tmp_path / "service")
    assert seen == [worker, worker]
    assert worker.subtract.detector == "unet"


def test_an_uploaded_job_runs_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path / "inputs")
    envs = build_env(tmp_path / "service", seed_catalog=False)
    env = next(envs)
    try:
        catalog, store = env.service.catalog, env.service.store
        ids = {
            role: register_observation(
                catalog, store, path, read_image(path), sha256=file_sha256(path), role=role
            )
            for role, path in pair.items()
            if role in ("reference", "science")
        }
        queued = enqueue_job(
            catalog,
            kind="process",
            payload={"observation_id": ids["science"], "reference_id": ids["reference"]},
            observation_id=ids["science"],
            actor="test",
        )

        def no_ingest(*args: object, **kwargs: object) -> None:
            raise AssertionError("the upload was hashed or read from a path again")

        monkeypatch.setattr("astrid.pipeline.runner.admit_frame", no_ingest)
        assert env.service.worker.run_once() is True
        done = job_record(catalog, queued.id)
        assert done is not None and (done.status, done.error) == ("done", None)
        (run,) = catalog.runs()
        assert (run.id, run.science_id, run.reference_id) == (
            done.run_id,
            ids["science"],
            ids["reference"],
        )
        assert len(catalog.observations()) == 2
        assert not (tmp_path / "service" / "jobs" / f"job-{queued.id}" / "inputs").exists()
    finally:
        envs.close()


def test_the_worker_gives_up_a_job_that_kills_its_workers(tmp_path: Path) -> None:
    envs = build_env(tmp_path / "service", seed_catalog=False, job_max_attempts=2)
    env = next(envs)
    try:
        catalog, worker = env.service.catalog, env.service.worker
        assert isinstance(worker, JobWorker) and worker.max_attempts == 2
        queued = enqueue_job(catalog, kind="process", payload={}, observation_id=None, actor="test")
        for _ in range(2):  # two workers take it and die with it
            assert claim_job(catalog, kinds=("process",)) is not None
            requeue_stale_jobs(catalog, lease=timedelta(seconds=-1))
        assert worker.run_once() is False  # nothing left to run: it was given up
        found = job_record(catalog, queued.id)
        assert found is not None
        assert (found.status, found.attempts) == ("failed", 2)
        assert found.error == "gave up after 2 attempts (worker died or lease expired each time)"
        body = env.client.get(f"/api/v1/jobs/{queued.id}", headers=env.headers("viewer")).json()
        assert (body["status"], body["attempts"], body["error"]) == (
            "failed",
            2,
            found.error,
        )
    finally:
        envs.close()


def test_a_native_crash_in_a_job_fails_the_job_not_the_server(tmp_path: Path) -> None:
    pair = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path / "inputs")
    crashing = tmp_path / "inputs" / "segfault.fits"
    crashing.write_bytes(pair["science"].read_bytes())
    with fits.open(crashing, mode="update") as hdul:
        hdul[0].header["TESTNAME"] = "segfault"
    envs = build_env(tmp_path / "service", seed_catalog=False)
    env = next(envs)
    try:
        catalog, store, worker = env.service.catalog, env.service.store, env.service.worker
        worker.frame_function = crash_on_marked_frames
        ids = {
            path.stem: register_observation(
                catalog, store, path, read_image(path), sha256=file_sha256(path), role=role
            )
            for role, path in [
                ("reference", pair["reference"]),
                ("science", crashing),
                ("science", pair["science"]),
            ]
        }
        jobs = [
            enqueue_job(
                catalog,
                kind="process",
                payload={"observation_id": ids[name], "reference_id": ids["reference"]},
                observation_id=ids[name],
                actor="test",
            )
            for name in ("segfault", "science")
        ]
        assert worker.run_once() is True  # this process survives the child's SIGSEGV
        assert worker.run_once() is True
        crashed, done = (job_record(catalog, j.id) for j in jobs)
        assert crashed is not None and crashed.status == "failed"
        assert crashed.error is not None
        assert crashed.error.startswith("read: worker process died: SIGSEGV (signal 11)")
        assert done is not None and (done.status, done.error) == ("done", None)
        runs = {run.id: run for run in catalog.runs()}
        assert runs[crashed.run_id].status == "failed"
        assert "SIGSEGV" in (runs[crashed.run_id].error or "")
        assert runs[done.run_id].status == "done"
    finally:
        envs.close()
