"""Tests of master bias / flat calibration inside a pipeline run, on a simulated raw frame.

The simulated science frame stands for a reduced image; its "raw" version is that image
times a known flat plus a known bias, clipped at the saturation level like a detector.
Calibrating the raw frame with those masters must give back the reduced frame's
candidates, change the run key, and skip on a re-run with the same masters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from sqlalchemy import text as sql_text

from astrid.catalog import Catalog, connect
from astrid.errors import ConfigurationError, InvalidImageError
from astrid.evaluation.scoring import match_to_truth
from astrid.observations.hashing import file_sha256
from astrid.pipeline.runner import Pipeline, RunReport
from astrid.preprocess.master_files import read_master, write_master
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

SMALL = SMALL_FIELD
SEED = 3
BIAS_LEVEL = 300.0


@dataclass(frozen=True)
class Inputs:
    """The simulated pair, the raw science frame and its masters."""

    reference: Path
    science: Path  # reduced
    raw: Path  # science * flat + bias, clipped at SATURATE
    bias: Path
    flat: Path
    truth: Table


@dataclass(frozen=True)
class Runs:
    """One catalog holding: the reduced and the raw frame uncalibrated, the raw calibrated."""

    root: Path
    catalog: Catalog
    store: ObjectStore
    uncalibrated: RunReport  # frames: [science, raw]
    calibrated: RunReport  # frames: [raw]
    stages: list[str]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    root = tmp_path_factory.mktemp("calibration")
    sim = simulate_pair(SMALL, seed=SEED)
    paths = sim.write(root / "pair")
    header = fits.getheader(paths["science"])
    data = fits.getdata(paths["science"]).astype(np.float64)

    ny, nx = SMALL.shape
    yy, xx = np.mgrid[:ny, :nx]
    flat = 0.9 + 0.2 * (0.7 * xx / (nx - 1) + 0.3 * yy / (ny - 1))  # smooth, 0.9 to 1.1
    rng = np.random.default_rng(7)
    bias = BIAS_LEVEL + 2.0 * np.sin(xx / 9.0) + rng.normal(0.0, 1.0, SMALL.shape)
    raw = np.minimum(data * flat + bias, float(header["SATURATE"]))  # NaN pixels stay NaN

    raw_path = root / "raw.fits"
    fits.PrimaryHDU(data=raw.astype(np.float32), header=header).writeto(raw_path)
    masters = root / "masters"
    masters.mkdir()
    bias_path = write_master(
        masters / "master_bias.fits", bias, kind="bias", sources=["b1.fits", "b2.fits"]
    )
    flat_path = write_master(masters / "master_flat.fits", flat, kind="flat", sources=["f1.fits"])
    return Inputs(
        reference=paths["reference"],
        science=paths["science"],
        raw=raw_path,
        bias=bias_path,
        flat=flat_path,
        truth=sim.truth,
    )


@pytest.fixture(scope="module")
def runs(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("calibration-runs")
    catalog = connect(f"sqlite:///{root / 'astrid.sqlite'}")
    store = ObjectStore(str(root / "store"))
    pipeline = Pipeline(catalog, store, workers=1)
    uncalibrated = pipeline.run(inputs.reference, [inputs.science, inputs.raw], root / "plain")
    stages: list[str] = []
    calibrated = pipeline.run(
        inputs.reference,
        [inputs.raw],
        root / "calibrated",
        on_stage=lambda _path, stage: stages.append(stage),
        calibration={"bias": str(inputs.bias), "flat": str(inputs.flat)},
    )
    yield Runs(root, catalog, store, uncalibrated, calibrated, stages)
    catalog.close()


def _table(report: RunReport) -> Table:
    assert report.candidates_csv is not None
    return Table.read(report.candidates_csv, format="ascii.csv")


def _run_config(root: Path, run_id: int | None) -> dict[str, object]:
    """The run's config as stored (read in SQL: text on SQLite, jsonb on PostgreSQL)."""
    query = sql_text("SELECT config_json FROM processing_runs WHERE id = :id")
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        with catalog.engine.connect() as conn:
            value = conn.execute(query, {"id": run_id}).scalar_one()
    config: dict[str, object] = value if isinstance(value, dict) else json.loads(value)
    return config


def test_masters_round_trip(inputs: Inputs) -> None:
    bias = read_master(inputs.bias, kind="bias")
    assert bias.dtype == np.float32 and bias.shape == SMALL.shape
    assert float(np.median(bias)) == pytest.approx(BIAS_LEVEL, abs=0.5)
    header = fits.getheader(inputs.bias)
    assert (header["IMAGETYP"], header["BUNIT"], header["NCOMBINE"]) == ("MASTER BIAS", "adu", 2)
    assert (header["IMCMB001"], header["IMCMB002"]) == ("b1.fits", "b2.fits")
    with pytest.raises(InvalidImageError, match=r"master_bias\.fits.*MASTER BIAS.*master flat"):
        read_master(inputs.bias, kind="flat")


