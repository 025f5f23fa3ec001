"""A native crash (segfault, abort) in one frame fails that frame only (issue 12 item 1).

The frames run through `crashing_frames.crash_on_marked_frames`, a fault-injection frame
function that really kills its process with SIGSEGV or SIGABRT for marked files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from astropy.io import fits

from astrid.catalog import connect
from astrid.pipeline.runner import Pipeline
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from crashing_frames import crash_on_marked_frames
from small_field import SMALL_FIELD


@dataclass(frozen=True)
class Frames:
    reference: Path
    science: Path
    segfault: Path
    abort: Path


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    root = tmp_path_factory.mktemp("frames")
    paths = simulate_pair(SMALL_FIELD, seed=3).write(root / "pair")
    marked = {}
    for name in ("segfault", "abort"):
        with fits.open(paths["science"]) as hdul:
            hdul[0].header["TESTNAME"] = name  # other content, other run key
            hdul.writeto(root / f"{name}.fits")
        marked[name] = root / f"{name}.fits"
    return Frames(paths["reference"], paths["science"], marked["segfault"], marked["abort"])


def test_a_crashing_frame_fails_alone_in_a_batch(frames: Frames, tmp_path: Path) -> None:
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(
            catalog,
            ObjectStore(str(tmp_path / "store")),
            workers=2,
            frame_function=crash_on_marked_frames,
        )
        sciences = [frames.segfault, frames.science, frames.abort]
        report = pipeline.run(frames.reference, sciences, tmp_path / "out")

        segfault, good, abort = report.frames
        assert good.status == "done", good.error
        assert good.n_candidates >= 1
        assert (segfault.status, segfault.failed_stage) == ("failed", "read")
        assert segfault.error == (
            f"worker process died: SIGSEGV (signal 11) at stage read of {frames.segfault}"
        )
        assert (abort.status, abort.failed_stage) == ("failed", "start")
        assert abort.error is not None
        assert abort.error.startswith("worker process died: SIGABRT (signal 6)")
        runs = {run.id: run for run in catalog.runs()}
        for frame in (segfault, abort):
            assert frame.run_id is not None
            run = runs[frame.run_id]
            assert (run.status, run.failed_stage, run.error) == (
                "failed",
                frame.failed_stage,
                frame.error,
            )
            obs = next(o for o in catalog.observations() if o["id"] == frame.observation_id)
            assert (obs["status"], obs["error"]) == ("failed", frame.error)
        assert catalog.unfinished_runs() == []
        assert len(catalog.candidates()) == good.n_candidates


def test_an_isolated_single_frame_crash_fails_the_frame_not_the_caller(
    frames: Frames, tmp_path: Path
) -> None:
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        crashing = Pipeline(
            catalog, store, workers=1, isolate=True, frame_function=crash_on_marked_frames
        )
        (failed,) = crashing.run(frames.reference, [frames.segfault], tmp_path / "out").frames
        assert failed.status == "failed"
        assert failed.error is not None and "SIGSEGV" in failed.error
        assert [run.status for run in catalog.runs()] == ["failed"]

        # The failed run is retried in place once the frame no longer crashes.
        retry = Pipeline(catalog, store, workers=1, isolate=True)
        (done,) = retry.run(frames.reference, [frames.segfault], tmp_path / "out").frames
        assert done.status == "done", done.error
        assert done.run_id == failed.run_id
        assert [run.status for run in catalog.runs()] == ["done"]


def test_a_batch_that_stops_early_leaves_no_run_queued(frames: Frames, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def stop(report: object) -> None:
        raise Stop("the caller gave up")

    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(tmp_path / "store")), workers=1)
        with pytest.raises(Stop):
            pipeline.run(
                frames.reference, [frames.science, frames.abort], tmp_path / "out", on_frame=stop
            )
        first, second = catalog.runs()
        assert first.status == "done"
        assert (second.status, second.failed_stage) == ("failed", "interrupted")
        assert second.error == "interrupted: Stop: the caller gave up"
        assert catalog.unfinished_runs() == []
