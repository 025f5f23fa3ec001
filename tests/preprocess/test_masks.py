"""Tests of astrid.preprocess.masks on seeded synthetic star fields with known defects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astrid.observations.image import Image, ImageMeta
from astrid.preprocess.masks import MaskConfig, MaskResult, build_mask

SKY = 1000.0
GAIN = 1.0
READ_NOISE = 5.0
SATURATION = 50_000.0
FWHM = 3.5
SHAPE = (512, 512)

DECAM_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "decam"


def _gaussian_stars(
    shape: tuple[int, int], xs: np.ndarray, ys: np.ndarray, peaks: np.ndarray, fwhm: float
) -> np.ndarray:
    """Sum of circular Gaussians (noise-free) on a zero background."""
    sigma = fwhm / 2.3548
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    model = np.zeros(shape, dtype=np.float64)
    for x, y, peak in zip(xs, ys, peaks, strict=True):
        y0, y1 = max(0, int(y) - 15), min(shape[0], int(y) + 16)
        x0, x1 = max(0, int(x) - 15), min(shape[1], int(x) + 16)
        r2 = (xx[y0:y1, x0:x1] - x) ** 2 + (yy[y0:y1, x0:x1] - y) ** 2
        model[y0:y1, x0:x1] += peak * np.exp(-0.5 * r2 / sigma**2)
    return model


def _observe(model: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sky + model with Poisson and read noise, in ADU (gain 1)."""
    electrons = rng.poisson((SKY + model) * GAIN).astype(np.float64)
    electrons += rng.normal(0.0, READ_NOISE, model.shape)
    return (electrons / GAIN).astype(np.float32)


def _image(data: np.ndarray, mask: np.ndarray | None = None) -> Image:
    meta = ImageMeta(
        name="synthetic", gain=GAIN, read_noise=READ_NOISE, saturation=SATURATION, fwhm=FWHM
    )
    return Image(data, np.zeros(data.shape, bool) if mask is None else mask, None, meta)


@dataclass(frozen=True)
class Scene:
    """A synthetic frame and the truth about what is in it."""

    image: Image
    original: np.ndarray
    star_xy: np.ndarray
    cr_pixels: np.ndarray
    saturated_truth: np.ndarray
    dead: tuple[int, int, int]  # column, first row, stop row
    hot: tuple[int, int, int]
    bright_star_x: int
    galaxy_xy: tuple[int, int]
    result: MaskResult


