"""Two `astrid run` processes on the same frames at once (issue 17's acceptance test), on
SQLite and on a real PostgreSQL server: both exit 0, every run key is computed once (one
claim, one ``CandidatesFound``), every run ends ``done`` with ``n_candidates`` equal to its
stored rows, and a stale process's write is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from astrid.catalog import connect
from astrid.catalog.models import Candidate
from astrid.simulation import simulate_pair
from postgres_server import PostgresServer
from small_field import SMALL_FIELD


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("concurrent")
    paths = simulate_pair(SMALL_FIELD, seed=3).write(root / "epoch0")
    for epoch in (1, 2):
        sim = simulate_pair(SMALL_FIELD, seed=3, epoch=epoch)
        path = root / f"science{epoch}.fits"
        sim.science.to_hdu().writeto(path)
        paths[f"science{epoch}"] = path
    return paths


@pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.sqlite), "postgresql"]
)
def test_two_runs_on_the_same_frames_compute_each_run_once(
    backend: str, frames: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.new_database()
    connect(url).close()  # migrate once, as a deployment does before starting workers
    env = {
        **os.environ,
        "ASTRID_DATABASE_URL": url,
        "ASTRID_STORE_URL": str(tmp_path / "store"),
        "ASTRID_DATA_DIR": str(tmp_path / "data"),
        "ASTRID_WORKERS": "1",
    }
    sciences = [str(frames[k]) for k in ("science", "science1", "science2")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "astrid.cli", "run", "-r", str(frames["reference"]),
             "-o", str(tmp_path / f"out{i}"), "--no-alerts", "--verbose", *sciences],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    for p, out in zip(processes, outputs, strict=True):
        assert p.returncode == 0, out
    # they overlapped: one found runs the other held and waited for them
    assert any("is computed by" in out for out in outputs), outputs
    with connect(url) as catalog:
        runs = catalog.runs()
        assert len(runs) == 3 and all(r.status == "done" for r in runs), runs
        found = catalog.events(type="CandidatesFound")
        assert sorted(e.payload["run_id"] for e in found) == sorted(r.id for r in runs)
        assert not catalog.events(type="RunFailed")
        with catalog.session() as session:
            for run in runs:
                stored = session.scalar(
                    select(func.count()).select_from(Candidate).where(Candidate.run_id == run.id)
                )
                assert stored == run.n_candidates > 0
        # every run was claimed once: its fence is 1
        assert {r.id: _fence(catalog, r.id) for r in runs} == {r.id: 1 for r in runs}
    # both processes wrote the candidates of all three frames
    for i in range(2):
        assert (tmp_path / f"out{i}" / "candidates.csv").is_file()


def _fence(catalog, run_id: int) -> int:  # type: ignore[no-untyped-def]
    from astrid.catalog.models import ProcessingRun

    with catalog.session() as session:
        return int(session.get(ProcessingRun, run_id).fence)
