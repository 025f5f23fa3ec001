"""Choosing each frame's reference from the registered ones (issue 19): the newest one of
the frame's band that covers half of it, taken before it when one is; none that covers is
an error naming the frame."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from astropy.io import fits

from astrid.catalog import connect
from astrid.errors import IncompatibleImagesError
from astrid.observations.fits_reader import read_image
from astrid.pipeline.inputs import admit_frame
from astrid.pipeline.reference_choice import choose_reference
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import STATIC_FIELD


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("choice")
    here = simulate_pair(STATIC_FIELD, seed=1).write(root / "here")
    away = replace(STATIC_FIELD, center=(200.0, 30.0))
    there = simulate_pair(away, seed=1).write(root / "there")
    return {
        "science": here["science"],
        "reference": here["reference"],
        "elsewhere": there["reference"],
        "elsewhere_science": there["science"],
    }


def test_the_newest_covering_reference_of_the_band_is_chosen(
    files: dict[str, Path], tmp_path: Path
) -> None:
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        science = read_image(files["science"])
        with pytest.raises(IncompatibleImagesError, match="none registered in that band"):
            choose_reference(catalog, science)
        old = admit_frame(catalog, store, files["reference"], "reference")
        admit_frame(catalog, store, files["elsewhere"], "reference")  # newer, other field
        chosen = choose_reference(catalog, science)
        assert chosen.record.id == old.observation_id and chosen.overlap > 0.9
        # a newer reference of the field wins (the same sky, other content)
        newer = tmp_path / "newer.fits"
        with fits.open(files["reference"]) as hdul:
            hdul[0].header["HISTORY"] = "a newer reference"
            hdul.writeto(newer)
        new = admit_frame(catalog, store, newer, "reference")
        assert choose_reference(catalog, science).record.id == new.observation_id
        # another band: nothing qualifies, and the message names the frame and band
        other_band = replace(science, meta=replace(science.meta, filter="i"), path="sci_i.fits")
        with pytest.raises(IncompatibleImagesError, match=r"sci_i\.fits: .* band i"):
            choose_reference(catalog, other_band)
        # a frame of another field: the best overlap is named
        far = read_image(files["elsewhere_science"])
        assert choose_reference(catalog, far).record.name == "reference"
        lonely = replace(far, wcs=science.wcs.deepcopy(), path="lonely.fits")
        lonely.wcs.wcs.crval = [lonely.wcs.wcs.crval[0] + 20.0, lonely.wcs.wcs.crval[1]]
        with pytest.raises(IncompatibleImagesError, match=r"lonely\.fits: .*best overlap 0%"):
            choose_reference(catalog, lonely)


def test_a_reference_taken_before_the_frame_is_preferred_to_a_newer_one_taken_after(
    files: dict[str, Path], tmp_path: Path
) -> None:
    science = read_image(files["science"])
    assert science.meta.mjd is not None
    dated = {}
    for name, offset in (("before", -30.0), ("after", 2.0)):  # registered in this order
        path = tmp_path / f"{name}.fits"
        with fits.open(files["reference"]) as hdul:
            hdul[0].header["MJD-OBS"] = science.meta.mjd + offset
            hdul.writeto(path)
        dated[name] = path
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        before = admit_frame(catalog, store, dated["before"], "reference")
        after = admit_frame(catalog, store, dated["after"], "reference")
        chosen = choose_reference(catalog, science)
        assert chosen.record.id == before.observation_id and chosen.precedes is True
        # a frame taken before both: the newest registered, said not to precede it
        early = replace(science, meta=replace(science.meta, mjd=science.meta.mjd - 100.0))
        chosen = choose_reference(catalog, early)
        assert chosen.record.id == after.observation_id and chosen.precedes is False
        # a frame without a time: the newest registered
        undated = replace(science, meta=replace(science.meta, mjd=None))
        chosen = choose_reference(catalog, undated)
        assert chosen.record.id == after.observation_id and chosen.precedes is None


def test_a_stack_precedes_a_frame_only_when_its_latest_input_does(
    files: dict[str, Path], tmp_path: Path
) -> None:
    science = read_image(files["science"])
    assert science.meta.mjd is not None
    dated = {}
    # an older stack, all before; a newer stack whose mean is before but whose last input
    # is after the frame (it may hold the frame's transient)
    for name, mean, end in (("old", -40.0, -35.0), ("straddling", -5.0, 3.0)):
        path = tmp_path / f"{name}.fits"
        with fits.open(files["reference"]) as hdul:
            hdul[0].header["MJD-OBS"] = science.meta.mjd + mean
            hdul[0].header["MJD-END"] = science.meta.mjd + end
            hdul.writeto(path)
        dated[name] = path
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        old = admit_frame(catalog, store, dated["old"], "reference")
        straddling = admit_frame(catalog, store, dated["straddling"], "reference")
        chosen = choose_reference(catalog, science)
        assert chosen.record.id == old.observation_id and chosen.precedes is True
        assert chosen.record.mjd_end == pytest.approx(science.meta.mjd - 35.0)
        later = replace(science, meta=replace(science.meta, mjd=science.meta.mjd + 4.0))
        chosen = choose_reference(catalog, later)
        assert chosen.record.id == straddling.observation_id and chosen.precedes is True
