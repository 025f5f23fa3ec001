"""Network inputs: the normalisation of cutout triplets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from astrid.detection.features import CHUNK, normalise_cutouts
from astrid.errors import ConfigurationError


def _triplets(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    cutouts = rng.normal(100.0, 10.0, (n, 3, 21, 21)).astype(np.float32)
    cutouts[1, 0, :4] = np.nan  # partly masked
    cutouts[2, 1] = np.nan  # a plane off the image
    cutouts[3, 2] = 7.0  # flat: no spread at all
    return cutouts


def test_each_plane_is_centred_and_scaled_robustly() -> None:
    cutouts = _triplets(4)
    out = normalise_cutouts(cutouts)
    assert out.shape == (4, 4, 21, 21) and np.isfinite(out).all()
    plane = cutouts[0, 0]
    mad = np.median(np.abs(plane - np.median(plane))) * 1.4826
    assert out[0, 0] == pytest.approx(np.arcsinh((plane - np.median(plane)) / mad), abs=1e-5)
    assert out[1, 3, :4].all() and not out[1, 3, 4:].any()  # the mask channel
    assert (out[1, 0, :4] == 0).all()
    assert out[2, 3].all() and (out[2, 1] == 0).all()
    assert (out[3, 2] == 0).all()  # a flat plane is zero, not NaN


def test_chunks_and_threads_change_nothing_and_nothing_warns() -> None:
    cutouts = _triplets(3 * CHUNK + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = normalise_cutouts(cutouts)
        many = normalise_cutouts(cutouts, threads=3)
    assert np.array_equal(one, many)
    alone = normalise_cutouts(cutouts[CHUNK + 1 : CHUNK + 2])
    assert np.array_equal(alone[0], one[CHUNK + 1])  # a triplet's input ignores its neighbours


def test_empty_and_malformed_input() -> None:
    assert normalise_cutouts(np.zeros((0, 3, 9, 9))).shape == (0, 4, 9, 9)
    with pytest.raises(ConfigurationError, match="shape"):
        normalise_cutouts(np.zeros((2, 2, 9, 9)))


def test_blanks_and_huge_values_are_masked_never_infinite() -> None:
    cutouts = _triplets(4)
    cutouts[0, 1, 0, :3] = (3.4e38, -3.4e38, np.inf)  # ZTF's blanks, an infinity
    cutouts[1, 2] = 0.0
    cutouts[1, 2, 5, 5] = 1e29  # huge but not blank, on a plane with no spread
    out = normalise_cutouts(cutouts)
    assert np.isfinite(out).all()
    assert out[0, 3, 0, :3].all() and (out[0, 1, 0, :3] == 0).all()
    clean = _triplets(4)
    clean[0, 1, 0, :3] = np.nan
    assert np.array_equal(out[0], normalise_cutouts(clean)[0])  # blanks are exactly NaN
    assert 0 < out[1, 2, 5, 5] < 100  # asinh of a saturated z, finite
