"""The runner's claims: a run another process holds is waited for and taken over when its
lease lapses; a frame that outlives its lease keeps its claim by heartbeat; a result whose
claim was taken over meanwhile is not stored (the other holder's stands)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from astrid import __version__
from astrid.catalog import Catalog, connect
from astrid.catalog.claims import claim_run
from astrid.catalog.models import ProcessingRun, utcnow
from astrid.pipeline.frame import FrameOutcome, process_frame
from astrid.pipeline.inputs import FrameSource
from astrid.pipeline.runner import Pipeline
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

OTHER = "elsewhere:1:1"  # another host's process: only its lease says whether it lives


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL_FIELD, seed=3).write(tmp_path_factory.mktemp("claims"))


def _pipeline(
    tmp_path: Path, frame_function: Callable[..., FrameOutcome] = process_frame, **kwargs: Any
) -> Pipeline:
    catalog = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    return Pipeline(
        catalog,
        ObjectStore(str(tmp_path / "store")),
        workers=1,
        score=False,
        publish_alerts=False,
        frame_function=frame_function,
        **kwargs,
    )


def _first_key(pipeline: Pipeline, pair: dict[str, Path], tmp_path: Path) -> str:
    """Run once into a scratch catalog copy to learn the run key, then forget it."""
    scratch = _pipeline(tmp_path / "scratch")
    with scratch.catalog:
        report = scratch.run(pair["reference"], [pair["science"]], tmp_path / "scratch-out")
    key = report.frames[0].run_key
    assert key is not None
    return key


def _hold(catalog: Catalog, key: str, lease_s: float) -> int:
    """Claim ``key`` as another process would (registering nothing else)."""
    result = claim_run(
        catalog,
        key=key,
        science_id=1,
        reference_id=None,
        config={},
        code_version=__version__,
        owner=OTHER,
        lease_s=lease_s,
    )
    assert result.claim is not None
    return result.claim.run_id


def test_a_run_held_elsewhere_is_waited_for_and_taken_over_when_its_lease_lapses(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    pipeline = _pipeline(tmp_path, poll_s=0.2)
    key = _first_key(pipeline, pair, tmp_path)
    with pipeline.catalog:
        # register the science frame first so the foreign claim can point at it
        pipeline.catalog.register_observation(
            content_sha256="0" * 64, name="foreign-frame", path="p", role="science", mjd=None,
            filter=None, exptime=1.0, gain=1.0, shape=(8, 8), wcs_header=None,
        )  # fmt: skip
        run_id = _hold(pipeline.catalog, key, lease_s=2.0)
        start = time.monotonic()
        report = pipeline.run(pair["reference"], [pair["science"]], tmp_path / "out")
        waited = time.monotonic() - start
        frame = report.frames[0]
        assert frame.status == "done" and frame.run_id == run_id, frame
        assert waited >= 1.5  # it did not compute while the other process's lease held
        with pipeline.catalog.session() as session:
            run = session.get(ProcessingRun, run_id)
            assert run is not None and run.fence == 2 and run.status == "done"


_contested: list[str] = []


def _contest_midway(science: FrameSource, *args: Any, **kwargs: Any) -> FrameOutcome:
    """`process_frame`, after another process tried to claim the run once the first lease
    would have lapsed twice had nobody renewed it. The contender connects first: opening
    (and migrating) a catalog may hold the database for a moment, and that moment must not
    fall in the window the heartbeat is tested in."""
    catalog = connect(_contest_url[0])
    time.sleep(3.5)
    with catalog:
        for run in catalog.runs():
            result = claim_run(
                catalog, key=run.key, science_id=run.science_id, reference_id=None, config={},
                code_version=__version__, owner=OTHER, lease_s=60.0,
            )  # fmt: skip
            _contested.append(result.reason)
    return process_frame(science, *args, **kwargs)


_contest_url: list[str] = []


def test_a_frame_longer_than_its_lease_keeps_its_claim_by_heartbeat(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    _contest_url[:] = [f"sqlite:///{tmp_path / 'astrid.sqlite'}"]
    _contested.clear()
    pipeline = _pipeline(tmp_path, frame_function=_contest_midway, lease_s=1.5)
    with pipeline.catalog:
        report = pipeline.run(pair["reference"], [pair["science"]], tmp_path / "out")
    assert _contested == ["held"]
    assert report.frames[0].status == "done"


def _taken_over(science: FrameSource, *args: Any, **kwargs: Any) -> FrameOutcome:
    """`process_frame`, while another process takes the run over (this one's lease lapsed:
    it hung, or lost the database)."""
    outcome = process_frame(science, *args, **kwargs)
    catalog = connect(_contest_url[0])
    with catalog:
        for run in catalog.runs():
            with catalog.session() as session, session.begin():
                session.execute(
                    update(ProcessingRun)
                    .where(ProcessingRun.id == run.id)
                    .values(lease_expires_at=utcnow() - timedelta(seconds=1))
                )
            result = claim_run(
                catalog, key=run.key, science_id=run.science_id, reference_id=None, config={},
                code_version=__version__, owner=OTHER, lease_s=60.0,
            )  # fmt: skip
            _contested.append(result.reason)
    return outcome


def test_a_result_whose_claim_was_taken_over_is_not_stored(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    _contest_url[:] = [f"sqlite:///{tmp_path / 'astrid.sqlite'}"]
    _contested.clear()
    pipeline = _pipeline(tmp_path, frame_function=_taken_over)
    with pipeline.catalog:
        report = pipeline.run(pair["reference"], [pair["science"]], tmp_path / "out")
        assert _contested == ["claimed"]
        frame = report.frames[0]
        assert frame.status == "superseded" and "claimed by another process" in (frame.error or "")
        (run,) = pipeline.catalog.runs()
        # the new holder's run: still queued under it, no candidates from the stale holder
        assert run.status == "queued" and run.owner == OTHER and run.n_candidates == 0
        assert pipeline.catalog.candidates(run_id=run.id) == []