@pytest.fixture(scope="module")
def scene() -> Scene:
    rng = np.random.default_rng(20240601)
    ny, nx = SHAPE
    # Well-sampled, unsaturated field stars away from the injected defects.
    n_stars = 60
    xs = rng.uniform(20, nx - 20, n_stars)
    ys = rng.uniform(20, ny - 20, n_stars)
    keep = (np.abs(xs - 100) > 12) & (np.abs(xs - 300) > 12) & (np.abs(xs - 250) > 20)
    xs, ys = xs[keep], ys[keep]
    peaks = rng.uniform(500, 20_000, xs.size)
    model = _gaussian_stars(SHAPE, xs, ys, peaks, FWHM)
    # A bright (unsaturated) star whose column must not be called bad.
    bright_x, bright_y = 420, 400
    model += _gaussian_stars(
        SHAPE, np.array([420.3]), np.array([400.6]), np.array([40_000.0]), FWHM
    )
    # An exponential galaxy, scale length 8 px.
    gx, gy = 440, 130
    yy, xx = np.mgrid[:ny, :nx]
    model += 3000.0 * np.exp(-np.hypot(xx - gx, (yy - gy) / 0.7) / 8.0)
    # A saturated star with a bleed trail along its column, tapering at both ends.
    sat_x, sat_y = 250, 300
    model += _gaussian_stars(SHAPE, np.array([250.0]), np.array([300.0]), np.array([1.0e6]), FWHM)
    data = _observe(model, rng)
    trail = np.zeros(SHAPE, bool)
    trail[sat_y - 30 : sat_y + 31, sat_x] = True
    data[trail] = SATURATION
    for k, frac in enumerate((0.9, 0.75, 0.6)):
        data[sat_y - 31 - k, sat_x] = frac * SATURATION
        data[sat_y + 31 + k, sat_x] = frac * SATURATION
    data = np.minimum(data, SATURATION)
    # Everything above the bleed threshold near the saturated star (not the bright star).
    saturated_truth = (data >= 0.5 * 0.95 * SATURATION) & (np.hypot(xx - sat_x, yy - sat_y) < 45)

    # Bad column segments: dead (reads ~0) and hot (+6σ per pixel), away from stars.
    dead = (100, 60, 160)
    hot = (300, 330, 394)
    data[dead[1] : dead[2], dead[0]] = rng.normal(5.0, READ_NOISE, dead[2] - dead[1])
    data[hot[1] : hot[2], hot[0]] += 6.0 * np.sqrt(SKY)

    # Cosmic rays: 1-3 pixel hits of 400-5000 ADU, away from stars and defects.
    cr_pixels = []
    shapes = [[(0, 0)], [(0, 0), (0, 1)], [(0, 0), (1, 0)], [(0, 0), (1, 1), (2, 1)]]
    star_dist = np.hypot(xx[..., None] - xs, yy[..., None] - ys).min(axis=-1)
    n_hits = 0
    while n_hits < 120:
        y, x = rng.integers(10, ny - 10), rng.integers(10, nx - 10)
        if star_dist[y, x] < 8 or min(abs(x - 100), abs(x - 300), abs(x - 250)) < 6:
            continue
        if np.hypot(x - gx, y - gy) < 40 or np.hypot(x - bright_x, y - bright_y) < 15:
            continue
        for dy, dx in shapes[n_hits % len(shapes)]:
            data[y + dy, x + dx] += rng.uniform(400, 5000)
            cr_pixels.append((y + dy, x + dx))
        n_hits += 1
    image = _image(data)
    original = data.copy()
    return Scene(
        image=image,
        original=original,
        star_xy=np.column_stack([xs, ys]),
        cr_pixels=np.array(cr_pixels),
        saturated_truth=saturated_truth,
        dead=dead,
        hot=hot,
        bright_star_x=bright_x,
        galaxy_xy=(gx, gy),
        result=build_mask(image),
    )


def test_input_image_not_mutated(scene: Scene) -> None:
    np.testing.assert_array_equal(scene.image.data, scene.original)
    assert not scene.image.mask.any()


def test_result_shapes_and_union(scene: Scene) -> None:
    r = scene.result
    for array in (r.mask, r.saturated, r.cosmic_rays, r.bad_columns, r.streaks):
        assert array.shape == SHAPE
        assert array.dtype == bool
    assert r.cleaned.dtype == np.float32
    np.testing.assert_array_equal(r.mask, r.saturated | r.cosmic_rays | r.bad_columns | r.streaks)
    assert r.n_masked == int(r.mask.sum())
    assert r.masked_fraction < 0.03


def test_saturated_star_and_bleed_trail_masked(scene: Scene) -> None:
    sat = scene.result.saturated
    assert sat[scene.saturated_truth].all()
    # Grown by grow_saturated_px and no further.
    grow = MaskConfig().grow_saturated_px
    yy, xx = np.nonzero(sat)
    ty, tx = np.nonzero(scene.saturated_truth)
    assert yy.min() >= ty.min() - grow and yy.max() <= ty.max() + grow
    assert xx.min() >= tx.min() - grow and xx.max() <= tx.max() + grow


def test_cosmic_ray_recall(scene: Scene) -> None:
    y, x = scene.cr_pixels.T
    recall = scene.result.cosmic_rays[y, x].mean()
    assert recall >= 0.9, f"cosmic-ray pixel recall {recall:.3f}"


def test_star_cores_not_flagged_as_cosmic_rays(scene: Scene) -> None:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    xs, ys = scene.star_xy.T
    core = np.hypot(xx[..., None] - xs, yy[..., None] - ys).min(axis=-1) <= FWHM
    flagged = scene.result.cosmic_rays[core].mean()
    assert flagged < 0.01, f"{100 * flagged:.2f}% of star-core pixels flagged"


