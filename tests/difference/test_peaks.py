"""Tests of candidate peak finding on S_corr: both signs, merging, dipoles, edges, threshold."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from astrid.difference.peaks import Peaks, find_peaks


def blobs(
    shape: tuple[int, int], *sources: tuple[float, float, float], sigma: float = 1.5
) -> np.ndarray:
    """An S_corr-like map: Gaussian bumps ``(x, y, height)`` on zero."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    out = np.zeros(shape)
    for x, y, height in sources:
        out += height * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return out


def as_set(peaks: Peaks) -> set[tuple[int, int]]:
    return set(zip(peaks.x.tolist(), peaks.y.tolist(), strict=True))


def test_positive_and_negative_peaks_are_found_sorted_by_strength() -> None:
    s = blobs((64, 64), (20, 30, 8.0), (45, 12, -11.0), (40, 50, 6.0))
    peaks = find_peaks(s, threshold=5.0)
    assert len(peaks) == 3
    assert peaks.x.tolist() == [45, 20, 40]
    assert peaks.y.tolist() == [12, 30, 50]
    assert peaks.sign.tolist() == [-1, 1, 1]
    np.testing.assert_allclose(peaks.scorr, [-11.0, 8.0, 6.0], rtol=1e-6)
    assert peaks.n_merged.tolist() == [1, 1, 1]
    assert not peaks.dipole.any()


def test_close_peaks_merge_into_the_strongest() -> None:
    # Two bumps of one sign 4 px apart (separate local maxima), merge radius 5.
    s = blobs((64, 64), (30, 30, 9.0), (34, 30, 7.0), sigma=1.0)
    assert len(find_peaks(s, threshold=5.0, merge_radius=1.0)) == 2
    peaks = find_peaks(s, threshold=5.0, merge_radius=5.0)
    assert len(peaks) == 1
    assert (peaks.x[0], peaks.y[0]) == (30, 30)
    assert peaks.scorr[0] == pytest.approx(9.0, rel=1e-3)
    assert peaks.n_merged[0] == 2
    assert not peaks.dipole[0]
    # Order does not matter: the stronger one owns the pair wherever it is.
    s = blobs((64, 64), (30, 30, 7.0), (34, 30, 9.0), sigma=1.0)
    peaks = find_peaks(s, threshold=5.0, merge_radius=5.0)
    assert (peaks.x[0], peaks.y[0], peaks.n_merged[0]) == (34, 30, 2)


def test_opposite_signs_close_together_are_one_dipole() -> None:
    # A misregistered star: + and - lobes 3 px apart.
    s = blobs((64, 64), (30, 30, 12.0), (33, 30, -8.0), sigma=1.0)
    peaks = find_peaks(s, threshold=5.0, merge_radius=4.0)
    assert len(peaks) == 1
    assert peaks.sign[0] == 1
    assert peaks.dipole[0]
    assert peaks.n_merged[0] == 2
    # Far apart, the same lobes are two candidates and no dipole.
    s = blobs((64, 64), (15, 30, 12.0), (45, 30, -8.0), sigma=1.0)
    peaks = find_peaks(s, threshold=5.0, merge_radius=4.0)
    assert peaks.sign.tolist() == [1, -1]
    assert not peaks.dipole.any()


@pytest.mark.parametrize(("edge", "expected"), [(0, 2), (2, 1), (5, 0)])
def test_edge_drops_peaks_near_the_border(edge: int, expected: int) -> None:
    s = blobs((64, 64), (1, 30, 9.0), (30, 60, 9.0), sigma=1.0)
    peaks = find_peaks(s, threshold=5.0, edge=edge)
    assert len(peaks) == expected
    for x, y in as_set(peaks):
        assert edge <= x < 64 - edge and edge <= y < 64 - edge


def test_valid_mask_restricts_where_peaks_may_be() -> None:
    s = blobs((64, 64), (15, 15, 9.0), (45, 45, -9.0))
    valid = np.ones((64, 64), bool)
    valid[:, 32:] = False
    peaks = find_peaks(s, threshold=5.0, valid=valid)
    assert as_set(peaks) == {(15, 15)}


def test_threshold_is_inclusive_and_respected() -> None:
    s = np.zeros((32, 32))
    s[10, 10] = 5.0
    s[20, 20] = -4.99
    s[10, 25] = 7.0
    assert as_set(find_peaks(s, threshold=5.0)) == {(10, 10), (25, 10)}
    assert as_set(find_peaks(s, threshold=4.9)) == {(10, 10), (20, 20), (25, 10)}
    assert as_set(find_peaks(s, threshold=7.5)) == set()


def test_non_finite_values_and_empty_maps() -> None:
    s = blobs((32, 32), (16, 16, 8.0))
    s[0:4, 0:4] = np.nan
    s[30, 5] = np.inf
    s[5, 30] = -np.inf
    peaks = find_peaks(s, threshold=5.0)
    assert as_set(peaks) == {(16, 16)}
    empty = find_peaks(np.zeros((16, 16)), threshold=5.0)
    assert len(empty) == 0
    assert empty.x.shape == empty.scorr.shape == empty.dipole.shape == (0,)


def test_pure_noise_peaks_match_gaussian_tail() -> None:
    # On uncorrelated unit noise, local maxima of |S| above 3.5σ: each pixel is one with
    # probability ≈ 2 Q(3.5); checks nothing is double counted or lost.
    rng = np.random.default_rng(0)
    s = rng.normal(size=(512, 512))
    peaks = find_peaks(s, threshold=3.5, merge_radius=0.5, edge=0)
    expected = 2 * 2.326e-4 * s.size  # 2 Q(3.5) per pixel; nearly all are local maxima
    assert len(peaks) == pytest.approx(expected, rel=0.15)
    assert np.all(np.abs(peaks.scorr) >= 3.5)
    assert np.all(np.sign(peaks.scorr) == peaks.sign)


@pytest.mark.parametrize("threshold", [2.0, 3.5])
def test_extrema_are_those_of_a_full_maximum_filter(threshold: float) -> None:
    """Peaks are looked for only above the threshold; the extrema found must be exactly
    those a 3×3 maximum filter over the whole map (border repeated) gives, ties and
    border pixels included."""
    rng = np.random.default_rng(7)
    s = ndimage.gaussian_filter(rng.normal(size=(97, 131)), 1.2).astype(np.float32)
    s /= s.std()
    s[0, 5] = s[3, 0] = 9.0  # on the border
    s[-1, -1] = -8.0
    s[40, 40] = s[40, 41] = 7.0  # a tie: both are maxima of their 3×3
    expected = set()
    for sign in (1.0, -1.0):
        signed = sign * s
        extremum = ndimage.maximum_filter(signed, size=3, mode="nearest") == signed
        yy, xx = np.nonzero(extremum & (signed >= threshold))
        expected |= set(zip(xx.tolist(), yy.tolist(), strict=True))
    peaks = find_peaks(s, threshold=threshold, merge_radius=0.5, edge=0)
    assert as_set(peaks) == expected
    assert {(5, 0), (0, 3), (130, 96), (40, 40), (41, 40)} <= expected
