"""`astrid references build` (issue 19): a newcomer with only science frames gets references
per field and band, then candidates from `astrid run` without --reference. Cloudy and
late frames are left out, and say why."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from astrid.cli import app
from astrid.simulation import simulate_pair
from small_field import STATIC_FIELD

runner = CliRunner()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four epochs of one field (one under cloud), two of another, and a new frame of the
    first field with transients, taken last."""
    root = tmp_path_factory.mktemp("night")
    paths: dict[str, Path] = {}
    for k, seeing in enumerate((1.0, 0.8, 1.3, 0.9)):
        pair = simulate_pair(STATIC_FIELD, seed=4, epoch=k + 1, seeing=seeing)
        paths[f"here{k}"] = Path(pair.write(root / f"here{k}")["science"])
    with fits.open(paths["here3"], mode="update") as hdul:  # thin cloud: a third of the light
        data = hdul[0].data.astype(float)
        sky = float(np.median(data))
        noise = float(np.median(np.abs(data - sky))) * 1.4826
        dimmed = sky + 0.35 * (data - sky)  # the sky's noise stays what it was
        dimmed += np.random.default_rng(0).normal(0.0, noise * np.sqrt(1 - 0.35**2), data.shape)
        hdul[0].data = dimmed.astype(hdul[0].data.dtype)
    away = replace(STATIC_FIELD, center=(150.0, 10.0))
    for k in range(2):
        pair = simulate_pair(away, seed=5, epoch=k + 1)
        paths[f"away{k}"] = Path(pair.write(root / f"away{k}")["science"])
    field = replace(STATIC_FIELD, n_transients=12, n_transients_on_galaxies=2)
    paths["new"] = Path(simulate_pair(field, seed=4).write(root / "new")["science"])
    return paths


def test_a_newcomer_builds_references_from_science_frames_and_runs(
    night: dict[str, Path], tmp_path: Path
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    frames = [str(night[k]) for k in ("here0", "here1", "here2", "here3", "away0", "away1")]
    refs = tmp_path / "refs"
    result = runner.invoke(app, ["references", "build", *frames, "-o", str(refs), *data])
    # the other field has two frames only: no reference for it, so the exit status is 0
    # because one was built
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"left out {night['here3']}: clouds: transparency" in text
    assert "not built, 2 usable frame(s)" in text
    built = sorted(p.name for p in refs.iterdir())
    assert built == ["reference-01-r.fits"]
    with fits.open(refs / built[0]) as hdul:
        header = hdul[0].header
        assert header["NCOMBINE"] == 3 and header["REJECT"] is True
        stacked = {str(header[f"IMCMB{k:03d}"]) for k in range(1, 4)}
        assert not any("here3" in name for name in stacked)  # the cloudy frame
    assert "registered reference-01-r.fits as observation" in text

    out = tmp_path / "out"
    run = ["run", str(night["new"]), "-o", str(out), *data, "--no-alerts"]
    result = runner.invoke(app, run)
    assert result.exit_code == 0, result.output
    assert len((out / "candidates.csv").read_text().splitlines()) > 1


def test_frames_after_the_date_and_too_few_frames_build_nothing(
    night: dict[str, Path], tmp_path: Path
) -> None:
    frames = [str(night[k]) for k in ("here0", "here1", "here2")]
    with fits.open(night["here0"]) as hdul:
        mjd = float(hdul[0].header["MJD-OBS"])
    args = ["references", "build", *frames, "-o", str(tmp_path / "refs"), "--no-register"]
    result = runner.invoke(app, [*args, "--before", str(mjd - 1.0)])
    assert result.exit_code == 1, result.output
    assert "not before MJD" in result.output and "not built, 0 usable" in result.output
    assert not (tmp_path / "refs").exists()
    result = runner.invoke(app, [*args, "--min-frames", "5", "--max-frames", "4"])
    assert result.exit_code == 2 and "--min-frames 5 is more than --max-frames 4" in result.output
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file")
    result = runner.invoke(app, ["references", "build", str(junk), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "left out" in result.output and "junk.fits" in result.output
    assert "none of the 1 frame(s) can be used" in " ".join(result.output.split())


def test_a_bad_frame_in_the_heap_is_named_and_the_others_go_on(
    night: dict[str, Path], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file")
    blank = tmp_path / "blank.fits"
    with fits.open(night["here0"]) as hdul:  # readable, but nothing to measure
        fits.PrimaryHDU(np.zeros_like(hdul[0].data), hdul[0].header).writeto(blank)
    frames = [str(night[k]) for k in ("here0", "here1", "here2")] + [str(junk), str(blank)]
    out = tmp_path / "refs"
    result = runner.invoke(app, ["references", "build", *frames, "-o", str(out), "--no-register"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert f"left out {junk}" in text and f"left out {blank}" in text
    assert [p.name for p in out.iterdir()] == ["reference-01-r.fits"]
