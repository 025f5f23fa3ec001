"""Reading reference-star catalogues for photometric calibration: layouts and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from astrid.errors import ConfigurationError
from astrid.preprocess.photometric_catalogue import (
    catalogue_bands,
    read_photometric_catalogue,
)


def _write(path: Path, **columns: object) -> Path:
    Table(columns).write(path, overwrite=True)
    return path


def test_plain_columns_with_errors_and_a_colour(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "stars.csv",
        ra=[150.0, 150.1],
        dec=[2.0, 2.1],
        r=[17.0, -999.0],
        e_r=[0.01, 0.02],
        g=[17.5, 18.0],
    )
    cat = read_photometric_catalogue(path, "R")
    assert cat.band == "r" and len(cat) == 2
    np.testing.assert_allclose(cat.ra, [150.0, 150.1])
    assert cat.mag[0] == 17.0 and np.isnan(cat.mag[1])  # -999 is a blank
    np.testing.assert_allclose(cat.mag_err, [0.01, 0.02])
    assert cat.colour_name == "g-r"
    assert cat.colour is not None and cat.colour[0] == pytest.approx(0.5)


def test_pan_starrs_columns_in_fits(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ps1.fits",
        RAJ2000=[10.0],
        DEJ2000=[-5.0],
        iMeanPSFMag=[18.2],
        iMeanPSFMagErr=[0.03],
    )
    cat = read_photometric_catalogue(path, "i")
    assert cat.mag[0] == pytest.approx(18.2) and cat.mag_err[0] == pytest.approx(0.03)
    assert cat.colour is None  # no r column
    assert catalogue_bands(path) == ("i",)


def test_sexagesimal_positions(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.ecsv", RA=["10:00:00"], Dec=["+02:30:00"], gmag=[16.0])
    cat = read_photometric_catalogue(path, "g")
    assert cat.ra[0] == pytest.approx(150.0) and cat.dec[0] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x": [1.0], "dec": [2.0], "r": [17.0]}, "no RA/Dec columns"),
        ({"ra": [1.0], "dec": [2.0], "g": [17.0]}, "no r-band magnitude column"),
        ({"ra": [1.0], "dec": [2.0], "r": ["bright"]}, "column 'r' is not numeric"),
    ],
)
def test_a_catalogue_without_what_is_needed_names_the_file_and_the_column(
    tmp_path: Path, columns: dict[str, list[object]], message: str
) -> None:
    path = _write(tmp_path / "bad.csv", **columns)
    with pytest.raises(ConfigurationError, match=message) as err:
        read_photometric_catalogue(path, "r")
    assert str(path) in str(err.value)


def test_missing_corrupt_and_unknown_band(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        read_photometric_catalogue(tmp_path / "absent.csv", "r")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1" + b"\0" * 100)
    with pytest.raises(ConfigurationError, match=r"corrupt\.parquet: cannot read"):
        read_photometric_catalogue(corrupt, "r")
    good = _write(tmp_path / "good.csv", ra=[1.0], dec=[2.0], r=[17.0])
    with pytest.raises(ConfigurationError, match="unknown band 'w'"):
        read_photometric_catalogue(good, "w")
    with pytest.raises(ConfigurationError, match="no g-band magnitude column"):
        catalogue_bands(good, "g")