def test_calibrated_raw_frame_finds_what_the_reduced_frame_finds(
    inputs: Inputs, runs: Runs
) -> None:
    reduced, _ = runs.uncalibrated.frames
    (calibrated,) = runs.calibrated.frames
    assert reduced.status == "done", reduced.error
    assert calibrated.status == "done", calibrated.error
    assert list(calibrated.timings) == [
        "read",
        "calibrate",
        "validate",
        "prepare_reference",
        "preprocess",
        "difference",
        "score",
        "write",
    ]
    assert runs.stages == list(calibrated.timings)
    assert "calibrate" not in reduced.timings
    assert abs(calibrated.n_candidates - reduced.n_candidates) <= 3
    assert 0.8 < calibrated.stats["scorr_std"] < 1.2

    table = _table(runs.calibrated)
    assert len(table) == calibrated.n_candidates
    plain = _table(runs.uncalibrated)
    plain = plain[plain["observation"] == "science"]
    score = match_to_truth(inputs.truth, table)
    reduced_score = match_to_truth(inputs.truth, plain)
    assert score["completeness_snr_ge_8"] >= 0.9
    assert 0.85 < score["flux_ratio_median_snr_ge_20"] < 1.15
    assert score["n_bogus"] <= reduced_score["n_bogus"] + 2
    # Nearly every candidate is one the reduced frame gave, at the same place.
    distance = np.hypot(
        np.asarray(table["x"])[:, None] - np.asarray(plain["x"])[None, :],
        np.asarray(table["y"])[:, None] - np.asarray(plain["y"])[None, :],
    ).min(axis=1)
    assert np.mean(distance < 0.5) >= 0.9


def test_calibration_enters_the_run_key_and_config(inputs: Inputs, runs: Runs) -> None:
    _, raw_plain = runs.uncalibrated.frames
    (raw_calibrated,) = runs.calibrated.frames
    assert raw_plain.observation_id == raw_calibrated.observation_id
    keys = {run.id: run.key for run in runs.catalog.runs()}
    assert keys[raw_plain.run_id] != keys[raw_calibrated.run_id]

    config = _run_config(runs.root, raw_calibrated.run_id)
    assert config["calibration"] == {
        "bias": {"path": str(inputs.bias), "sha256": file_sha256(inputs.bias)},
        "flat": {"path": str(inputs.flat), "sha256": file_sha256(inputs.flat)},
    }
    assert "calibration" not in _run_config(runs.root, raw_plain.run_id)


def test_rerun_with_the_same_masters_skips(inputs: Inputs, runs: Runs) -> None:
    before = [(r.id, r.key, r.status) for r in runs.catalog.runs()]
    pipeline = Pipeline(runs.catalog, runs.store, workers=1)
    # Same masters under another order of the mapping: same key.
    report = pipeline.run(
        inputs.reference,
        [inputs.raw],
        runs.root / "again",
        calibration={"flat": inputs.flat, "bias": inputs.bias},
    )

    (frame,) = report.frames
    assert frame.status == "skipped"
    assert frame.run_id == runs.calibrated.frames[0].run_id
    assert frame.n_candidates == runs.calibrated.frames[0].n_candidates
    assert [(r.id, r.key, r.status) for r in runs.catalog.runs()] == before


def test_flat_of_the_wrong_shape_fails_the_frame(inputs: Inputs, tmp_path: Path) -> None:
    ny, nx = SMALL.shape
    wrong = write_master(
        tmp_path / "small_flat.fits", np.ones((ny - 1, nx)), kind="flat", sources=["f.fits"]
    )
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(tmp_path / "store")), workers=1)
        report = pipeline.run(
            inputs.reference,
            [inputs.raw],
            tmp_path / "out",
            calibration={"bias": inputs.bias, "flat": wrong},
        )
        (run,) = catalog.runs()

    (frame,) = report.frames
    assert frame.status == "failed"
    assert frame.failed_stage == "calibrate"
    assert frame.error is not None
    assert str(wrong) in frame.error
    assert f"{(ny - 1, nx)}" in frame.error and f"{SMALL.shape}" in frame.error
    assert (run.status, run.failed_stage) == ("failed", "calibrate")


@pytest.mark.parametrize("problem", ["not FITS", "missing", "unknown kind"])
def test_unusable_master_stops_the_run_before_any_work(
    inputs: Inputs, tmp_path: Path, problem: str
) -> None:
    master = tmp_path / "master.fits"
    if problem == "not FITS":
        master.write_text("not a FITS file\n")
    calibration = {"bias": master}
    if problem == "unknown kind":
        calibration = {"sky": inputs.flat}
    error: type[Exception] = ConfigurationError if problem == "unknown kind" else InvalidImageError

    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(tmp_path / "store")), workers=1)
        with pytest.raises(error) as raised:
            pipeline.run(inputs.reference, [inputs.raw], tmp_path / "out", calibration=calibration)
        assert catalog.runs() == []
        assert catalog.observations() == []
    name = "sky" if problem == "unknown kind" else str(master)
    assert name in str(raised.value)
