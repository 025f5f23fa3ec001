"""Tests of astrid.preprocess.calibration on seeded synthetic bias, dark, flat and sky frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from astropy.nddata import CCDData

from astrid.errors import InvalidImageError
from astrid.observations.image import Image, ImageMeta
from astrid.preprocess.calibration import (
    CalibrationFrames,
    calibrate,
    make_master_bias,
    make_master_dark,
    make_master_flat,
)

SHAPE = (128, 160)
READ_NOISE_ADU = 5.0
SKY = 1000.0
EXPTIME = 120.0


@dataclass(frozen=True)
class Truth:
    bias: np.ndarray
    dark_rate: np.ndarray
    flat: np.ndarray
    sky: np.ndarray


@pytest.fixture(scope="module")
def truth() -> Truth:
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    bias = 300.0 + 0.05 * xx + rng.normal(0.0, 2.0, SHAPE)  # gradient + fixed pattern
    dark_rate = np.full(SHAPE, 0.02)
    dark_rate[20:23, 40] = 2.0  # warm pixels
    flat = 1.0 + 0.1 * np.cos(xx / 30.0) * np.sin(yy / 25.0) + rng.normal(0.0, 0.01, SHAPE)
    flat /= np.median(flat)
    # A smooth star field: a few Gaussian stars on a 1000 ADU sky.
    sky = np.full(SHAPE, SKY)
    for x, y, peak in [(40.3, 30.2, 5000.0), (100.7, 90.1, 12000.0), (130.2, 40.6, 2500.0)]:
        sky += peak * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / 1.5**2)
    return Truth(bias=bias, dark_rate=dark_rate, flat=flat, sky=sky)


def _noisy(mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.poisson(np.maximum(mean, 0.0)) + rng.normal(0, READ_NOISE_ADU, SHAPE)).astype(
        np.float32
    )


def _biases(truth: Truth, rng: np.random.Generator, n: int = 9) -> list[np.ndarray]:
    return [
        (truth.bias + rng.normal(0, READ_NOISE_ADU, SHAPE)).astype(np.float32) for _ in range(n)
    ]


def test_master_bias_recovers_bias(truth: Truth) -> None:
    rng = np.random.default_rng(1)
    frames = _biases(truth, rng)
    frames[3][50, 50] += 5000.0  # a cosmic ray in one frame is clipped away
    master = make_master_bias(frames)
    assert master.dtype == np.float32 and master.shape == SHAPE
    residual = master - truth.bias
    # Median of 9 frames: σ ≈ 1.25 × 5 / 3 ≈ 2.1 ADU.
    assert abs(float(np.mean(residual))) < 0.1
    assert float(np.std(residual)) < 2.5
    assert abs(float(residual[50, 50])) < 10.0


def test_master_bias_accepts_ccddata_and_image(truth: Truth) -> None:
    rng = np.random.default_rng(2)
    arrays = _biases(truth, rng, n=3)
    mask = np.zeros(SHAPE, bool)
    mask[0, 0] = True
    frames = [
        arrays[0],
        CCDData(arrays[1], unit="adu"),
        Image(arrays[2], mask, None, ImageMeta()),
    ]
    master = make_master_bias(frames)
    assert np.all(np.isfinite(master))
    assert float(np.std(master - truth.bias)) < 5.0


def test_master_dark_recovers_dark_current(truth: Truth) -> None:
    rng = np.random.default_rng(3)
    master_bias = make_master_bias(_biases(truth, rng))
    times = [60.0, 120.0, 300.0, 120.0, 300.0, 60.0, 300.0]
    frames = [_noisy(truth.bias + truth.dark_rate * t, rng) for t in times]
    dark = make_master_dark(frames, master_bias=master_bias, exptime_s=times)
    assert dark.dtype == np.float32
    assert float(np.median(dark)) == pytest.approx(0.02, abs=0.005)
    np.testing.assert_allclose(dark[20:23, 40], 2.0, rtol=0.1)


def test_master_dark_scalar_exptime(truth: Truth) -> None:
    rng = np.random.default_rng(4)
    frames = [_noisy(truth.bias + truth.dark_rate * 200.0, rng) for _ in range(5)]
    dark = make_master_dark(frames, master_bias=truth.bias.astype(np.float32), exptime_s=200.0)
    np.testing.assert_allclose(dark[20:23, 40], 2.0, rtol=0.1)


def test_master_flat_recovers_pattern(truth: Truth) -> None:
    rng = np.random.default_rng(5)
    master_bias = truth.bias.astype(np.float32)
    levels = [20_000.0, 30_000.0, 25_000.0, 15_000.0, 28_000.0]
    frames = [_noisy(truth.bias + level * truth.flat, rng) for level in levels]
    flat = make_master_flat(frames, master_bias=master_bias)
    assert float(np.median(flat)) == pytest.approx(1.0, abs=1e-6)
    # Per-pixel noise ≈ 1.25 × sqrt(2.5e4) / 2.5e4 / sqrt(5) ≈ 0.0035.
    assert float(np.std(flat - truth.flat)) < 0.006


def test_master_flat_with_dark(truth: Truth) -> None:
    rng = np.random.default_rng(6)
    frames = [_noisy(truth.bias + truth.dark_rate * 10.0 + 2e4 * truth.flat, rng) for _ in range(3)]
    flat = make_master_flat(
        frames,
        master_bias=truth.bias.astype(np.float32),
        master_dark=truth.dark_rate.astype(np.float32),
        exptime_s=10.0,
    )
    # The warm pixels' 20 ADU of dark current is removed, not read as sensitivity.
    np.testing.assert_allclose(flat[20:23, 40], truth.flat[20:23, 40], atol=0.03)


def test_master_flat_needs_exptime_with_dark(truth: Truth) -> None:
    frames = [np.full(SHAPE, 2e4, np.float32)] * 3
    with pytest.raises(InvalidImageError, match="exptime_s"):
        make_master_flat(frames, master_dark=np.zeros(SHAPE, np.float32))


def test_master_flat_non_positive_median_names_frame(truth: Truth) -> None:
    frames = [np.full(SHAPE, 2e4, np.float32), np.full(SHAPE, 100.0, np.float32)]
    with pytest.raises(InvalidImageError, match="flat frame 1") as info:
        make_master_flat(frames, master_bias=np.full(SHAPE, 300.0, np.float32))
    assert info.value.details["frame_index"] == 1
    assert info.value.details["median"] == pytest.approx(-200.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda frames: make_master_bias(frames),
        lambda frames: make_master_dark(frames, master_bias=np.zeros(SHAPE), exptime_s=1.0),
        lambda frames: make_master_flat(frames),
    ],
    ids=["bias", "dark", "flat"],
)
def test_mismatched_shape_names_frame_index(make: object) -> None:
    frames = [np.full(SHAPE, 1000.0, np.float32) for _ in range(4)]
    frames[2] = np.full((SHAPE[0], SHAPE[1] - 1), 1000.0, np.float32)
    with pytest.raises(InvalidImageError, match="frame 2") as info:
        make(frames)  # type: ignore[operator]
    assert info.value.details["frame_index"] == 2


def test_mismatched_master_shape_raises() -> None:
    frames = [np.zeros(SHAPE, np.float32)] * 3
    with pytest.raises(InvalidImageError, match="master_bias"):
        make_master_dark(frames, master_bias=np.zeros((4, 4)), exptime_s=1.0)


def test_dark_exptime_count_and_sign_checked() -> None:
    frames = [np.zeros(SHAPE, np.float32)] * 3
    with pytest.raises(InvalidImageError, match="2 exposure times for 3 frames"):
        make_master_dark(frames, master_bias=np.zeros(SHAPE), exptime_s=[1.0, 2.0])
    with pytest.raises(InvalidImageError, match="dark frame 1: exposure time"):
        make_master_dark(frames, master_bias=np.zeros(SHAPE), exptime_s=[1.0, 0.0, 2.0])


def test_no_frames_raises() -> None:
    with pytest.raises(InvalidImageError, match="no frames"):
        make_master_bias([])


def test_calibrate_recovers_sky(truth: Truth) -> None:
    rng = np.random.default_rng(7)
    electrons = truth.dark_rate * EXPTIME + truth.sky * truth.flat  # gain 1
    raw = (truth.bias + _noisy(electrons, rng)).astype(np.float32)
    image = Image(raw, np.zeros(SHAPE, bool), None, ImageMeta(name="sci", exptime=EXPTIME))
    before = image.data.copy()
    out = calibrate(
        image,
        bias=truth.bias.astype(np.float32),
        dark=truth.dark_rate.astype(np.float32),
        flat=truth.flat.astype(np.float32),
    )
    assert out is not image and out.data.dtype == np.float32
    np.testing.assert_array_equal(image.data, before)  # input not mutated
    pull = (out.data - truth.sky) / (np.sqrt(electrons + READ_NOISE_ADU**2) / truth.flat)
    assert abs(float(np.mean(pull))) < 0.05
    assert float(np.std(pull)) == pytest.approx(1.0, abs=0.05)
    assert out.meta == image.meta
    assert not out.mask.any()


def test_calibrate_masks_bad_flat_pixels(truth: Truth) -> None:
    flat = truth.flat.astype(np.float32).copy()
    flat[5, 5] = 0.0
    flat[6, 6] = np.nan
    flat[7, 7] = 0.05
    mask = np.zeros(SHAPE, bool)
    mask[100, 100] = True
    image = Image(np.full(SHAPE, 1000.0, np.float32), mask, None, ImageMeta())
    out = calibrate(image, flat=flat)
    for y, x in [(5, 5), (6, 6), (7, 7), (100, 100)]:
        assert out.mask[y, x]
    for y, x in [(5, 5), (6, 6), (7, 7)]:
        assert out.data[y, x] == 0.0
    assert np.all(np.isfinite(out.data))
    assert int(out.mask.sum()) == 4
    assert not image.mask[5, 5]  # input mask untouched


def test_calibrate_shape_mismatch_names_frame() -> None:
    image = Image(np.zeros(SHAPE, np.float32), np.zeros(SHAPE, bool), None, ImageMeta(name="sci"))
    with pytest.raises(InvalidImageError, match="sci: flat has shape"):
        calibrate(image, flat=np.ones((3, 3), np.float32))


def test_calibration_frames_apply(truth: Truth) -> None:
    frames = CalibrationFrames(bias=truth.bias.astype(np.float32))
    image = Image((truth.bias + 10.0).astype(np.float32), np.zeros(SHAPE, bool), None, ImageMeta())
    np.testing.assert_allclose(frames.apply(image).data, 10.0, atol=1e-3)


def test_calibrate_carries_saturation_through_the_masters() -> None:
    bias = np.full(SHAPE, 300.0, np.float32)
    dark = np.full(SHAPE, 0.5, np.float32)
    flat = np.full(SHAPE, 1.25, np.float32)
    flat[0, :10] = 2.0  # a few odd flat pixels do not set the frame's level
    meta = ImageMeta(name="sci", exptime=100.0, saturation=60_000.0)
    image = Image(np.full(SHAPE, 1000.0, np.float32), np.zeros(SHAPE, bool), None, meta)

    out = calibrate(image, bias=bias, dark=dark, flat=flat)
    assert out.meta.saturation == pytest.approx((60_000.0 - 300.0 - 50.0) / 1.25)
    assert calibrate(image, bias=bias).meta.saturation == pytest.approx(60_000.0 - 300.0)
    assert calibrate(image).meta.saturation == 60_000.0  # nothing applied, nothing changed
    unsaturated = Image(image.data, image.mask, None, ImageMeta(exptime=100.0))
    assert calibrate(unsaturated, flat=flat).meta.saturation == np.inf


def test_calibrate_masks_pixels_a_nan_master_leaves_without_value() -> None:
    bias = np.full(SHAPE, 300.0, np.float32)
    bias[3, 4] = np.nan
    image = Image(np.full(SHAPE, 1000.0, np.float32), np.zeros(SHAPE, bool), None, ImageMeta())
    out = calibrate(image, bias=bias)
    assert out.mask[3, 4] and int(out.mask.sum()) == 1
    assert out.data[3, 4] == 0.0 and np.all(np.isfinite(out.data))


def test_calibrate_needs_the_exposure_time_for_a_dark() -> None:
    meta = ImageMeta(name="sci", defaulted=("exptime",))
    image = Image(np.zeros(SHAPE, np.float32), np.zeros(SHAPE, bool), None, meta)
    with pytest.raises(InvalidImageError, match=r"sci: no EXPTIME or EXPOSURE.*dark"):
        calibrate(image, dark=np.zeros(SHAPE, np.float32))
    assert calibrate(image, bias=np.zeros(SHAPE, np.float32)).meta == meta
