"""Tests of detector artifacts added to any image, with their truth rows."""

from __future__ import annotations

import numpy as np
import pytest

from astrid.observations.image import Image, ImageMeta
from astrid.simulation import ARTIFACT_KINDS, TRUTH_COLUMNS, ArtifactConfig, add_artifacts

CONFIG = ArtifactConfig(n_cosmic_rays=12, n_hot_pixels=8, n_bad_columns=2, n_satellite_trails=1)


def flat(shape: tuple[int, int] = (600, 400), sky: float = 500.0) -> Image:
    data = np.full(shape, sky, np.float32)
    return Image(data=data, mask=np.zeros(shape, bool), wcs=None, meta=ImageMeta(gain=1.0))


def test_every_kind_is_added_and_listed() -> None:
    image = flat()
    out, truth = add_artifacts(image, CONFIG, sigma=10.0, seed=1)
    assert np.all(image.data == 500.0)  # the input is not modified
    assert tuple(truth.colnames[:7]) == TRUTH_COLUMNS
    counts = {k: int((truth["kind"] == k).sum()) for k in ARTIFACT_KINDS}
    assert counts == {"cosmic_ray": 12, "hot_pixel": 8, "bad_column": 2, "satellite_trail": 1}
    assert np.all(np.isnan(truth["ra"]))  # no WCS
    changed = out.data.astype(float) - image.data
    assert np.sum(truth["flux"]) == pytest.approx(changed.sum(), rel=1e-4)
    hot = truth[truth["kind"] == "hot_pixel"]
    assert np.all(hot["snr"] >= 20.0) and np.all(hot["snr"] <= 500.0)
    trail = truth[truth["kind"] == "satellite_trail"][0]
    assert trail["length"] == pytest.approx(np.hypot(600, 400))


def test_artifacts_keep_clear_of_positions_to_avoid() -> None:
    avoid = np.array([[x, y] for x in range(40, 400, 40) for y in range(40, 600, 40)], float)
    config = ArtifactConfig(n_cosmic_rays=30, n_hot_pixels=30, n_bad_columns=0)
    _, truth = add_artifacts(flat(), config, sigma=10.0, avoid_xy=avoid, seed=4)
    xy = np.column_stack([truth["x"], truth["y"]])
    d = np.hypot(*(xy[:, None, :] - avoid[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    # cosmic rays are listed at their centroid, up to half a 15 px track from the seed pixel
    assert np.all(d[truth["kind"] == "hot_pixel"] >= 10.0)
    assert np.all(d[truth["kind"] == "cosmic_ray"] >= 10.0 - 7.5)


def test_same_seed_gives_the_same_artifacts() -> None:
    a, ta = add_artifacts(flat(), CONFIG, sigma=10.0, seed=7)
    b, tb = add_artifacts(flat(), CONFIG, sigma=10.0, seed=7)
    c, _ = add_artifacts(flat(), CONFIG, sigma=10.0, seed=8)
    assert np.array_equal(a.data, b.data) and not np.array_equal(a.data, c.data)
    assert np.array_equal(np.asarray(ta["x"]), np.asarray(tb["x"]))
