"""Tests of fake injection: point sources at given positions, and fakes on quiet sky."""

from __future__ import annotations

import math

import numpy as np
import pytest

from astrid.observations.image import Image, ImageMeta
from astrid.simulation import (
    TRUTH_COLUMNS,
    MoffatPSFField,
    inject_fakes,
    inject_point_sources,
    quiet_sky,
)

PSF = MoffatPSFField((512, 512), 3.2, 3.9, 0.08, 3.5, angle0=0.4)


class FieldPSF:
    """`PSF` seen through the ``at(x, y)`` interface of a measured PSF model."""

    def at(self, x: float, y: float) -> np.ndarray:
        return PSF.stamp(x, y, 21)


def aperture_sum(data: np.ndarray, x: float, y: float, radius: float) -> float:
    """Sum of the pixels whose centres lie within ``radius`` of (x, y)."""
    x0, x1 = math.floor(x - radius), math.ceil(x + radius) + 1
    y0, y1 = math.floor(y - radius), math.ceil(y + radius) + 1
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx - x) ** 2 + (yy - y) ** 2 <= radius**2
    return float(data[y0:y1, x0:x1][inside].sum())


def noise_image(shape: tuple[int, int] = (256, 256), sigma: float = 10.0) -> Image:
    data = np.random.default_rng(0).normal(100.0, sigma, shape).astype(np.float32)
    return Image(data=data, mask=np.zeros(shape, bool), wcs=None, meta=ImageMeta(gain=1.0))


def blank(shape: tuple[int, int] = (128, 128), gain: float = 1.0) -> Image:
    return Image(
        data=np.zeros(shape, np.float32),
        mask=np.zeros(shape, bool),
        wcs=None,
        meta=ImageMeta(gain=gain),
    )


def test_injection_matches_the_simulators_rendering() -> None:
    x, y, flux = 60.37, 71.81, 1.0e5
    image = blank(gain=1e9)
    out = inject_point_sources(image, np.array([[x, y]]), np.array([flux]), PSF.stamp, seed=0)
    assert not image.data.any()  # the input is not modified
    expected = flux * PSF.stamp(x, y, 31, subpixel=True)
    got = out.data[72 - 15 : 72 + 16, 60 - 15 : 60 + 16]
    assert np.abs(got - expected).max() < 0.02 * expected.max()
    assert out.data.sum() == pytest.approx(flux, rel=1e-4)
    yy, xx = np.mgrid[0:128, 0:128]
    assert (out.data * xx).sum() / out.data.sum() == pytest.approx(x, abs=0.02)
    assert (out.data * yy).sum() / out.data.sum() == pytest.approx(y, abs=0.02)


def test_injection_adds_poisson_noise_on_the_flux() -> None:
    gain, flux = 2.0, 2000.0
    grid = np.arange(20, 500, 40, dtype=float)
    xy = np.array([(gx + 0.3, gy - 0.2) for gx in grid for gy in grid])
    out = inject_point_sources(
        blank((512, 512), gain), xy, np.full(len(xy), flux), PSF.stamp, seed=1
    )
    sums = np.array([aperture_sum(out.data, x, y, 15.0) for x, y in xy])
    expected_std = math.sqrt(flux / gain)
    assert abs(sums.mean() - flux) < 5 * expected_std / math.sqrt(len(xy)) + 0.01 * flux
    assert sums.std() == pytest.approx(expected_std, rel=0.25)
    again = inject_point_sources(
        blank((512, 512), gain), xy, np.full(len(xy), flux), PSF.stamp, seed=1
    )
    assert np.array_equal(out.data, again.data)


def test_injection_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positions"):
        inject_point_sources(blank(), np.zeros((2, 2)), np.ones(3), PSF.stamp, seed=0)
    with pytest.raises(ValueError, match="odd square"):
        inject_point_sources(
            blank(), np.array([[5.0, 5.0]]), np.ones(1), lambda x, y: np.ones((4, 4)), seed=0
        )


def test_fakes_keep_apart_off_the_edges_and_follow_the_snr_definition() -> None:
    image, sigma = noise_image(), 10.0
    fake = inject_fakes(image, image.data - 100.0, sigma, FieldPSF(), n=20, edge=30, seed=2)
    truth = fake.truth
    assert tuple(truth.colnames) == TRUTH_COLUMNS
    assert len(truth) == 20
    assert set(truth["kind"]) == {"transient"}
    assert np.all((truth["x"] >= 29.5) & (truth["x"] <= 256 - 30.5))
    assert np.all((truth["y"] >= 29.5) & (truth["y"] <= 256 - 30.5))
    xy = np.column_stack([truth["x"], truth["y"]])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert d[np.triu_indices(len(xy), 1)].min() >= 25.0
    assert np.all((truth["snr"] >= 3.0) & (truth["snr"] <= 40.0))
    norms = np.array([math.sqrt(np.sum(PSF.stamp(x, y, 21) ** 2)) for x, y in xy])
    np.testing.assert_allclose(truth["flux"], truth["snr"] * sigma / norms, rtol=1e-12)
    assert np.all(np.isnan(truth["ra"]))  # no WCS
    added = fake.image.data.astype(float) - image.data
    brightest = int(np.argmax(truth["flux"]))
    got = aperture_sum(added, *xy[brightest], 10.0)
    assert got == pytest.approx(truth["flux"][brightest], rel=0.1)
    again = inject_fakes(image, image.data - 100.0, sigma, FieldPSF(), n=20, edge=30, seed=2)
    assert np.array_equal(fake.image.data, again.image.data)


def test_fakes_go_only_where_allowed_and_say_when_fewer_fit() -> None:
    image = noise_image()
    allowed = np.zeros(image.shape, bool)
    allowed[100:140, 60:200] = True
    fake = inject_fakes(image, image.data - 100.0, 10.0, FieldPSF(), n=50, allowed=allowed, seed=5)
    assert 0 < len(fake.truth) < 50
    ix, iy = np.round(fake.truth["x"]).astype(int), np.round(fake.truth["y"]).astype(int)
    assert allowed[iy, ix].all()


def test_quiet_sky_avoids_sources_and_masked_pixels() -> None:
    data = np.zeros((100, 100))
    data[40:43, 40:43] = 100.0  # a source
    data[10, 80] = 100.0  # a single hot pixel: not a source
    mask = np.zeros((100, 100), bool)
    mask[80, 20] = True
    quiet = quiet_sky(data, mask, 1.0, grow=5)
    assert not quiet[41, 41] and not quiet[41, 47] and quiet[41, 55]
    assert quiet[10, 80]
    assert not quiet[80, 20] and not quiet[80, 24] and quiet[80, 30]
