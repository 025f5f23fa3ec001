"""`astrid coadd` (issue 19): a reference stacked from frames, which `astrid run` then uses;
bad inputs are named and leave no file behind."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.catalog.observations import observation
from astrid.cli import app
from astrid.difference.stack_files import stack_summary
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.pipeline.inputs import admit_frame
from astrid.preprocess.pair import prepare_frame
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import STATIC_FIELD

runner = CliRunner()

FIELD = STATIC_FIELD


@pytest.fixture(scope="module")
def epochs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three epochs of one field, and a science frame of it with transients."""
    root = tmp_path_factory.mktemp("coadd")
    paths = {}
    for k, seeing in enumerate((1.0, 0.8, 1.3)):
        pair = simulate_pair(FIELD, seed=2, epoch=k + 1, seeing=seeing)
        paths[f"epoch{k}"] = pair.write(root / f"epoch{k}")["science"]
    field = replace(FIELD, n_transients=12, n_transients_on_galaxies=2)
    paths["science"] = simulate_pair(field, seed=2).write(root / "new")["science"]
    away = replace(FIELD, center=(210.0, -20.0))
    paths["elsewhere"] = simulate_pair(away, seed=2).write(root / "away")["science"]
    return paths


def test_coadd_writes_a_reference_that_run_uses(epochs: dict[str, Path], tmp_path: Path) -> None:
    inputs = [epochs[f"epoch{k}"] for k in range(3)]
    ref = tmp_path / "refs" / "field.fits"
    result = runner.invoke(app, ["coadd", "--out", str(ref), *map(str, inputs)])
    assert result.exit_code == 0, result.output
    assert f"reference: {ref}" in result.output.replace("\n", "")
    with fits.open(ref) as hdul:
        names = [h.name for h in hdul]
        assert names == ["PRIMARY", "PSF", "VARIANCE", "MASK", "EXPOSURE", "INPUTS"]
        header = hdul[0].header
        assert header["NCOMBINE"] == 3 and header["FILTER"] == "r"
        assert header["COMBINE"] == "proper" and header["REJECT"] is True
        for k, path in enumerate(inputs, start=1):
            assert header[f"IMCMB{k:03d}"] == str(path)[-68:]
            assert header[f"IMSHA{k:03d}"] == file_sha256(path)[:16]
        table = hdul["INPUTS"].data
        assert list(table["sha256"]) == [file_sha256(p) for p in inputs]
        assert table["flux_scale"][0] == 1.0 and np.all(table["weight"] > 0)
        assert hdul["EXPOSURE"].data.max() == 3
        assert abs(float(hdul["PSF"].data.sum()) - 1.0) < 1e-4
    assert [p.name for p in ref.parent.iterdir()] == ["field.fits"]  # no temporary left
    # its outliers rejected, the stack is not searched for cosmic rays again
    prepared = prepare_frame(read_image(ref), role="reference")
    assert not prepared.masks.cosmic_rays.any() and np.isnan(prepared.masks.cr_objlim)

    out = tmp_path / "out"
    run = ["run", str(epochs["science"]), "-r", str(ref), "-o", str(out)]
    result = runner.invoke(app, [*run, "--data-dir", str(tmp_path / "data"), "--no-alerts"])
    assert result.exit_code == 0, result.output
    rows = (out / "candidates.csv").read_text().splitlines()
    assert len(rows) > 1


def test_bad_inputs_are_named_and_nothing_is_written(
    epochs: dict[str, Path], tmp_path: Path
) -> None:
    ref = tmp_path / "ref.fits"
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file")
    result = runner.invoke(app, ["coadd", "-o", str(ref), str(epochs["epoch0"]), str(junk)])
    assert result.exit_code == 2
    assert "junk.fits" in result.output and "not a readable FITS file" in result.output
    other = tmp_path / "other_band.fits"
    with fits.open(epochs["epoch1"]) as hdul:
        hdul[0].header["FILTER"] = "i"
        hdul.writeto(other)
    result = runner.invoke(app, ["coadd", "-o", str(ref), str(epochs["epoch0"]), str(other)])
    assert result.exit_code == 2
    assert "other_band.fits: band 'i'" in result.output.replace("\n", "")
    result = runner.invoke(app, ["coadd", "-o", str(ref), str(epochs["epoch0"])])
    assert result.exit_code == 2 and "at least 2" in result.output
    two = [str(epochs["epoch0"]), str(epochs["epoch1"])]
    result = runner.invoke(app, ["coadd", "-o", str(ref), "--method", "sum", *two])
    assert result.exit_code == 2 and "stack method 'sum'" in result.output
    missing = tmp_path / "missing.fits"
    result = runner.invoke(app, ["coadd", "-o", str(ref), str(epochs["epoch0"]), str(missing)])
    assert result.exit_code == 2 and "missing.fits" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.fits", "other_band.fits"]


