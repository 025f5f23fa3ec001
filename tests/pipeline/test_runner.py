"""Tests of the batch runner on small simulated frames: products, catalog, idempotency, failures.

One simulated pair is run once per module into a snapshot (SQLite file, object store,
output folder); tests that write copy the snapshot, so they do not depend on each other.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from astrid.catalog import Catalog, connect
from astrid.errors import DifferencingError, InvalidImageError
from astrid.evaluation.scoring import match_to_truth
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.runner import FrameReport, Pipeline, RunReport
from astrid.simulation import inject_point_sources, simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

SMALL = SMALL_FIELD
SEED = 3

# The contract of candidates.csv, as README.md states it.
README_COLUMNS = [
    "observation",
    "x",
    "y",
    "ra",
    "dec",
    "sign",
    "scorr",
    "snr",
    "flux",
    "flux_err",
    "mag",
    "mag_err",
    "fwhm",
    "elongation",
    "n_bad_pixels",
    "dist_nearest_ref_source_arcsec",
    "x_err",
    "y_err",
]
# Columns the ML stage appends (issue 4), after the stable ones.
SCORE_COLUMNS = ["rb", "ood", "ood_msp", "ood_energy", "ood_mahalanobis", "model_version"]
# Then where each row is in the catalog, as the API's exports name them (issue 12 item 12).
CATALOG_COLUMNS = [
    "candidate_id",
    "mjd",
    "band",
    "observation_file",
    "object_id",
    "object_name",
    "survey",
    "source_id",
]
STAGES = ["read", "validate", "prepare_reference", "preprocess", "difference", "score", "write"]


@dataclass(frozen=True)
class Inputs:
    """FITS files written once per module."""

    reference: Path
    science: Path
    science_b: Path  # science plus a few injected point sources
    injected_xy: np.ndarray
    truth: Table
    bad: dict[str, Path]  # kind -> a science file that cannot be used


@dataclass(frozen=True)
class Snapshot:
    """The state after one successful run of `Inputs.science`."""

    root: Path
    report: RunReport
    stages: list[tuple[str, str]]
    finished: list[FrameReport]


@dataclass
class Workspace:
    """A private copy of the snapshot: catalog, store and output folder."""

    catalog: Catalog
    store: ObjectStore
    out: Path


def _empty_positions(truth: Table, shape: tuple[int, int], n: int) -> np.ndarray:
    """``n`` positions ``(x, y)`` 20 px from every object and edge, off the columns that bleed."""
    kinds = np.asarray([str(k) for k in truth["kind"]])
    x, y = np.asarray(truth["x"], float), np.asarray(truth["y"], float)
    grid = np.arange(40.0, min(shape) - 40.0, 16.0)
    gx, gy = np.meshgrid(grid, grid)
    cx, cy = gx.ravel(), gy.ravel()
    near_object = np.min(np.hypot(cx[:, None] - x, cy[:, None] - y), axis=1) < 20.0
    # Bad columns and the bleed trails of saturated stars run the whole height.
    columns = x[(kinds == "bad_column") | (kinds == "saturated_star")]
    near_column = np.min(np.abs(cx[:, None] - columns), axis=1, initial=np.inf) < 10.0
    free = np.column_stack([cx, cy])[~near_object & ~near_column]
    assert len(free) >= n, "the simulated field is too crowded for the test injections"
    return free[np.linspace(0, len(free) - 1, n).astype(int)] + 0.3


def _write_like(path: Path, data: np.ndarray, header: fits.Header) -> Path:
    fits.PrimaryHDU(data=data.astype(np.float32), header=header).writeto(path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    root = tmp_path_factory.mktemp("inputs")
    sim = simulate_pair(SMALL, seed=SEED)
    paths = sim.write(root / "pair")
    injected_xy = _empty_positions(sim.truth, SMALL.shape, 3)
    science_b = inject_point_sources(
        sim.science, injected_xy, np.full(len(injected_xy), 2.0e4), sim.science_psf, seed=1
    )
    header = fits.getheader(paths["science"])
    data = fits.getdata(paths["science"])

    bad_dir = root / "bad"
    bad_dir.mkdir()
    text = bad_dir / "x.fits"
    text.write_text("this is not a FITS file\n")
    truncated = bad_dir / "truncated.fits"
    raw = paths["science"].read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    no_wcs_header = fits.Header(
        [(k, header[k]) for k in ("FILTER", "EXPTIME", "GAIN", "MJD-OBS") if k in header]
    )
    off_field = header.copy()
    off_field["CRVAL1"] = header["CRVAL1"] + 8.0
    off_field["CRVAL2"] = header["CRVAL2"] + 5.0
    other_band = header.copy()
    other_band["FILTER"] = "g"
    bad = {
        "not FITS": text,
        "truncated": truncated,
        "no WCS": _write_like(bad_dir / "nowcs.fits", data, no_wcs_header),
        "all NaN": _write_like(bad_dir / "allnan.fits", np.full_like(data, np.nan), header),
        "other field": _write_like(bad_dir / "offfield.fits", data, off_field),
        "other band": _write_like(bad_dir / "gband.fits", data, other_band),
    }
    science_b_path = root / "science_b.fits"
    science_b.to_hdu().writeto(science_b_path)
    return Inputs(
        reference=paths["reference"],
        science=paths["science"],
        science_b=science_b_path,
        injected_xy=injected_xy,
        truth=sim.truth,
        bad=bad,
    )


@pytest.fixture(scope="module")
def snapshot(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    root = tmp_path_factory.mktemp("snapshot")
    stages: list[tuple[str, str]] = []
    finished: list[FrameReport] = []
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(root / "store")), workers=1)
        report = pipeline.run(
            inputs.reference,
            [inputs.science],
            root / "out",
            on_stage=lambda path, stage: stages.append((path, stage)),
            on_frame=finished.append,
        )
    return Snapshot(root=root, report=report, stages=stages, finished=finished)


@pytest.fixture
def workspace(snapshot: Snapshot, tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "state"
    shutil.copytree(snapshot.root, root)
    catalog = connect(f"sqlite:///{root / 'astrid.sqlite'}")
    yield Workspace(catalog=catalog, store=ObjectStore(str(root / "store")), out=root / "out")
    catalog.close()


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _observation(catalog: Catalog, path: Path) -> dict[str, Any]:
    matches = [obs for obs in catalog.observations() if obs["path"] == str(path)]
    assert len(matches) == 1, f"expected one observation for {path}, got {matches}"
    return matches[0]


def _counts(catalog: Catalog) -> dict[str, Any]:
    return {
        "observations": len(catalog.observations()),
        "runs": [(r.id, r.key, r.status, r.n_candidates) for r in catalog.runs()],
        "candidates": len(catalog.candidates()),
    }


# -- one frame, end to end ------------------------------------------------------------------


def test_run_reports_one_done_frame(inputs: Inputs, snapshot: Snapshot) -> None:
    (frame,) = snapshot.report.frames
    assert frame.status == "done", frame.error
    assert frame.path == str(inputs.science)
    assert frame.failed_stage is None and frame.error is None
    assert frame.n_candidates >= 1
    assert snapshot.report.failed == []
    assert list(frame.timings) == STAGES
    assert 0.8 < frame.stats["scorr_std"] < 1.2
    assert frame.stats["n_candidates"] == frame.n_candidates
    assert snapshot.stages == [(str(inputs.science), stage) for stage in STAGES]
    assert snapshot.finished == [frame]


def test_run_writes_candidates_csv(inputs: Inputs, snapshot: Snapshot) -> None:
    csv_path = snapshot.report.candidates_csv
    assert csv_path == snapshot.root / "out" / "candidates.csv"
    assert csv_path.is_file()
    columns, rows = _csv_rows(csv_path)
    assert columns == README_COLUMNS + SCORE_COLUMNS + CATALOG_COLUMNS
    assert len(rows) == snapshot.report.frames[0].n_candidates >= 1
    assert {row["observation"] for row in rows} == {"science"}
    with connect(f"sqlite:///{snapshot.root / 'astrid.sqlite'}") as catalog:
        ids = [c["id"] for c in catalog.candidates(run_id=snapshot.report.frames[0].run_id)]
        science = _observation(catalog, inputs.science)
    assert [int(row["candidate_id"]) for row in rows] == ids
    assert {row["mjd"] for row in rows} == {str(science["mjd"])}
    assert {row["band"] for row in rows} == {science["filter"]} != {""}
    assert {row["observation_file"] for row in rows} == {str(inputs.science)}
    # every candidate joined an object; one frame's distinct sources are distinct objects
    assert all(row["object_id"] and row["object_name"].startswith("ASTRID") for row in rows)
    assert len({row["object_name"] for row in rows}) == len({row["object_id"] for row in rows})
    assert {row["model_version"] for row in rows} == {"realbogus v1"}  # the shipped model
    for name in SCORE_COLUMNS[:-1]:
        values = np.array([float(row[name]) for row in rows])
        assert np.all((values >= 0) & (values <= 1)), name
    table = Table.read(csv_path, format="ascii.csv")
    ny, nx = SMALL.shape
    assert np.all((table["x"] >= 0) & (table["x"] < nx) & (table["y"] >= 0) & (table["y"] < ny))
    assert np.all(np.abs(table["scorr"]) >= PipelineConfig().subtract.threshold)
    assert set(np.unique(table["sign"])) <= {-1, 1}
    # The injected bright transients are found, at the right place on the sky and in flux.
    score = match_to_truth(inputs.truth, table)
    assert score["completeness_snr_ge_8"] >= 0.9
    assert 0.85 < score["flux_ratio_median_snr_ge_20"] < 1.15
    assert score["astrometry_rms_arcsec_snr_ge_20"] < 0.3


def test_run_writes_difference_images(inputs: Inputs, snapshot: Snapshot) -> None:
    frame = snapshot.report.frames[0]
    directory = snapshot.root / "out" / "difference"
    with connect(f"sqlite:///{snapshot.root / 'astrid.sqlite'}") as catalog:
        (run,) = catalog.runs()
    stem = f"science.{run.key[:8]}"  # the run key: file hashes, settings, code version
    expected = {
        "difference": directory / f"{stem}.diff.fits",
        "score_corr": directory / f"{stem}.scorr.fits",
        "flux": directory / f"{stem}.flux.fits",
    }
    assert {k: Path(v) for k, v in frame.products_local.items()} == expected
    for path in expected.values():
        data = fits.getdata(path)
        assert data.shape == SMALL.shape
        assert np.isfinite(data).mean() > 0.9
    scorr = fits.getdata(expected["score_corr"])
    assert 0.8 < np.nanstd(np.clip(scorr, -5, 5)) < 1.2


def test_run_fills_the_catalog(inputs: Inputs, snapshot: Snapshot, workspace: Workspace) -> None:
    catalog, store = workspace.catalog, workspace.store
    frame = snapshot.report.frames[0]

    observations = catalog.observations()
    assert sorted((o["role"], o["path"]) for o in observations) == [
        ("reference", str(inputs.reference)),
        ("science", str(inputs.science)),
    ]
    science = _observation(catalog, inputs.science)
    assert science["id"] == frame.observation_id
    assert science["status"] == "processed"
    assert (science["shape_y"], science["shape_x"]) == SMALL.shape
    assert science["filter"] == "r"
    assert store.get_bytes(science["store_key"]) == inputs.science.read_bytes()

    (run,) = catalog.runs()
    assert run.id == frame.run_id
    assert run.status == "done"
    assert run.n_candidates == frame.n_candidates
    assert run.science_id == science["id"]
    assert run.reference_id == _observation(catalog, inputs.reference)["id"]

    candidates = catalog.candidates(run_id=run.id)
    _, rows = _csv_rows(snapshot.report.candidates_csv)
    assert len(candidates) == len(rows) == frame.n_candidates
    for cand, row in zip(candidates, rows, strict=True):
        assert cand["observation_id"] == science["id"]
        assert float(row["x"]) == pytest.approx(cand["x"], abs=1e-9)
        assert float(row["scorr"]) == pytest.approx(cand["scorr"], rel=1e-9)
        for kind in ("science", "reference", "difference"):
            key = cand[f"cutout_{kind}_key"]
            assert store.exists(key)
            cutout = fits.getdata(io.BytesIO(store.get_bytes(key)))
            assert cutout.shape == (63, 63)

    events = Counter(e.type for e in catalog.events())
    assert events["ObservationIngested"] == 1
    assert events["CandidatesFound"] == 1
    (found,) = catalog.events(type="CandidatesFound")
    assert found.payload == {"run_id": run.id, "observation_id": science["id"], "n": len(rows)}


# -- idempotency ----------------------------------------------------------------------------


def test_rerun_skips_finished_work(inputs: Inputs, workspace: Workspace) -> None:
    before = _counts(workspace.catalog)
    pipeline = Pipeline(workspace.catalog, workspace.store, workers=1)
    report = pipeline.run(inputs.reference, [inputs.science], workspace.out)

    (frame,) = report.frames
    assert frame.status == "skipped"
    assert frame.run_id == before["runs"][0][0]
    assert frame.n_candidates == before["runs"][0][3]
    assert _counts(workspace.catalog) == before
    _, rows = _csv_rows(workspace.out / "candidates.csv")
    assert len(rows) == before["candidates"]


def test_same_content_twice_in_a_batch_runs_once(inputs: Inputs, workspace: Workspace) -> None:
    copy = workspace.out.parent / "elsewhere" / inputs.science.name
    copy.parent.mkdir()
    shutil.copy(inputs.science, copy)
    before = _counts(workspace.catalog)
    pipeline = Pipeline(workspace.catalog, workspace.store, workers=1)
    report = pipeline.run(inputs.reference, [inputs.science, copy], workspace.out)

    assert [f.status for f in report.frames] == ["skipped", "duplicate"]
    assert report.frames[1].run_id == report.frames[0].run_id
    assert _counts(workspace.catalog) == before
    _, rows = _csv_rows(workspace.out / "candidates.csv")
    assert len(rows) == before["candidates"]


def test_candidates_csv_keeps_every_run_into_its_folder(
    inputs: Inputs, workspace: Workspace
) -> None:
    # The snapshot ran `science` into this folder; another call adds `science_b`.
    catalog = workspace.catalog
    pipeline = Pipeline(catalog, workspace.store, workers=1)
    (first,) = catalog.runs()
    (added,) = pipeline.run(inputs.reference, [inputs.science_b], workspace.out).frames
    assert added.status == "done", added.error

    def ids_by_frame() -> dict[str, list[int]]:
        _, rows = _csv_rows(workspace.out / "candidates.csv")
        frames: dict[str, list[int]] = {}
        for row in rows:
            frames.setdefault(row["observation_file"], []).append(int(row["candidate_id"]))
        return frames

    expected = {
        str(inputs.science): [c["id"] for c in catalog.candidates(run_id=first.id)],
        str(inputs.science_b): [c["id"] for c in catalog.candidates(run_id=added.run_id)],
    }
    assert ids_by_frame() == expected
    assert len(expected[str(inputs.science)]) == first.n_candidates >= 1

    # Either frame again (skipped, or both at once): the same rows, none twice.
    pipeline.run(inputs.reference, [inputs.science], workspace.out)
    assert ids_by_frame() == expected
    pipeline.run(inputs.reference, [inputs.science_b, inputs.science], workspace.out)
    assert ids_by_frame() == expected

    # A frame re-run with other settings: its rows are replaced by the new run's.
    base = PipelineConfig()
    config = replace(base, subtract=replace(base.subtract, threshold=7.0))
    rerun = Pipeline(catalog, workspace.store, config, workers=1)
    (redone,) = rerun.run(inputs.reference, [inputs.science_b], workspace.out).frames
    assert redone.status == "done" and redone.run_id != added.run_id
    expected[str(inputs.science_b)] = [c["id"] for c in catalog.candidates(run_id=redone.run_id)]
    assert ids_by_frame() == expected
    assert len(ids_by_frame()[str(inputs.science_b)]) < added.n_candidates


def test_same_name_in_two_folders_gets_two_sets_of_products(
    inputs: Inputs, workspace: Workspace
) -> None:
    other = workspace.out.parent / "other" / inputs.science.name
    other.parent.mkdir()
    shutil.copy(inputs.science_b, other)
    pipeline = Pipeline(workspace.catalog, workspace.store, workers=1)
    report = pipeline.run(inputs.reference, [inputs.science, other], workspace.out)

    assert [f.status for f in report.frames] == ["skipped", "done"]
    products = sorted(p.name for p in (workspace.out / "difference").glob("*.diff.fits"))
    assert len(products) == 2, products


def test_changed_settings_make_a_new_run(inputs: Inputs, workspace: Workspace) -> None:
    before = _counts(workspace.catalog)
    base = PipelineConfig()
    config = replace(base, subtract=replace(base.subtract, threshold=7.0))
    pipeline = Pipeline(workspace.catalog, workspace.store, config, workers=1)
    (frame,) = pipeline.run(inputs.reference, [inputs.science], workspace.out).frames

    assert frame.status == "done"
    runs = workspace.catalog.runs()
    assert len(runs) == 2 and frame.run_id == runs[1].id
    assert 1 <= frame.n_candidates < before["candidates"]
    assert len(workspace.catalog.observations()) == before["observations"]
    assert len(workspace.catalog.candidates()) == before["candidates"] + frame.n_candidates


# -- failures -------------------------------------------------------------------------------


def test_batch_records_bad_frames_and_goes_on(inputs: Inputs, workspace: Workspace) -> None:
    catalog = workspace.catalog
    (old_run,) = catalog.runs()
    old_candidates = catalog.candidates(run_id=old_run.id)
    sciences = [inputs.science_b, *inputs.bad.values()]

    pipeline = Pipeline(catalog, workspace.store, workers=2)
    report = pipeline.run(inputs.reference, sciences, workspace.out)

    assert [f.path for f in report.frames] == [str(p) for p in sciences]
    good, *bad = report.frames
    assert good.status == "done", good.error
    assert good.n_candidates >= len(inputs.injected_xy)
    candidates = catalog.candidates(run_id=good.run_id)
    xy = np.array([[c["x"], c["y"]] for c in candidates])
    for x, y in inputs.injected_xy:
        assert np.min(np.hypot(xy[:, 0] - x, xy[:, 1] - y)) < 1.5

    # kind -> (stage, what the message says besides the file name)
    expected = {
        "not FITS": ("read", "not a readable FITS file"),
        "truncated": ("read", "truncated"),
        "no WCS": ("read", "no celestial WCS"),
        "all NaN": ("read", "are finite"),
        "other field": ("validate", "overlap on 0.0%"),
        "other band": ("validate", "different bands: 'g' vs 'r'"),
    }
    for (kind, path), frame in zip(inputs.bad.items(), bad, strict=True):
        stage, reason = expected[kind]
        assert frame.status == "failed", kind
        assert frame.failed_stage == stage, (kind, frame.error)
        assert frame.error is not None and str(path) in frame.error, (kind, frame.error)
        assert reason in frame.error, (kind, frame.error)
        assert frame.n_candidates == 0
        obs = _observation(catalog, path)
        assert obs["id"] == frame.observation_id
        assert obs["status"] == "failed", kind
        assert obs["role"] == "science"
        assert obs["error"] == frame.error
    assert report.failed == bad

    # Runs exist only for frames that were readable; the failed ones say where they failed.
    runs = {r.id: r for r in catalog.runs()}
    assert runs[good.run_id].status == "done"
    for frame in bad[4:]:
        assert runs[frame.run_id].status == "failed"
        assert runs[frame.run_id].failed_stage == "validate"
    assert all(frame.run_id is None for frame in bad[:4])
    assert len(catalog.events(type="ObservationRejected")) == 4
    assert len(catalog.events(type="RunFailed")) == 2

    # What an earlier run stored is untouched.
    assert catalog.find_run(key=old_run.key) == old_run
    assert catalog.candidates(run_id=old_run.id) == old_candidates
    assert len(catalog.candidates()) == len(old_candidates) + good.n_candidates

    # The csv lists the good frames of every run into this folder: the earlier and this one.
    _, rows = _csv_rows(workspace.out / "candidates.csv")
    assert len(rows) == len(old_candidates) + good.n_candidates
    assert Counter(row["observation"] for row in rows) == {
        "science": len(old_candidates),
        "science_b": good.n_candidates,
    }


@pytest.mark.parametrize("kind", ["not FITS", "missing"])
def test_bad_reference_raises_and_changes_nothing_else(
    inputs: Inputs, workspace: Workspace, kind: str
) -> None:
    catalog = workspace.catalog
    reference = workspace.out.parent / "bad_reference.fits"
    if kind == "not FITS":
        reference.write_text("SIMPLE = nonsense\n")
    before = _counts(catalog)
    events_before = catalog.events()
    candidates_before = catalog.candidates()

    pipeline = Pipeline(catalog, workspace.store, workers=1)
    with pytest.raises(InvalidImageError, match=re.escape(str(reference))):
        pipeline.run(reference, [inputs.science], workspace.out)

    obs = _observation(catalog, reference)
    assert obs["role"] == "reference"
    assert obs["status"] == "failed"
    assert str(reference) in obs["error"]
    after = _counts(catalog)
    assert after["observations"] == before["observations"] + 1
    assert after["runs"] == before["runs"]
    assert catalog.candidates() == candidates_before
    events = catalog.events()
    assert events[: len(events_before)] == events_before
    assert [e.type for e in events[len(events_before) :]] == ["ObservationRejected"]


def test_stage_failure_is_recorded_and_retried(
    inputs: Inputs, snapshot: Snapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_subtract(*args: object, **kwargs: object) -> None:
        raise DifferencingError("noise is degenerate", residual=float("nan"))

    monkeypatch.setattr("astrid.pipeline.frame.subtract", broken_subtract)
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(tmp_path / "store")), workers=1)
        (failed,) = pipeline.run(inputs.reference, [inputs.science], tmp_path / "out").frames

        assert failed.status == "failed"
        assert failed.failed_stage == "difference"
        assert failed.error == "noise is degenerate"
        (run,) = catalog.runs()
        assert (run.id, run.status, run.failed_stage) == (failed.run_id, "failed", "difference")
        assert run.error == "noise is degenerate"
        assert _observation(catalog, inputs.science)["status"] == "failed"
        assert catalog.candidates() == []
        assert not (tmp_path / "out" / "difference" / "science.diff.fits").exists()
        _, rows = _csv_rows(tmp_path / "out" / "candidates.csv")
        assert rows == []

        monkeypatch.undo()
        (done,) = pipeline.run(inputs.reference, [inputs.science], tmp_path / "out").frames
        assert done.status == "done", done.error
        (run,) = catalog.runs()
        assert (run.id, run.status, run.failed_stage, run.error) == (
            failed.run_id,
            "done",
            None,
            None,
        )
        assert catalog.find_run(key=run.key) == run
        assert done.n_candidates == snapshot.report.frames[0].n_candidates
        assert len(catalog.candidates()) == done.n_candidates
        assert _observation(catalog, inputs.science)["status"] == "processed"
        assert len(catalog.observations()) == 2
