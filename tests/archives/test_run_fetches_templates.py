"""`astrid run` without --reference fetches a template from an archive for a frame no
registered reference covers, when ASTRID_TEMPLATE_SURVEY is set (issue 19).

The stand-in for hips2fits (`hips2fits_double`) resamples the simulator's own deep
reference of the field onto the WCS it is asked for, as hips2fits resamples a survey; the
stand-in for STScI's PS1 cutout service (`ps1_double`) serves it on a PS1 skycell grid.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hips2fits_double import FakeHips2fits
from ps1_double import FakePs1
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.catalog.observations import observation
from astrid.cli import app
from astrid.simulation import simulate_pair
from small_field import STATIC_FIELD

runner = CliRunner()


def test_a_frame_with_no_reference_gets_a_fetched_template_and_candidates(
    hips2fits: FakeHips2fits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = simulate_pair(STATIC_FIELD, seed=5)
    science = tmp_path / "science.fits"
    pair.science.to_hdu().writeto(science)
    hips2fits.sky = pair.reference
    data, out = tmp_path / "data", tmp_path / "out"
    monkeypatch.setenv("ASTRID_TEMPLATE_SURVEY", "ps1")
    monkeypatch.setenv("ASTRID_TEMPLATE_SERVER", hips2fits.url)
    result = runner.invoke(app, ["run", str(science), "-o", str(out), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert len(hips2fits.requests) == 1
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        (fetched,) = [e for e in catalog.events() if e.type == "ReferenceFetched"]
        reference = observation(catalog, fetched.payload["reference_id"])
        (run,) = catalog.runs()
    assert reference.role == "reference" and run.reference_id == reference.id
    assert run.status == "done"
    rows = (out / "candidates.csv").read_text().splitlines()
    assert len(rows) > 1  # the simulated transients, found against the fetched template
    # the archive unreachable and no template cached for a new frame: that frame fails
    # alone, saying both why no reference covers it and why none could be fetched
    hips2fits.server.shutdown()
    hips2fits.server.server_close()
    other = tmp_path / "other.fits"
    hdu = simulate_pair(STATIC_FIELD, seed=6).science.to_hdu()
    hdu.header["CRVAL1"] += 5.0  # another field: the fetched template does not cover it
    hdu.writeto(other)
    result = runner.invoke(
        app, ["run", str(other), "-o", str(tmp_path / "out2"), "--data-dir", str(data)]
    )
    text = result.output.replace("\n", "")
    assert result.exit_code == 1, result.output
    assert "no template either" in text and "ConnectionError" in text


def test_without_the_setting_nothing_is_fetched(
    hips2fits: FakeHips2fits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    science = tmp_path / "science.fits"
    simulate_pair(STATIC_FIELD, seed=5).science.to_hdu().writeto(science)
    monkeypatch.delenv("ASTRID_TEMPLATE_SURVEY", raising=False)
    monkeypatch.setenv("ASTRID_TEMPLATE_SERVER", hips2fits.url)
    args = ["run", str(science), "-o", str(tmp_path / "out"), "--data-dir", str(tmp_path / "d")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "no registered reference" in result.output.replace("\n", "")
    assert hips2fits.requests == []


def test_a_ps1_cutout_on_its_own_grid_serves_as_the_reference(
    ps1: FakePs1, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stand-in serves the field's deep reference on a PS1 skycell grid (0.25" pixels,
    # asinh-scaled, at the stack's zero point); the alignment stage resamples it
    pair = simulate_pair(STATIC_FIELD, seed=5)
    science = tmp_path / "science.fits"
    pair.science.to_hdu().writeto(science)
    ps1.sky = pair.reference
    data, out = tmp_path / "data", tmp_path / "out"
    monkeypatch.setenv("ASTRID_TEMPLATE_SURVEY", "ps1-cutout")
    monkeypatch.setenv("ASTRID_TEMPLATE_SERVER", ps1.url)
    result = runner.invoke(app, ["run", str(science), "-o", str(out), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert [path.rsplit("/", 1)[-1] for path, _ in ps1.requests] == [
        "ps1filenames.py",
        "fitscut.cgi",
    ]
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        (fetched,) = [e for e in catalog.events() if e.type == "ReferenceFetched"]
        reference = observation(catalog, fetched.payload["reference_id"])
        (run,) = catalog.runs()
    assert reference.role == "reference" and run.status == "done"
    assert reference.shape != pair.science.data.shape  # the stack's grid, not the frame's
    rows = (out / "candidates.csv").read_text().splitlines()
    assert len(rows) > 1
