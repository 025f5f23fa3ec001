"""Cutout PNGs: the stretch keeps the sky a smooth grey, not salt and pepper."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from astrid.service.cutout_images import render_cutout_png

SIZE = 63
CORNER = (slice(0, 18), slice(0, 18))  # display rows and columns: far from the source


def _pixels(data: np.ndarray, kind: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(render_cutout_png(data, kind=kind))), dtype=float)


def _star(amplitude: float) -> np.ndarray:
    y, x = np.mgrid[:SIZE, :SIZE]
    return amplitude * np.exp(-((x - 31) ** 2 + (y - 31) ** 2) / (2 * 2.0**2))


@pytest.mark.parametrize("amplitude", [0.0, 50.0, 5000.0])
def test_science_background_is_a_smooth_grey(amplitude: float) -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(100.0, 5.0, (SIZE, SIZE)) + _star(amplitude)
    image = _pixels(data, "science")
    sky = image[CORNER]
    assert 40 <= sky.mean() <= 130, "the sky is a dark-to-mid grey, not black"
    assert 3 <= sky.std() <= 30, "noise is visible but does not fill the grey range"
    assert np.mean((sky == 0) | (sky == 255)) < 0.01, "no pixels thrown to black or white"
    # not bimodal: most sky pixels within 2 std of the mean, as for a Gaussian (95 %)
    assert np.mean(np.abs(sky - sky.mean()) < 2 * sky.std()) > 0.9
    if amplitude:
        assert image[31, 31] > sky.mean() + 5 * sky.std(), "the source stands out"
    if amplitude > 1000:
        assert np.sum(image >= 255) <= 9, "a bright core is not a flat white disc"


def test_difference_is_symmetric_about_zero() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0.0, 5.0, (SIZE, SIZE))
    image = _pixels(noise + _star(300.0), "difference")
    sky = image[CORNER]
    assert sky.mean() == pytest.approx(127.5, abs=6), "zero is mid-grey"
    assert 5 <= sky.std() <= 40
    assert np.mean((sky == 0) | (sky == 255)) < 0.01
    positive = image[31, 31]
    negative = _pixels(noise - _star(300.0), "difference")[31, 31]
    assert positive > 200 and negative < 55
    assert positive - 127.5 == pytest.approx(127.5 - negative, abs=8), "± look alike"


def test_flat_nan_and_scaled_cutouts() -> None:
    flat = _pixels(np.full((SIZE, SIZE), 3.0), "science")
    assert np.ptp(flat) == 0
    data = np.random.default_rng(3).normal(0, 1, (SIZE, SIZE))
    data[0, :] = np.nan  # FITS row 0 is the bottom of the displayed image
    image = _pixels(data, "difference")
    assert (image[-1] == 0).all() and (image[:-1] > 0).all()
    big = Image.open(io.BytesIO(render_cutout_png(data, kind="science", scale=4)))
    assert big.size == (4 * SIZE, 4 * SIZE)
    with pytest.raises(ValueError, match="2-D"):
        render_cutout_png(np.zeros(5), kind="science")
