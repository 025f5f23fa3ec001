"""Stacking frames into a reference (issue 19): aligned, flux-scaled, proper-coadded, with
what is in one frame only rejected, noise as the variance map says, and bad sets named."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from astropy.stats import sigma_clipped_stats

from astrid.difference.stack import Stack, StackConfig, stack_frames
from astrid.errors import AlignmentError, ConfigurationError, IncompatibleImagesError
from astrid.observations.image import Image
from astrid.simulation import simulate_pair
from astrid.simulation.injection import inject_point_sources
from small_field import STATIC_FIELD

FIELD = STATIC_FIELD
SEEING = (1.0, 0.7, 1.3, 1.0, 1.5)
#: A point source injected into frame 2 only, far from the field's stars.
TRANSIENT_XY = (40.3, 88.6)  # 34 px from the nearest simulated source
TRANSIENT_FLUX = 40_000.0


def _frames() -> list[Image]:
    pairs = [simulate_pair(FIELD, seed=8, epoch=k + 1, seeing=s) for k, s in enumerate(SEEING)]
    images = [replace(p.science, path=f"epoch{k}.fits") for k, p in enumerate(pairs)]
    images[2] = inject_point_sources(
        images[2],
        np.array([TRANSIENT_XY]),
        np.array([TRANSIENT_FLUX]),
        pairs[2].science_psf,
        seed=1,
    )
    # the simulated reference: another pointing (shifted, rotated), deeper, other sky
    images.append(replace(pairs[0].reference, path="offset.fits"))
    return images


@pytest.fixture(scope="module")
def frames() -> list[Image]:
    return _frames()


@pytest.fixture(scope="module")
def stack(frames: list[Image]) -> Stack:
    return stack_frames(frames)


def _aperture(image: np.ndarray, xy: tuple[float, float], r: float = 6.0) -> float:
    y, x = np.mgrid[: image.shape[0], : image.shape[1]]
    inside = np.hypot(x - xy[0], y - xy[1]) <= r
    return float(np.nansum(image[inside]))


def test_the_stack_is_on_the_first_grid_deeper_than_any_frame(
    stack: Stack, frames: list[Image]
) -> None:
    assert stack.image.shape == frames[0].shape
    assert stack.wcs is frames[0].wcs
    assert [f.label for f in stack.frames] == [img.label for img in frames]
    assert stack.frames[0].flux_scale == 1.0
    assert stack.exposure.max() == len(frames)
    assert abs(sum(f.weight for f in stack.frames) - 1.0) < 1e-9
    # background noise: what the variance map says, and below the first frame's as its
    # weight says (within 15 %); the deep offset frame dominates the weights
    sky = ~stack.mask & (stack.exposure == len(frames))
    _, _, measured = sigma_clipped_stats(stack.image[sky], sigma=3.0)
    expected = float(np.sqrt(np.median(stack.variance[sky])))
    assert measured == pytest.approx(expected, rel=0.15)
    assert stack.depth_gain > 1.2
    assert measured < stack.frames[0].sigma * np.sqrt(stack.frames[0].weight) * 1.15
    assert stack.fwhm_px < max(f.fwhm_px for f in stack.frames)


def test_fluxes_stay_in_the_first_frames_units(stack: Stack, frames: list[Image]) -> None:
    """The bright unsaturated stars have the flux they have in frame 0 (background off)."""
    first = frames[0]
    _, median, _ = sigma_clipped_stats(first.data, sigma=3.0)
    ratios = []
    for y, x in zip(*np.nonzero(stack.image > 40 * stack.frames[0].sigma), strict=True):
        if 20 < x < first.shape[1] - 20 and 20 < y < first.shape[0] - 20:
            flux_stack = _aperture(stack.image, (x, y), 10)
            flux_first = _aperture(first.data - median, (x, y), 10)
            if np.isfinite(flux_stack) and first.data[y - 3 : y + 4, x - 3 : x + 4].max() < 3e4:
                ratios.append(flux_stack / flux_first)
    assert len(ratios) >= 5
    assert float(np.median(ratios)) == pytest.approx(1.0, abs=0.05)


def test_what_is_in_one_frame_only_is_rejected(stack: Stack, frames: list[Image]) -> None:
    sigma_aperture = np.sqrt(np.pi * 36) * float(np.sqrt(np.median(stack.variance)))
    assert abs(_aperture(stack.image, TRANSIENT_XY)) < 5 * sigma_aperture
    assert stack.frames[2].rejected_px > 0
    # with rejection off, the transient comes through (diluted by the other frames)
    kept = stack_frames(frames, StackConfig(reject_sigma=0))
    assert _aperture(kept.image, TRANSIENT_XY) > 20 * sigma_aperture
    assert all(f.rejected_px == 0 for f in kept.frames)


@pytest.mark.parametrize("method", ["mean", "median"])
def test_the_comparison_stacks_say_their_noise(
    method: str, stack: Stack, frames: list[Image]
) -> None:
    """Weighted mean and median of the same prepared frames: noise as their variance maps
    say; neither deeper than the proper coadd."""
    other = stack_frames(frames, StackConfig(method=method))
    sky = ~other.mask & (other.exposure == len(frames))
    _, _, measured = sigma_clipped_stats(other.image[sky], sigma=3.0)
    assert measured == pytest.approx(float(np.sqrt(np.median(other.variance[sky]))), rel=0.2)
    assert abs(_aperture(other.image, TRANSIENT_XY)) < 5 * np.sqrt(np.pi * 36) * measured
    assert abs(float(other.psf.sum()) - 1.0) < 1e-6
    # matched-filter depth ∝ sqrt(Σ P²) / σ: the proper coadd's is the highest
    depth = float(np.sqrt(np.sum(other.psf**2))) / measured
    _, _, proper_noise = sigma_clipped_stats(stack.image[sky], sigma=3.0)
    assert depth < float(np.sqrt(np.sum(stack.psf**2))) / proper_noise * 1.02


@pytest.mark.parametrize("method", ["proper", "median"])
def test_frames_read_one_at_a_time_and_stacked_by_bands_give_the_same_stack(
    method: str, stack: Stack, frames: list[Image], tmp_path
) -> None:
    """Loaders are called once each, in order, when the stack gets to them; bands of 7
    rows (the rejection and the median) change no pixel; the scratch folder is emptied."""
    whole = stack if method == "proper" else stack_frames(frames, StackConfig(method=method))
    called: list[int] = []

    def loader(k: int):
        def load() -> Image:
            called.append(k)
            return frames[k]

        return load

    banded = stack_frames(
        [loader(k) for k in range(len(frames))],
        StackConfig(method=method),
        scratch=tmp_path,
        band_rows=7,
    )
    assert called == list(range(len(frames)))
    assert np.array_equal(banded.image, whole.image, equal_nan=True)
    assert np.array_equal(banded.variance, whole.variance, equal_nan=True)
    assert np.array_equal(banded.exposure, whole.exposure)
    assert [f.rejected_px for f in banded.frames] == [f.rejected_px for f in whole.frames]
    assert banded.frames[2].rejected_px > 0
    assert list(tmp_path.iterdir()) == []


def test_a_frame_read_late_is_checked_and_named(frames: list[Image]) -> None:
    other_band = replace(frames[1], meta=replace(frames[1].meta, filter="i"))
    with pytest.raises(IncompatibleImagesError, match=r"epoch1\.fits: band 'i'"):
        stack_frames([frames[0], frames[3], lambda: other_band])


def test_a_brighter_frame_gets_its_flux_scale(frames: list[Image]) -> None:
    doubled = replace(
        frames[1],
        data=frames[1].data * 2.0,
        meta=replace(frames[1].meta, saturation=frames[1].meta.saturation * 2.0),
    )
    plain = stack_frames([frames[0], frames[1], frames[3]])
    stack = stack_frames([frames[0], doubled, frames[3]])
    assert stack.frames[1].flux_scale == pytest.approx(2.0 * plain.frames[1].flux_scale, rel=0.01)
    assert stack.frames[1].sigma == pytest.approx(2.0 * plain.frames[1].sigma, rel=0.01)
    # the same sky at the same depth: the frames' true scales are all 1 (measured within 6 %:
    # PSF-fit fluxes on 31-pixel stamps miss more of a wider PSF's wings)
    assert plain.frames[1].flux_scale == pytest.approx(1.0, abs=0.06)
    # doubling a frame's units leaves the stack as it was (to a hundredth of its noise;
    # the artifact masks of the doubled frame may differ by a few pixels)
    noise = float(np.sqrt(np.nanmedian(plain.variance)))
    assert float(np.nanmedian(np.abs(stack.image - plain.image))) < 0.01 * noise


def test_bad_sets_of_frames_are_named(frames: list[Image]) -> None:
    with pytest.raises(ConfigurationError, match="'sum': expected one of proper, mean"):
        StackConfig(method="sum")
    with pytest.raises(IncompatibleImagesError, match="1 frame"):
        stack_frames(frames[:1])
    other_band = replace(frames[1], meta=replace(frames[1].meta, filter="i"))
    with pytest.raises(IncompatibleImagesError, match=r"epoch1\.fits: band 'i'"):
        stack_frames([frames[0], other_band])
    no_wcs = replace(frames[1], wcs=None)
    with pytest.raises(IncompatibleImagesError, match=r"epoch1\.fits: no celestial WCS"):
        stack_frames([frames[0], no_wcs])
    elsewhere = simulate_pair(FIELD, seed=99).science  # other stars, 5° away
    far = elsewhere.wcs.deepcopy()
    far.wcs.crval = [far.wcs.crval[0] + 5.0, far.wcs.crval[1]]
    with pytest.raises((AlignmentError, IncompatibleImagesError), match=r"elsewhere\.fits"):
        stack_frames([frames[0], replace(elsewhere, wcs=far, path="elsewhere.fits")])
