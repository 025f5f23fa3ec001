"""`astrid worker`: jobs queued by a web replica that only enqueues (ASTRID_SERVE_WORKER=false)
are run by a separate worker process's loop, once each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.catalog.jobs import enqueue_job
from astrid.catalog.jobs import job as job_record
from astrid.cli import app
from astrid.config import Settings
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.pipeline.inputs import register_observation
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

runner = CliRunner()


def _queue_one(data_dir: Path, inputs: Path) -> int:
    settings = Settings(data_dir=data_dir)
    pair = simulate_pair(SMALL_FIELD, seed=3).write(inputs)
    with connect(settings.db_url) as catalog:
        store = ObjectStore(settings.store_root)
        ids = {
            role: register_observation(
                catalog, store, pair[role], read_image(pair[role]),
                sha256=file_sha256(pair[role]), role=role,
            )
            for role in ("reference", "science")
        }  # fmt: skip
        return enqueue_job(
            catalog,
            kind="process",
            payload={"observation_id": ids["science"], "reference_id": ids["reference"]},
            observation_id=ids["science"],
            actor="test",
        ).id


def test_the_worker_command_runs_what_is_queued_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    job_id = _queue_one(data_dir, tmp_path / "inputs")
    result = runner.invoke(app, ["worker", "--once", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "1 job(s) run" in result.output
    with connect(Settings(data_dir=data_dir).db_url) as catalog:
        found = job_record(catalog, job_id)
        assert found is not None and found.status == "done", found
        assert found.run_id is not None and [r.status for r in catalog.runs()] == ["done"]
    again = runner.invoke(app, ["worker", "--once", "--data-dir", str(data_dir)])
    assert again.exit_code == 0 and "0 job(s) run" in again.output


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["worker", "--once", "--db", "postgresql+psycopg://u:secret@127.0.0.1:1/x"]
    )
    assert result.exit_code == 2
    assert "secret" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value, running", [("false", False), ("true", True)])
def test_serve_runs_the_worker_thread_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, running: bool
) -> None:
    monkeypatch.setenv("ASTRID_SERVE_WORKER", value)
    seen: dict[str, Any] = {}

    def fake_run(application: Any, **_: Any) -> None:
        with TestClient(application):  # the lifespan starts (or not) the worker
            service = application.state.service
            seen["thread"] = service.worker._thread is not None

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert seen["thread"] is running
