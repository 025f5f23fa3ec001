"""The objects stage end to end: light curves by forced photometry, history, idempotence.

Three epochs of one simulated field against its reference: the first and last are the
plain science frame (two MJDs), the middle one has three point sources injected. Each
source must become one object whose light curve has a point on every epoch: the middle one
detected at the injected flux, the two others non-detections consistent with zero — the
first measured *before* the object existed (its history from the stored product).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astrid.catalog import connect, light_curves, objects_of_runs, runs_with_objects_stage
from astrid.difference import DifferenceProduct
from astrid.errors import InvalidImageError
from astrid.objects import forced_photometry
from astrid.pipeline.object_outputs import LIGHTCURVE_COLUMNS, OBJECT_COLUMNS
from astrid.pipeline.runner import Pipeline, RunReport
from astrid.simulation import inject_point_sources, simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

INJECTED_FLUX = 2.0e4


@dataclass(frozen=True)
class Epochs:
    reference: Path
    frames: list[Path]  # MJD order
    injected_xy: np.ndarray


@pytest.fixture(scope="module")
def epochs(tmp_path_factory: pytest.TempPathFactory) -> Epochs:
    root = tmp_path_factory.mktemp("epochs")
    sim = simulate_pair(SMALL_FIELD, seed=5)
    paths = sim.write(root / "pair")
    ny, nx = SMALL_FIELD.shape
    rng = np.random.default_rng(2)
    truth_xy = np.column_stack([sim.truth["x"], sim.truth["y"]])
    chosen: list[np.ndarray] = []
    while len(chosen) < 3:
        xy = rng.uniform(40, [nx - 40, ny - 40])
        if np.min(np.hypot(*(truth_xy - xy).T)) > 15:
            chosen.append(xy)
    xy = np.array(chosen)
    bright = inject_point_sources(
        sim.science, xy, np.full(len(xy), INJECTED_FLUX), sim.science_psf, seed=1
    )
    header = fits.getheader(paths["science"])
    frames = []
    for k, data in enumerate((sim.science.data, bright.data, sim.science.data)):
        hdr = header.copy()
        hdr["MJD-OBS"] = 60000.0 + k
        path = root / f"epoch{k}.fits"
        fits.PrimaryHDU(np.asarray(data, dtype=np.float32), header=hdr).writeto(path)
        frames.append(path)
    return Epochs(paths["reference"], frames, xy)


def _run(root: Path, epochs: Epochs, frames: list[Path]) -> tuple[RunReport, Path]:
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(root / "store")), workers=1, score=False)
        report = pipeline.run(epochs.reference, frames, root / "out")
    return report, root / "astrid.sqlite"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def in_order(epochs: Epochs, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunReport, Path]:
    return _run(tmp_path_factory.mktemp("in-order"), epochs, epochs.frames)


def _injected_objects(rows: list[dict[str, str]], epochs: Epochs, report: RunReport) -> list[str]:
    """Names of the objects at the injected positions (pixel match on the middle frame)."""
    path = report.frames[1].products_local["flux"]
    product = DifferenceProduct.read(Path(path).read_bytes(), "middle epoch")
    wcs = product.wcs
    names = []
    for x, y in epochs.injected_xy:
        sky = wcs.pixel_to_world(x, y)
        near = [
            r
            for r in rows
            if np.hypot(
                (float(r["ra"]) - sky.ra.deg) * np.cos(np.radians(sky.dec.deg)),
                float(r["dec"]) - sky.dec.deg,
            )
            * 3600
            < 1.5
        ]
        assert len(near) == 1, f"injected source at {x:.1f},{y:.1f}: {len(near)} objects"
        names.append(near[0]["name"])
    return names


def test_each_injected_source_is_one_object_with_a_full_light_curve(
    in_order: tuple[RunReport, Path], epochs: Epochs
) -> None:
    report, _ = in_order
    assert report.objects is not None and not report.objects.runs_failed
    assert report.objects_csv is not None and report.lightcurves_csv is not None
    objects = _rows(report.objects_csv)
    assert list(objects[0]) == list(OBJECT_COLUMNS)
    names = _injected_objects(objects, epochs, report)
    curves = _rows(report.lightcurves_csv)
    assert report.candidates_csv is not None
    candidates = {r["candidate_id"]: r for r in _rows(report.candidates_csv)}
    assert list(curves[0]) == list(LIGHTCURVE_COLUMNS)
    for name in names:
        points = sorted((r for r in curves if r["name"] == name), key=lambda r: float(r["mjd"]))
        assert [float(p["mjd"]) for p in points] == [60000.0, 60001.0, 60002.0]
        assert [p["detected"] for p in points] == ["0", "1", "0"]
        detected = points[1]
        assert detected["candidate_id"] != ""
        # forced photometry at the object's position agrees with the detection's own PSF
        # photometry; both carry the pair's photometric scaling (a 384² field: ~10 %)
        candidate = candidates[detected["candidate_id"]]
        assert float(detected["flux"]) == pytest.approx(float(candidate["flux"]), rel=0.03)
        assert float(detected["flux"]) == pytest.approx(INJECTED_FLUX, rel=0.2)
        for p in (points[0], points[2]):  # before (history) and after: nothing there
            assert abs(float(p["flux"]) / float(p["flux_err"])) < 5
            assert p["mag"] == "" and p["candidate_id"] == ""
        row = next(r for r in objects if r["name"] == name)
        assert row["n_detections"] == "1" and row["n_nondetections"] == "2"
        assert float(row["peak_mjd"]) == 60001.0
        assert row["context_class"] != ""


def test_forced_flux_on_empty_sky_is_unit_normal(in_order: tuple[RunReport, Path]) -> None:
    report, _ = in_order
    product = DifferenceProduct.read(
        Path(report.frames[0].products_local["flux"]).read_bytes(), "first epoch"
    )
    rng = np.random.default_rng(0)
    ny, nx = product.shape
    phot = forced_photometry(product, rng.uniform(20, nx - 20, 400), rng.uniform(20, ny - 20, 400))
    pulls = (phot.flux / phot.flux_err)[phot.covered]
    pulls = pulls[np.abs(pulls) < 5]  # sources of the field itself (the pair is real sky)
    assert len(pulls) > 300
    assert abs(np.mean(pulls)) < 0.2
    assert 0.7 < np.std(pulls) < 1.3


def test_rerun_adds_no_points_and_the_stage_is_done(
    in_order: tuple[RunReport, Path], epochs: Epochs, tmp_path: Path
) -> None:
    report, db = in_order
    root = db.parent
    with connect(f"sqlite:///{db}") as catalog:
        run_ids = [f.run_id for f in report.frames if f.run_id is not None]
        ids = objects_of_runs(catalog, run_ids)
        before = sum(len(v) for v in light_curves(catalog, ids).values())
        assert runs_with_objects_stage(catalog, "pending") == []
        assert sorted(runs_with_objects_stage(catalog, "done")) == sorted(run_ids)
    again, _ = _run(root, epochs, epochs.frames)
    assert {f.status for f in again.frames} == {"skipped"}
    with connect(f"sqlite:///{db}") as catalog:
        after = sum(len(v) for v in light_curves(catalog, ids).values())
    assert after == before


def test_any_order_gives_the_same_light_curves(
    in_order: tuple[RunReport, Path], epochs: Epochs, tmp_path: Path
) -> None:
    report, _ = in_order
    reverse, _ = _run(tmp_path, epochs, list(reversed(epochs.frames)))
    assert reverse.lightcurves_csv is not None and report.lightcurves_csv is not None

    def curve(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
        return sorted((r["mjd"], r["detected"], f"{float(r['flux']):.2f}") for r in rows)

    assert curve(_rows(reverse.lightcurves_csv)) == curve(_rows(report.lightcurves_csv))


def test_a_product_from_an_older_astrid_is_refused_by_name(tmp_path: Path) -> None:
    old = tmp_path / "old.diff.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(old)
    with pytest.raises(InvalidImageError, match=r"old run.*reprocess the frame"):
        DifferenceProduct.read(old.read_bytes(), "old run")
    with pytest.raises(InvalidImageError, match=r"garbage.*unreadable"):
        DifferenceProduct.read(b"not fits at all", "garbage")


def test_a_source_moving_within_a_night_is_flagged_not_given_a_light_curve(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("night")
    sim = simulate_pair(SMALL_FIELD, seed=6)
    paths = sim.write(root / "pair")
    header = fits.getheader(paths["science"])
    truth_xy = np.column_stack([sim.truth["x"], sim.truth["y"]])
    start = np.array([120.0, 150.0])
    still = np.array([260.0, 220.0])
    for xy in (start, start + 2 * np.array([9.0, 6.0]), still):
        assert np.min(np.hypot(*(truth_xy - xy).T)) > 12, "test positions must be empty"
    frames = []
    for k in range(3):  # three visits 40 minutes apart
        xy = np.array([start + k * np.array([9.0, 6.0]), still])
        image = inject_point_sources(
            sim.science, xy, np.full(2, INJECTED_FLUX), sim.science_psf, seed=k
        )
        hdr = header.copy()
        hdr["MJD-OBS"] = 60100.0 + k * 40 / 1440
        frames.append(root / f"visit{k}.fits")
        fits.PrimaryHDU(np.asarray(image.data, np.float32), header=hdr).writeto(frames[-1])
    report, _ = _run(root, Epochs(paths["reference"], frames, xy), frames)
    assert report.objects is not None and report.objects.moving >= 3
    assert report.objects_csv is not None and report.lightcurves_csv is not None
    objects = _rows(report.objects_csv)
    # the three detections of the track (unscored artifacts of one visit may be flagged too)
    moving = [r for r in objects if r["moving"] == "1" and "track" in r["context_reason"]]
    assert len(moving) == 3 and {r["context_class"] for r in moving} == {"moving_object"}
    assert all(r["n_detections"] == "1" for r in moving)
    curves = _rows(report.lightcurves_csv)
    names = {r["name"] for r in moving}
    assert all(r["detected"] == "1" for r in curves if r["name"] in names)
    stationary = [r for r in objects if r["n_detections"] == "3"]
    assert stationary and all(r["moving"] == "0" for r in stationary)


def test_a_source_seen_once_and_gone_an_hour_later_is_flagged_moving(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two visits of one night: too few for a track, but each detection of the moving
    source is absent from the other visit, while the stationary one is in both."""
    root = tmp_path_factory.mktemp("two-visits")
    sim = simulate_pair(SMALL_FIELD, seed=6)
    paths = sim.write(root / "pair")
    header = fits.getheader(paths["science"])
    truth_xy = np.column_stack([sim.truth["x"], sim.truth["y"]])
    start, step, still = np.array([120.0, 150.0]), np.array([14.0, 9.0]), np.array([260.0, 220.0])
    for xy in (start, start + step, still):
        assert np.min(np.hypot(*(truth_xy - xy).T)) > 12, "test positions must be empty"
    frames = []
    for k in range(2):  # two visits an hour apart
        xy = np.array([start + k * step, still])
        image = inject_point_sources(
            sim.science, xy, np.full(2, INJECTED_FLUX), sim.science_psf, seed=k
        )
        hdr = header.copy()
        hdr["MJD-OBS"] = 60200.0 + k / 24
        frames.append(root / f"visit{k}.fits")
        fits.PrimaryHDU(np.asarray(image.data, np.float32), header=hdr).writeto(frames[-1])
    report, _ = _run(root, Epochs(paths["reference"], frames, xy), frames)
    assert report.objects_csv is not None and report.candidates_csv is not None
    objects = {r["name"]: r for r in _rows(report.objects_csv)}
    wcs = simulate_pair(SMALL_FIELD, seed=6).science.wcs

    def object_at(xy: np.ndarray) -> dict[str, str]:
        ra, dec = wcs.pixel_to_world_values(*xy)
        near = [
            r
            for r in objects.values()
            if np.hypot((float(r["ra"]) - ra) * np.cos(np.radians(dec)), float(r["dec"]) - dec)
            * 3600
            < 1.5
        ]
        assert len(near) == 1
        return near[0]

    for xy in (start, start + step):
        seen_once = object_at(xy)
        assert seen_once["moving"] == "1" and seen_once["n_detections"] == "1"
        assert "absent from its place" in seen_once["context_reason"]
    stationary = object_at(still)
    assert stationary["moving"] == "0" and stationary["n_detections"] == "2"
    # (unscored artifacts seen in one visit only may be flagged too; never a source of both)
    assert all(r["n_detections"] == "1" for r in objects.values() if r["moving"] == "1")