def test_cleaned_replaces_cosmic_rays_only(scene: Scene) -> None:
    r = scene.result
    np.testing.assert_array_equal(r.cleaned[~r.cosmic_rays], scene.original[~r.cosmic_rays])
    y, x = scene.cr_pixels.T
    hit = r.cosmic_rays[y, x]
    residual = r.cleaned[y[hit], x[hit]] - SKY
    # Replaced by a local mean of the sky: within a few σ, not hundreds of ADU high.
    assert np.median(np.abs(residual)) < 3 * np.sqrt(SKY)


@pytest.mark.parametrize("which", ["dead", "hot"])
def test_bad_column_segment_flagged(scene: Scene, which: str) -> None:
    column, start, stop = getattr(scene, which)
    flagged = scene.result.bad_columns[:, column]
    assert flagged[start:stop].mean() >= 0.95
    rows = np.nonzero(flagged)[0]
    window = MaskConfig().column_block_px
    assert rows.min() >= start - window and rows.max() < stop + window


def test_no_other_columns_flagged(scene: Scene) -> None:
    cols = set(np.nonzero(scene.result.bad_columns.any(axis=0))[0].tolist())
    assert cols <= {scene.dead[0], scene.hot[0]}, sorted(cols)


def test_bright_star_and_galaxy_columns_not_flagged(scene: Scene) -> None:
    bc = scene.result.bad_columns
    x = scene.bright_star_x
    assert not bc[:, x - 3 : x + 4].any()
    gx, _ = scene.galaxy_xy
    assert not bc[:, gx - 20 : gx + 21].any()


def test_input_mask_is_kept_and_respected() -> None:
    rng = np.random.default_rng(5)
    data = _observe(np.zeros((128, 128)), rng)
    data[10, 10] = np.nan
    mask = np.zeros(data.shape, bool)
    mask[60:70, 60:70] = True
    data[60:70, 60:70] = 1.0e5  # junk under the mask must not trigger anything
    image = _image(data, mask)
    result = build_mask(image)
    assert result.mask[60:70, 60:70].all() and result.mask[10, 10]
    assert not result.cosmic_rays[mask].any()
    assert not result.saturated.any()
    assert not result.bad_columns.any()
    assert np.isnan(image.data[10, 10])  # input untouched


def test_components_can_be_switched_off(scene: Scene) -> None:
    config = MaskConfig(cosmic_rays=False, bad_columns=False)
    r = build_mask(scene.image, config)
    assert not r.cosmic_rays.any() and not r.bad_columns.any()
    np.testing.assert_array_equal(r.cleaned, scene.original)
    np.testing.assert_array_equal(r.saturated, scene.result.saturated)


def test_no_saturation_level_means_no_saturation_mask() -> None:
    rng = np.random.default_rng(9)
    data = _observe(np.zeros((64, 64)), rng)
    image = Image(data, np.zeros(data.shape, bool), None, ImageMeta(gain=1.0, read_noise=5.0))
    assert not build_mask(image).saturated.any()


def test_pure_noise_has_almost_nothing_masked() -> None:
    rng = np.random.default_rng(11)
    result = build_mask(_image(_observe(np.zeros(SHAPE), rng)))
    assert result.masked_fraction < 1e-3
    assert result.n_bad_columns == 0


def test_decam_frame_masks_under_one_percent() -> None:
    path = DECAM_DIR / "DEC-OBS04a.fits"
    if not path.exists():
        pytest.skip(f"real DECam frame not available at {path}")
    with fits.open(path) as hdul:
        hdu = next(h for h in hdul if h.data is not None)
        data = np.asarray(hdu.data, dtype=np.float32)
        header = hdu.header
    meta = ImageMeta(
        name=path.stem,
        gain=float(header["GAIN"]),
        read_noise=float(header.get("RDNOISE", 10.0)),
        saturation=float(header["SATURATE"]),
    )
    result = build_mask(Image(data, ~np.isfinite(data), None, meta))
    assert result.masked_fraction < 0.01, (
        f"{100 * result.masked_fraction:.2f}% of {path.name} masked "
        f"(saturated {result.n_saturated}, cosmic rays {result.n_cosmic_rays}, "
        f"bad columns {result.n_bad_columns})"
    )
