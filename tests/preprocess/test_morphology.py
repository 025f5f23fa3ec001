"""The slice-based dilation and openings are scipy's, pixel for pixel, on any mask; the
matrix-product upsampling of a background mesh is photutils'."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.stats import SigmaClip
from photutils.background import Background2D, MeanBackground
from scipy import ndimage

from astrid.preprocess.background import upsample_mesh
from astrid.preprocess.morphology import dilate, open_cross, open_square

SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (7, 11), (64, 33)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.02, 0.3, 0.8])
@pytest.mark.parametrize("iterations", [1, 2, 5])
def test_dilate_is_scipys_iterated_cross(
    shape: tuple[int, int], density: float, iterations: int
) -> None:
    mask = np.random.default_rng(iterations).random(shape) < density
    expected = ndimage.binary_dilation(mask, iterations=iterations)
    np.testing.assert_array_equal(dilate(mask, iterations), expected)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.05, 0.5, 0.95])
def test_openings_are_scipys(shape: tuple[int, int], density: float) -> None:
    mask = np.random.default_rng(3).random(shape) < density
    np.testing.assert_array_equal(open_cross(mask), ndimage.binary_opening(mask))
    square = ndimage.binary_opening(mask, structure=np.ones((2, 2), bool))
    np.testing.assert_array_equal(open_square(mask), square)


def test_a_full_mask_keeps_its_border_as_scipy_does() -> None:
    """Outside the image counts as unset: erosion eats the border, dilation restores what
    it can — the edge cases where a shifted slice is easiest to get wrong."""
    mask = np.ones((6, 8), bool)
    np.testing.assert_array_equal(open_cross(mask), ndimage.binary_opening(mask))
    np.testing.assert_array_equal(
        open_square(mask), ndimage.binary_opening(mask, structure=np.ones((2, 2), bool))
    )


def test_input_is_left_alone_and_zero_iterations_refused() -> None:
    mask = np.zeros((5, 5), bool)
    mask[2, 2] = True
    grown = dilate(mask, 2)
    assert mask.sum() == 1 and grown.sum() == 13  # the city-block disc of radius 2
    with pytest.raises(ValueError, match="at least 1"):
        dilate(mask, 0)


@pytest.mark.parametrize(("shape", "box"), [((300, 257), 64), ((130, 70), 16), ((64, 64), 64)])
def test_upsampled_mesh_is_photutils_background(shape: tuple[int, int], box: int) -> None:
    """The background offset's mesh made into an image by two matrix products is the
    image photutils' Background2D interpolates, to float32 rounding (same module: both
    are the slice/matrix rewrites of a scipy/photutils step on the frame path)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    data = (rng.normal(size=shape) + np.sin(xx / 40.0) + yy / 100.0).astype(np.float32)
    bkg = Background2D(
        data,
        box,
        filter_size=3,
        bkg_estimator=MeanBackground(),
        sigma_clip=SigmaClip(sigma=3.0),
        exclude_percentile=90.0,
    )
    ours = upsample_mesh(bkg.background_mesh, box, shape)
    assert ours.shape == shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, bkg.background, rtol=0, atol=1e-5)
