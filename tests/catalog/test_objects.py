"""Objects in the catalog: association of runs in any order, re-runs, concurrent workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from astrid.catalog import Catalog, connect
from astrid.catalog.models import Candidate, SkyObject
from astrid.catalog.sky_index import angular_separation_deg

ARCSEC = 1 / 3600
# sources of one field, 10 arcsec apart; each frame sees them with sub-arcsec scatter
SOURCES = [(150.0 + 10 * ARCSEC * i, 2.0 + 10 * ARCSEC * (i % 3)) for i in range(12)]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    yield cat
    cat.close()


def _run(catalog: Catalog, frame: int, mjd: float = 61100.0) -> int:
    sha = f"{frame:064x}"
    sci = catalog.register_observation(
        content_sha256=sha,
        name=f"frame-{frame}",
        path=f"/data/{frame}.fits",
        role="science",
        mjd=mjd + frame,
        filter="r",
        exptime=30.0,
        gain=1.5,
        shape=(64, 64),
        wcs_header=None,
    )
    return catalog.start_run(
        key=f"run-{frame}", science_id=sci, reference_id=None, config={}, code_version="1"
    )


def _candidates(frame: int, sources: list[int]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(frame)
    rows = []
    for i in sources:
        ra, dec = SOURCES[i]
        jitter = rng.uniform(-0.3, 0.3, 2) * ARCSEC
        rows.append(
            {
                "x": float(i),
                "y": float(i),
                "ra": ra + float(jitter[0]),
                "dec": dec + float(jitter[1]),
                "sign": 1,
                "scorr": 7.0,
                "flux": 100.0 + frame,
            }
        )
    return rows


def _finish(
    catalog: Catalog, run_id: int, rows: list[dict[str, Any]], radius: float | None = 1.5
) -> None:
    catalog.finish_run(
        run_id,
        candidates=rows,
        stats={},
        timings={},
        products={},
        association_radius_arcsec=radius,
    )


def _objects(catalog: Catalog) -> list[Any]:
    with catalog.engine.connect() as conn:
        return list(conn.execute(select(SkyObject).order_by(SkyObject.id)).all())


def _members(catalog: Catalog) -> dict[int, set[tuple[int, float]]]:
    """object id → the (run, x) of its candidates; x is the source index."""
    groups: dict[int, set[tuple[int, float]]] = {}
    with catalog.engine.connect() as conn:
        for run_id, x, object_id in conn.execute(
            select(Candidate.run_id, Candidate.x, Candidate.object_id)
        ):
            assert object_id is not None
            groups.setdefault(object_id, set()).add((run_id, x))
    return groups


def _grouping(catalog: Catalog) -> set[frozenset[float]]:
    """The source indices each object gathers (one per object when association is right)."""
    return {frozenset(x for _, x in members) for members in _members(catalog).values()}


def _assert_consistent(catalog: Catalog) -> None:
    objects = _objects(catalog)
    members = _members(catalog)
    assert {o.id for o in objects} == set(members)  # no orphan objects
    for o in objects:
        assert o.n_detections == len(members[o.id])
    ra = np.array([o.ra for o in objects])
    dec = np.array([o.dec for o in objects])
    for o in objects:
        near = angular_separation_deg(ra, dec, o.ra, o.dec) <= 1.5 * ARCSEC
        assert near.sum() == 1, f"{o.name} has a duplicate within the radius"
    assert len({o.name for o in objects}) == len(objects)


def test_two_frames_of_one_field_share_objects(catalog: Catalog) -> None:
    first, second = _run(catalog, 1), _run(catalog, 2)
    _finish(catalog, first, _candidates(1, list(range(12))))
    _finish(catalog, second, _candidates(2, [*range(6, 12), 0]))
    assert _grouping(catalog) == {frozenset({float(i)}) for i in range(12)}
    _assert_consistent(catalog)
    objects = {o.name: o for o in _objects(catalog)}
    assert sorted(objects) == sorted(f"ASTRID2026{c}" for c in "abcdefghijkl")
    both = [o for o in objects.values() if o.n_detections == 2]
    assert len(both) == 7
    assert all((o.first_mjd, o.last_mjd) == (61101.0, 61102.0) for o in both)


def test_the_order_of_frames_does_not_change_the_grouping(tmp_path: Path) -> None:
    groupings = []
    for order in ([1, 2, 3], [3, 1, 2]):
        catalog = connect(f"sqlite:///{tmp_path / f'{order[0]}.sqlite'}")
        runs = {frame: _run(catalog, frame) for frame in (1, 2, 3)}
        sources = {1: list(range(8)), 2: list(range(4, 12)), 3: [0, 5, 11]}
        for frame in order:
            _finish(catalog, runs[frame], _candidates(frame, sources[frame]))
        groupings.append(_grouping(catalog))
        _assert_consistent(catalog)
        catalog.close()
    assert groupings[0] == groupings[1] == {frozenset({float(i)}) for i in range(12)}


def test_a_rerun_leaves_no_duplicate_and_no_orphan(catalog: Catalog) -> None:
    first, second = _run(catalog, 1), _run(catalog, 2)
    _finish(catalog, first, _candidates(1, list(range(6))))
    _finish(catalog, second, _candidates(2, list(range(3, 9))))
    names = {o.name for o in _objects(catalog)}
    _finish(catalog, second, _candidates(2, list(range(3, 9))))  # the same again
    assert {o.name for o in _objects(catalog)} == names  # the same objects, names kept
    _assert_consistent(catalog)
    _finish(catalog, second, _candidates(2, [0]))  # the re-run finds less
    assert len(_objects(catalog)) == 6  # sources 6..8 had only run 2: their objects went
    _assert_consistent(catalog)
    _finish(catalog, second, _candidates(2, [10]))  # a new source gets a new name
    assert "ASTRID2026j" in {o.name for o in _objects(catalog)}  # names are never reused
    _assert_consistent(catalog)


def test_the_position_is_the_flux_weighted_mean(catalog: Catalog) -> None:
    first, second = _run(catalog, 1), _run(catalog, 2)
    row = _candidates(1, [0])[0]
    _finish(catalog, first, [{**row, "ra": 150.0, "dec": 2.0, "flux": 300.0}])
    _finish(catalog, second, [{**row, "ra": 150.0 + ARCSEC, "dec": 2.0, "flux": -100.0}])
    (obj,) = _objects(catalog)
    assert obj.ra == pytest.approx(150.0 + 0.25 * ARCSEC, abs=1e-10)


def test_concurrent_workers_create_one_object_per_source(catalog: Catalog) -> None:
    # four workers associate overlapping frames at once; candidates are stored first,
    # unassociated, so that the four associations start together
    frames = {1: list(range(12)), 2: list(range(3, 12)), 3: list(range(0, 9)), 4: list(range(12))}
    runs = {frame: _run(catalog, frame) for frame in frames}
    for frame, sources in frames.items():
        _finish(catalog, runs[frame], _candidates(frame, sources), radius=None)
    barrier = threading.Barrier(len(frames))
    errors: list[BaseException] = []

    def work(run_id: int) -> None:
        try:
            barrier.wait()
            catalog.associate_run(run_id, 1.5)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(r,)) for r in runs.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _grouping(catalog) == {frozenset({float(i)}) for i in range(12)}
    _assert_consistent(catalog)


def test_concurrent_frames_written_at_once_share_objects(tmp_path: Path) -> None:
    # the pipeline's path: each worker process stores and associates its frame in one
    # transaction (finish_run), all four at once, each with its own connection pool
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    frames = {1: list(range(12)), 2: list(range(3, 12)), 3: list(range(0, 9)), 4: list(range(12))}
    setup = connect(url)
    runs = {frame: _run(setup, frame) for frame in frames}
    barrier = threading.Barrier(len(frames))
    errors: list[BaseException] = []

    def work(frame: int) -> None:
        worker = connect(url)
        try:
            barrier.wait()
            _finish(worker, runs[frame], _candidates(frame, frames[frame]))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            worker.close()

    threads = [threading.Thread(target=work, args=(f,)) for f in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _grouping(setup) == {frozenset({float(i)}) for i in range(12)}
    _assert_consistent(setup)
    setup.close()
