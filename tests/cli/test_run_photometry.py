"""`astrid run --photometric-catalogue`: zero points from reference stars, recorded on the
observation and used for every magnitude; bad catalogue files stop the run with why."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.catalog.observations import observations
from astrid.cli import app
from astrid.simulation import simulate_pair
from astrid.simulation.config import SCIENCE_ZERO_POINT
from small_field import SMALL_FIELD

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small field with no zero point in either header, and its stars as a catalogue."""
    root = tmp_path_factory.mktemp("photometry")
    sim = simulate_pair(SMALL_FIELD, seed=3)
    paths = sim.write(root / "pair")
    for role in ("science", "reference"):
        with fits.open(paths[role], mode="update") as hdul:
            del hdul[0].header["MAGZP"]
    stars = sim.truth[sim.truth["kind"] == "star"]
    rng = np.random.default_rng(0)
    catalogue = Table(
        {
            "RAJ2000": stars["ra"],
            "DEJ2000": stars["dec"],
            "rmag": np.asarray(stars["mag"]) + rng.normal(0.0, 0.02, len(stars)),
            "e_rmag": np.full(len(stars), 0.02),
        }
    )
    paths["catalogue"] = root / "stars.csv"
    catalogue.write(paths["catalogue"], format="ascii.csv")
    return paths


def _run(inputs: dict[str, Path], tmp_path: Path, *extra: str) -> tuple[int, str]:
    args = ["run", "-r", str(inputs["reference"]), "-o", str(tmp_path / "out")]
    args += ["--data-dir", str(tmp_path / "data"), "--no-alerts", *extra]
    result = runner.invoke(app, [*args, str(inputs["science"])])
    return result.exit_code, result.output.replace("\n", "")


def _candidates(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "out" / "candidates.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_catalogue_calibrates_the_frame_and_gives_every_candidate_a_magnitude(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    code, output = _run(inputs, tmp_path, "--photometric-catalogue", str(inputs["catalogue"]))
    assert code == 0, output
    with connect(f"sqlite:///{tmp_path / 'data' / 'astrid.sqlite'}") as catalog:
        (science,) = observations(catalog, role="science")
    assert science.zero_point_source == "catalogue"
    assert science.zero_point is not None and science.zero_point_error is not None
    # the PSF model of a 384² field holds a few per cent of flux too much in its wings;
    # the zero point absorbs it (tests/preprocess/test_zero_point.py measures it exactly)
    assert abs(science.zero_point - SCIENCE_ZERO_POINT) < 0.1
    assert science.zero_point_stars is not None and science.zero_point_stars >= 5
    assert science.limiting_mag is not None and 20 < science.limiting_mag < 26
    rows = _candidates(tmp_path)
    positive = [r for r in rows if float(r["flux"]) > 0]
    assert positive and all(r["mag"] != "" for r in positive)


def test_without_a_catalogue_or_header_zero_point_there_are_no_magnitudes(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    code, output = _run(inputs, tmp_path)
    assert code == 0, output
    with connect(f"sqlite:///{tmp_path / 'data' / 'astrid.sqlite'}") as catalog:
        (science,) = observations(catalog, role="science")
    assert science.zero_point is None and science.limiting_mag is None
    assert all(r["mag"] == "" for r in _candidates(tmp_path))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "absent.csv", "absent.csv: photometric catalogue file not found"),
        (lambda d: _write(d / "nopos.csv", "x,y,r\n1,2,17\n"), "no RA/Dec columns"),
        (lambda d: _write(d / "noband.csv", "ra,dec,g\n1,2,17\n"), "no r-band magnitude"),
    ],
)
def test_a_bad_catalogue_stops_the_run_before_any_frame(
    inputs: dict[str, Path], tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code, output = _run(inputs, tmp_path, "--photometric-catalogue", str(path), "--band", "r")
    assert code == 2, output
    assert message in output
    assert not (tmp_path / "out" / "candidates.csv").exists()


def test_an_unknown_band_is_refused(inputs: dict[str, Path], tmp_path: Path) -> None:
    args = ["--photometric-catalogue", str(inputs["catalogue"]), "--band", "w"]
    code, output = _run(inputs, tmp_path, *args)
    assert code == 2 and "unknown band 'w'" in output


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