def test_a_registered_stack_is_chosen_when_run_has_no_reference(
    epochs: dict[str, Path], tmp_path: Path
) -> None:
    data, ref = tmp_path / "data", tmp_path / "field.fits"
    inputs = [str(epochs[f"epoch{k}"]) for k in range(3)]
    args = ["coadd", "-o", str(ref), "--register", "--data-dir", str(data), *inputs]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "registered as reference observation 1" in result.output
    out = tmp_path / "out"
    frames = [str(epochs["science"]), str(epochs["elsewhere"])]
    result = runner.invoke(app, ["run", *frames, "-o", str(out), "--data-dir", str(data)])
    assert result.exit_code == 1, result.output  # the frame of another field failed
    text = result.output.replace("\n", "")
    assert "no registered reference in band r covers 50% of it" in text
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        (run,) = catalog.runs()
        assert run.status == "done" and run.reference_id == 1
        (chosen,) = [e for e in catalog.events() if e.type == "ReferenceChosen"]
        assert chosen.payload["reference_id"] == 1 and chosen.payload["overlap"] > 0.9
        assert chosen.payload["path"] == frames[0]
        # the reference's record says what it is made of
        stack = observation(catalog, 1).stack
    assert len((out / "candidates.csv").read_text().splitlines()) > 1
    assert stack is not None and stack["method"] == "proper" and stack["n_inputs"] == 3
    assert [i["file"] for i in stack["inputs"]] == inputs
    assert [i["sha256"] for i in stack["inputs"]] == [file_sha256(p) for p in inputs]
    mjds = [i["mjd"] for i in stack["inputs"]]
    assert stack["mjd_begin"] == min(mjds) and stack["mjd_end"] == max(mjds)
    assert stack["fwhm_px"] > 0 and stack["depth_gain"] > 1.0
    assert sum(i["weight"] for i in stack["inputs"]) == pytest.approx(1.0)
    assert observation(catalog, 1).stack == stack  # read again: stored, not computed
    # its 5σ point-source limit, from the file's own planes, deeper than its first input's
    with fits.open(ref) as hdul:
        zp = hdul[0].header["MAGZP"]
        full = hdul["EXPOSURE"].data == hdul["EXPOSURE"].data.max()
        sigma = np.sqrt(np.nanmedian(hdul["VARIANCE"].data[full]))
        psf = hdul["PSF"].data / hdul["PSF"].data.sum()
    expected = zp - 2.5 * np.log10(5 * sigma / np.sqrt(np.sum(psf**2)))
    assert stack["limiting_mag"] == pytest.approx(expected, abs=1e-3)
    first = stack["inputs"][0]  # its units are the stack's: same zero point
    gaussian = first["fwhm_px"] / 2.3548
    first_limit = zp - 2.5 * np.log10(5 * first["sigma"] * np.sqrt(4 * np.pi) * gaussian)
    assert stack["limiting_mag"] > first_limit


def test_a_stack_whose_inputs_table_is_broken_is_registered_without_summary(
    epochs: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ref = tmp_path / "field.fits"
    inputs = [str(epochs[f"epoch{k}"]) for k in range(2)]
    assert runner.invoke(app, ["coadd", "-o", str(ref), *inputs]).exit_code == 0
    assert stack_summary(ref)["n_inputs"] == 2  # type: ignore[index]
    assert stack_summary(epochs["epoch0"]) is None  # a single exposure
    with fits.open(ref) as hdul:
        del hdul["INPUTS"]
        hdul.writeto(tmp_path / "broken.fits")
    with pytest.raises(ValueError, match=r"broken\.fits: stack without a usable INPUTS"):
        stack_summary(tmp_path / "broken.fits")
    with connect(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        logger = logging.getLogger("astrid.pipeline.inputs")
        logger.addHandler(caplog.handler)  # the CLI's logging setup stops propagation
        try:
            admitted = admit_frame(catalog, store, tmp_path / "broken.fits", "reference")
        finally:
            logger.removeHandler(caplog.handler)
        record = observation(catalog, admitted.observation_id)
    assert record.stack is None and record.status == "registered"
    assert "broken.fits: stack summary not recorded" in caplog.text


def test_coadd_before_a_date_stacks_only_the_frames_taken_before_it(
    epochs: dict[str, Path], tmp_path: Path
) -> None:
    inputs, mjds = [], [60400.0, 60410.0, 60405.0]
    for k, mjd in enumerate(mjds):  # the epochs on three nights
        with fits.open(epochs[f"epoch{k}"]) as hdul:
            hdul[0].header["MJD-OBS"] = mjd
            hdul.writeto(tmp_path / f"night{k}.fits")
        inputs.append(tmp_path / f"night{k}.fits")
    latest = 1
    ref = tmp_path / "before.fits"
    args = ["coadd", "--out", str(ref), "--before", str(mjds[latest]), *map(str, inputs)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"left out {inputs[latest]}" in result.output.replace("\n", "")
    with fits.open(ref) as hdul:
        assert hdul[0].header["NCOMBINE"] == 2 and hdul[0].header["REJECT"] is False
        assert str(inputs[latest]) not in list(hdul["INPUTS"].data["file"])
    # nothing before the date: no file, and the error says how many frames were left
    early = runner.invoke(app, ["coadd", "--out", str(tmp_path / "none.fits"),
                                "--before", str(min(mjds)), *map(str, inputs)])  # fmt: skip
    assert early.exit_code == 2 and "0 frame(s) given" in early.output
    assert not (tmp_path / "none.fits").exists()
