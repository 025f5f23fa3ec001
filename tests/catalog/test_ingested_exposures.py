"""Survey exposures registered for ingested packets: many in one transaction, each once,
and one at a time when a concurrent ingester wins an insert; runs marked done together."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import astrid.catalog.ingested as ingested
from astrid.catalog import Catalog, connect, set_objects_done
from astrid.catalog.ingested import Exposure, exposure_runs
from astrid.catalog.models import Observation, ProcessingRun
from postgres_server import backend_url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with connect(backend_url(request, tmp_path)) as cat:
        yield cat


def _exposures(names: list[str]) -> list[Exposure]:
    return [Exposure("ZTF", n, 60000.0 + k, "r", "/data/a.avro") for k, n in enumerate(names)]


def _counts(catalog: Catalog) -> tuple[int, int]:
    with catalog.session() as session:
        obs = session.scalar(select(func.count()).select_from(Observation))
        runs = session.scalar(select(func.count()).select_from(ProcessingRun))
    return int(obs or 0), int(runs or 0)


def test_exposures_are_registered_once_with_their_own_observation_and_run(
    catalog: Catalog,
) -> None:
    first = exposure_runs(catalog, _exposures(["1", "2", "3"]), code_version="t")
    assert sorted(first) == [("ZTF", "1"), ("ZTF", "2"), ("ZTF", "3")]
    assert len({obs for obs, _ in first.values()}) == 3
    assert len({run for _, run in first.values()}) == 3
    # asked again with new ones among them: the known keep their ids, only "4" is added
    again = exposure_runs(catalog, _exposures(["3", "2", "4"]), code_version="t")
    assert again[("ZTF", "2")] == first[("ZTF", "2")]
    assert again[("ZTF", "3")] == first[("ZTF", "3")]
    assert _counts(catalog) == (4, 4)
    twice = exposure_runs(catalog, _exposures(["4", "4", "5", "5"]), code_version="t")
    assert twice[("ZTF", "4")] == again[("ZTF", "4")]
    assert _counts(catalog) == (5, 5)
    with catalog.session() as session:
        run = session.get(ProcessingRun, again[("ZTF", "4")][1])
        assert run is not None
        assert (run.key, run.status, run.objects_status) == ("ingest:ZTF:4", "done", "pending")
        obs = session.get(Observation, run.science_id)
        assert obs is not None
        assert (obs.name, obs.mjd, obs.filter) == ("ZTF 4", 60002.0, "r")


def test_a_concurrent_insert_makes_each_exposure_registered_on_its_own(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk transaction fails as a concurrent ingester's insert would; the exposures
    are then got or created one by one, and none is lost or doubled."""
    exposure_runs(catalog, _exposures(["2"]), code_version="t")
    real = ingested._get_or_create
    calls: list[int] = []

    def racing(session: Any, exposures: Any, code_version: str) -> Any:
        calls.append(len(exposures))
        if len(exposures) > 1:
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return real(session, exposures, code_version)

    monkeypatch.setattr(ingested, "_get_or_create", racing)
    found = exposure_runs(catalog, _exposures(["1", "2", "3"]), code_version="t")
    assert calls == [3, 1, 1, 1]
    assert sorted(found) == [("ZTF", "1"), ("ZTF", "2"), ("ZTF", "3")]
    assert _counts(catalog) == (3, 3)


def test_runs_are_marked_done_together_and_unknown_ids_are_ignored(catalog: Catalog) -> None:
    ids = exposure_runs(catalog, _exposures(["1", "2", "3"]), code_version="t")
    runs = sorted(run for _, run in ids.values())
    set_objects_done(catalog, [*runs[:2], 10_000])
    with catalog.session() as session:
        rows = session.execute(select(ProcessingRun.id, ProcessingRun.objects_status))
        status = {int(i): s for i, s in rows}
    assert [status[r] for r in runs] == ["done", "done", "pending"]
