"""L.A.Cosmic run only where a hit can be gives what a run on the whole image gives.

`astrid.preprocess.cosmic_rays.hit_windows` bounds astroscrappy's detection statistic from
above with a cheap Laplacian and runs astroscrappy on windows around the pixels above the
bound. These tests compare against the whole-image run pixel for pixel, including hits on
the image's edges and corners and the raised contrast limit of undersampled images.
"""

from __future__ import annotations

import numpy as np
import pytest
import sep

from astrid.preprocess.cosmic_rays import find_cosmic_rays, hit_windows
from astrid.simulation import SimulationConfig, simulate_pair

# On the edges, in the corners and next to them, where astroscrappy's Laplacian pads with zeros.
EDGE_HITS = [
    (0, 0),
    (0, 350),
    (899, 999),
    (450, 0),
    (1, 1),
    (1, 500),
    (898, 998),
    (450, 998),
    (3, 996),
    (2, 300),
    (4, 2),
    (896, 400),
    (600, 997),
    (5, 5),
]


def _science(fwhm: float, *, n_stars: int, seed: int) -> tuple[np.ndarray, object]:
    config = SimulationConfig(
        shape=(900, 1000),
        science_fwhm=(fwhm, fwhm * 1.05),
        reference_fwhm=(fwhm, fwhm * 1.05),
        n_stars=n_stars,
        n_galaxies=30,
        n_transients=10,
        n_transients_on_galaxies=0,
        n_variables=0,
        n_cosmic_rays=40,
        n_hot_pixels=15,
        n_bad_columns=0,
    )
    image = simulate_pair(config, seed=seed).science
    data = np.array(image.data, dtype=np.float32)
    rng = np.random.default_rng(seed)
    sky = float(np.median(data))
    for y, x in EDGE_HITS:
        data[y, x] = sky + rng.uniform(2000.0, 5000.0)
    return data, image.meta


def _run(data: np.ndarray, meta: object, windowed: bool, excluded: np.ndarray):
    background = sep.Background(data, mask=excluded, bw=64, bh=64)
    return find_cosmic_rays(
        data,
        background.back(),
        float(background.globalrms),
        excluded,
        meta,  # type: ignore[arg-type]
        sigclip=5.0,
        objlim=5.0,
        niter=1,
        fsmode="median",
        windowed=windowed,
    )


@pytest.mark.parametrize(("fwhm", "seed"), [(3.0, 1), (1.6, 2)])
def test_windows_give_the_whole_image_answer(fwhm: float, seed: int) -> None:
    data, meta = _science(fwhm, n_stars=150, seed=seed)
    excluded = np.zeros(data.shape, dtype=bool)
    excluded[100:110, 200:260] = True  # e.g. a saturated star already masked
    rms = float(sep.Background(data, bw=64, bh=64).globalrms)
    windows = hit_windows(data, rms, 5.0, 1)
    assert windows is not None and len(windows) > 4  # the windowed path is what is tested

    whole_mask, whole_clean, whole_limit = _run(data, meta, False, excluded)
    mask, clean, limit = _run(data, meta, True, excluded)

    assert whole_mask.sum() > 40
    assert sum(whole_mask[y, x] for y, x in EDGE_HITS) >= 3  # edge hits are compared too
    np.testing.assert_array_equal(mask, whole_mask)
    np.testing.assert_array_equal(clean[mask], whole_clean[whole_mask])
    assert limit == whole_limit
    if fwhm < 2:
        assert limit > 5.0  # the raised limit of an undersampled image took the same path


def test_a_crowded_image_is_run_whole() -> None:
    data, _ = _science(3.0, n_stars=2000, seed=3)
    rms = float(sep.Background(data, bw=64, bh=64).globalrms)
    assert hit_windows(data, rms, 5.0, 1) is None


def test_a_flat_image_needs_only_its_edges_and_noise_a_few_windows() -> None:
    flat = np.full((300, 300), 100.0, dtype=np.float32)
    windows = hit_windows(flat, 5.0, 5.0, 1)
    assert windows is not None and len(windows) == 4  # the four edge strips

    noise = np.random.default_rng(0).normal(100.0, 5.0, (300, 300)).astype(np.float32)
    windows = hit_windows(noise, 5.0, 5.0, 1)
    assert windows is not None
    area = sum((w[0].stop - w[0].start) * (w[1].stop - w[1].start) for w, _ in windows)
    assert area < 0.4 * noise.size
