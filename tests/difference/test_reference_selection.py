"""Choosing the frames to stack (`astrid.difference.reference_selection`): seeing and
transparency measured, groups by band and field, the deepest kept, the rest with a reason."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from astrid.difference.reference_selection import frame_quality, group_frames, select_frames
from astrid.errors import InvalidImageError
from astrid.observations.image import Image
from astrid.simulation import simulate_pair
from small_field import STATIC_FIELD


def _epochs(seeings: tuple[float, ...], seed: int = 7) -> list[Image]:
    return [
        simulate_pair(STATIC_FIELD, seed=seed, epoch=k + 1, seeing=s).science
        for k, s in enumerate(seeings)
    ]


def _clouded(image: Image, transparency: float) -> Image:
    """The sources dimmed, the sky's noise as it was."""
    data = np.asarray(image.data, float)
    sky = float(np.median(data))
    noise = 1.4826 * float(np.median(np.abs(data - sky)))
    rng = np.random.default_rng(1)
    dimmed = sky + transparency * (data - sky)
    dimmed += rng.normal(0.0, noise * np.sqrt(1 - transparency**2), data.shape)
    return replace(image, data=dimmed.astype(np.float32), path="clouded.fits")


def test_seeing_and_transparency_are_measured() -> None:
    sharp, soft, cloudy_source = _epochs((0.8, 1.4, 1.0))
    cloudy = _clouded(cloudy_source, 0.4)
    qualities = [frame_quality(image) for image in (sharp, soft, cloudy)]
    assert qualities[0].fwhm_px < qualities[1].fwhm_px
    ranked = select_frames([sharp, soft, cloudy], qualities, max_frames=10)
    by_index = {s.index: s for s in ranked}
    assert by_index[2].transparency / by_index[0].transparency == pytest.approx(0.4, abs=0.04)
    assert by_index[1].transparency / by_index[0].transparency == pytest.approx(1.0, abs=0.04)
    assert not by_index[2].kept and by_index[2].reason.startswith("clouds")
    assert [s.index for s in ranked if s.kept] == [0, 1]  # deepest (sharpest) first
    assert by_index[0].depth == 1.0 and by_index[1].depth < 1.0


def test_the_deepest_are_kept_and_late_frames_left_out() -> None:
    images = _epochs((1.0, 0.8, 1.2, 0.9))
    qualities = [frame_quality(image) for image in images]
    ranked = select_frames(images, qualities, max_frames=2)
    kept = [s for s in ranked if s.kept]
    assert [k.index for k in kept] == [1, 3]  # the two sharpest, sharpest first
    assert min(k.depth for k in kept) >= max(s.depth for s in ranked if not s.kept)
    assert sum("not among the 2 deepest" in s.reason for s in ranked) == 2
    mjd = images[0].meta.mjd
    assert mjd is not None
    late = select_frames(images, qualities, max_frames=4, before=mjd)
    assert not any(s.kept for s in late)
    assert all("not before MJD" in s.reason for s in late)


def test_frames_are_grouped_by_band_and_field() -> None:
    here = _epochs((1.0, 1.0))
    other_band = replace(here[1], meta=replace(here[1].meta, filter="i"))
    away = simulate_pair(replace(STATIC_FIELD, center=(150.0, 10.0)), seed=7).science
    assert group_frames([here[0], away, other_band, here[1]]) == [[0, 3], [1], [2]]
    blind = replace(here[0], wcs=None, path="blind.fits")
    with pytest.raises(InvalidImageError, match=r"blind\.fits: no celestial WCS"):
        group_frames([here[0], blind])
    with pytest.raises(InvalidImageError, match=r"blind\.fits"):
        frame_quality(blind)
    flat = replace(here[0], data=np.full(here[0].shape, 100.0, np.float32), path="flat.fits")
    with pytest.raises(InvalidImageError, match=r"flat\.fits"):
        frame_quality(flat)
