"""Master calibration frames (bias, dark, flat) and their application to an image.

Conventions: arrays are ``[y, x]`` and pixels 0-based; every frame is in the raw file's
units (ADU). The master dark is a dark *current*, in ADU per second, so it can be scaled to
any exposure; the master flat is normalised to a median of 1. Combining is a 3σ
sigma-clipped median (``ccdproc.Combiner``, median centre, MAD-based spread), so cosmic
rays and stars in individual frames do not reach the master.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> biases = [rng.normal(300.0, 5.0, (64, 64)).astype(np.float32) for _ in range(5)]
>>> bias = make_master_bias(biases)
>>> bool(abs(float(np.median(bias)) - 300.0) < 1.0)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeAlias

import astropy.units as u
import ccdproc
import numpy as np
from astropy.nddata import CCDData

from astrid.errors import InvalidImageError
from astrid.observations.image import Image

__all__ = [
    "CalibrationFrames",
    "Frame",
    "calibrate",
    "make_master_bias",
    "make_master_dark",
    "make_master_flat",
]

Frame: TypeAlias = np.ndarray | CCDData | Image
"""One raw calibration exposure: a bare array, a ``CCDData`` or an :class:`Image`."""

#: Flat-field values below this (relative to a median of 1) mark pixels that cannot be
#: flat-fielded (vignetted corners, dead pixels); they are masked instead of divided.
MIN_FLAT_VALUE = 0.1

_CLIP_SIGMA = 3.0

#: Percentile of the per-pixel calibrated saturation level taken as the frame's level: low,
#: so saturated pixels stay flagged, but not the minimum, so a few odd flat pixels do not
#: lower it for the whole frame.
SATURATION_PERCENTILE = 0.1


@dataclass(frozen=True, eq=False)
class CalibrationFrames:
    """The master frames for one detector and band; any of them may be absent.

    Attributes
    ----------
    bias : numpy.ndarray or None
        Master bias, ADU.
    dark : numpy.ndarray or None
        Master dark current, ADU / s (bias already removed).
    flat : numpy.ndarray or None
        Master flat, normalised to a median of 1.
    """

    bias: np.ndarray | None = None
    dark: np.ndarray | None = None
    flat: np.ndarray | None = None

    def apply(self, image: Image) -> Image:
        """Calibrate ``image`` with these frames; see :func:`calibrate`."""
        return calibrate(image, bias=self.bias, dark=self.dark, flat=self.flat)


def make_master_bias(frames: Sequence[Frame]) -> np.ndarray:
    """Combine bias exposures into a master bias.

    Parameters
    ----------
    frames : sequence of numpy.ndarray, CCDData or Image
        Zero-second exposures, all the same shape. Masked pixels (``CCDData.mask`` or
        ``Image.mask``) are left out of the combination.

    Returns
    -------
    numpy.ndarray
        float32 sigma-clipped median of the frames, ADU.

    Raises
    ------
    InvalidImageError
        If there are no frames or a frame's shape differs from the first one's.
    """
    ccds = _to_ccds(frames, kind="bias")
    return _combine(ccds)


def make_master_dark(
    frames: Sequence[Frame],
    *,
    master_bias: np.ndarray,
    exptime_s: float | Sequence[float],
) -> np.ndarray:
    """Combine dark exposures into a master dark current (ADU per second).

    Parameters
    ----------
    frames : sequence of numpy.ndarray, CCDData or Image
        Dark exposures, all the same shape.
    master_bias : numpy.ndarray
        Master bias (:func:`make_master_bias`) subtracted from every frame.
    exptime_s : float or sequence of float
        Exposure time in seconds, one for all frames or one per frame.

    Returns
    -------
    numpy.ndarray
        float32 dark current, ADU / s: each bias-subtracted frame is divided by its
        exposure time before the sigma-clipped median, so darks of different lengths mix.

    Raises
    ------
    InvalidImageError
        If shapes disagree (the message names the frame index), an exposure time is not
        positive, or the number of exposure times differs from the number of frames.
    """
    ccds = _to_ccds(frames, kind="dark")
    bias = _check_master(master_bias, ccds[0].shape, kind="dark", name="master_bias")
    times = _exposure_times(exptime_s, len(ccds), kind="dark")
    rates = [
        ccdproc.subtract_bias(ccd, bias).divide(t, handle_meta="first_found")
        for ccd, t in zip(ccds, times, strict=True)
    ]
    return _combine(rates)


def make_master_flat(
    frames: Sequence[Frame],
    *,
    master_bias: np.ndarray | None = None,
    master_dark: np.ndarray | None = None,
    exptime_s: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Combine flat-field exposures into a master flat normalised to a median of 1.

    Parameters
    ----------
    frames : sequence of numpy.ndarray, CCDData or Image
        Flat exposures (dome or twilight), all the same shape.
    master_bias : numpy.ndarray, optional
        Master bias subtracted from every frame.
    master_dark : numpy.ndarray, optional
        Master dark current (ADU / s), scaled by ``exptime_s`` and subtracted.
    exptime_s : float or sequence of float, optional
        Flat exposure time(s) in seconds; required when ``master_dark`` is given.

    Returns
    -------
    numpy.ndarray
        float32 master flat, median 1. Each frame is divided by its own median before the
        sigma-clipped combination, so flats of different brightness mix.

    Raises
    ------
    InvalidImageError
        If shapes disagree (the message names the frame index), a frame's median after
        bias/dark removal is not positive (names the frame index and the median), or
        ``master_dark`` is given without ``exptime_s``.
    """
    ccds = _to_ccds(frames, kind="flat")
    shape = ccds[0].shape
    if master_bias is not None:
        bias = _check_master(master_bias, shape, kind="flat", name="master_bias")
        ccds = [ccdproc.subtract_bias(ccd, bias) for ccd in ccds]
    if master_dark is not None:
        if exptime_s is None:
            raise InvalidImageError(
                "flat: master_dark given without exptime_s; cannot scale the dark current",
                kind="flat",
            )
        dark = _check_master(master_dark, shape, kind="flat", name="master_dark")
        times = _exposure_times(exptime_s, len(ccds), kind="flat")
        ccds = [
            ccdproc.subtract_dark(
                ccd, dark, dark_exposure=1.0 * u.s, data_exposure=t * u.s, scale=True
            )
            for ccd, t in zip(ccds, times, strict=True)
        ]
    normalised = []
    for index, ccd in enumerate(ccds):
        level = _median(ccd)
        if not np.isfinite(level) or level <= 0:
            raise InvalidImageError(
                f"flat frame {index}: median {level:.4g} after bias/dark removal is not "
                "positive; expected an illuminated exposure",
                kind="flat",
                frame_index=index,
                median=level,
            )
        normalised.append(ccd.divide(level, handle_meta="first_found"))
    master = _combine(normalised)
    level = float(np.nanmedian(master))
    if not np.isfinite(level) or level <= 0:
        raise InvalidImageError(
            f"flat: combined median {level:.4g} is not positive", kind="flat", median=level
        )
    return (master / np.float32(level)).astype(np.float32)


def calibrate(
    image: Image,
    *,
    bias: np.ndarray | None = None,
    dark: np.ndarray | None = None,
    flat: np.ndarray | None = None,
) -> Image:
    """Remove bias, dark current and flat-field response from an image.

    Parameters
    ----------
    image : Image
        Raw science image (ADU); not modified.
    bias : numpy.ndarray, optional
        Master bias, ADU.
    dark : numpy.ndarray, optional
        Master dark current, ADU / s, scaled by ``image.meta.exptime``.
    flat : numpy.ndarray, optional
        Master flat, median 1. Pixels where it is below ``MIN_FLAT_VALUE`` (0.1) or not
        finite cannot be corrected: they are added to the mask and set to 0.

    Returns
    -------
    Image
        A new image with float32 calibrated data and the grown mask (pixels left without a
        value by a NaN in a master are masked and set to 0, as the FITS reader does); WCS,
        header and metadata are carried over, with ``meta.saturation`` (raw ADU) taken
        through the masters to calibrated units: the `SATURATION_PERCENTILE` percentile of
        the per-pixel calibrated level over unmasked pixels, so saturated pixels stay
        flagged wherever the flat is low.

    Raises
    ------
    InvalidImageError
        If a calibration frame's shape differs from the image's (the message names which),
        or a dark is given for an image whose exposure time is not in its header.
    """
    if dark is not None and "exptime" in image.meta.defaulted:
        raise InvalidImageError(
            f"{image.label}: no EXPTIME or EXPOSURE keyword, so the master dark cannot be scaled",
            path=image.label,
        )
    ccd = CCDData(np.asarray(image.data, dtype=np.float32), unit=u.adu)
    mask = image.mask.copy()
    bad_flat = np.zeros(image.shape, dtype=bool)
    kind = image.label
    if bias is not None:
        ccd = ccdproc.subtract_bias(ccd, _check_master(bias, image.shape, kind=kind, name="bias"))
    if dark is not None:
        ccd = ccdproc.subtract_dark(
            ccd,
            _check_master(dark, image.shape, kind=kind, name="dark"),
            dark_exposure=1.0 * u.s,
            data_exposure=float(image.meta.exptime) * u.s,
            scale=True,
        )
    if flat is not None:
        flat_ccd = _check_master(flat, image.shape, kind=kind, name="flat")
        bad_flat = ~np.isfinite(flat_ccd.data) | (flat_ccd.data < MIN_FLAT_VALUE)
        # Divide by 1 where the flat is unusable so no inf/NaN (or warning) is produced.
        safe = CCDData(np.where(bad_flat, 1.0, flat_ccd.data).astype(np.float32), unit=u.adu)
        ccd = ccdproc.flat_correct(ccd, safe, norm_value=1.0)
        mask |= bad_flat
    data = np.asarray(ccd.data, dtype=np.float32)
    data[bad_flat] = 0.0
    no_value = ~np.isfinite(data)
    data[no_value] = 0.0
    mask |= no_value
    calibrated = image.with_data(data, mask)
    saturation = _calibrated_saturation(image, mask, bias=bias, dark=dark, flat=flat)
    if saturation is None:
        return calibrated
    return replace(calibrated, meta=replace(calibrated.meta, saturation=saturation))


def _calibrated_saturation(
    image: Image,
    mask: np.ndarray,
    *,
    bias: np.ndarray | None,
    dark: np.ndarray | None,
    flat: np.ndarray | None,
) -> float | None:
    """The raw SATURATE level in calibrated units (None: no finite level or no masters)."""
    if not np.isfinite(image.meta.saturation) or (bias is None and dark is None and flat is None):
        return None
    level = np.full(image.shape, image.meta.saturation, dtype=np.float64)
    if bias is not None:
        level -= bias
    if dark is not None:
        level -= dark * image.meta.exptime
    if flat is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            level /= flat
    usable = np.isfinite(level) & ~mask
    if not usable.any():
        return None
    return float(np.percentile(level[usable], SATURATION_PERCENTILE))


def _to_ccds(frames: Sequence[Frame], *, kind: str) -> list[CCDData]:
    """Frames as ADU ``CCDData`` of one shape, or an error naming the odd frame."""
    if len(frames) == 0:
        raise InvalidImageError(f"{kind}: no frames to combine", kind=kind, n_frames=0)
    ccds = [_to_ccd(frame) for frame in frames]
    expected = ccds[0].shape
    for index, ccd in enumerate(ccds):
        if ccd.ndim != 2 or ccd.shape != expected:
            raise InvalidImageError(
                f"{kind} frame {index}: shape {ccd.shape}, expected {expected} "
                "(the shape of frame 0)",
                kind=kind,
                frame_index=index,
                shape=ccd.shape,
                expected_shape=expected,
            )
    return ccds


def _to_ccd(frame: Frame) -> CCDData:
    """One frame as float32 ADU ``CCDData``, keeping its bad-pixel mask."""
    if isinstance(frame, Image):
        return CCDData(frame.data.astype(np.float32), mask=frame.mask.copy(), unit=u.adu)
    if isinstance(frame, CCDData):
        mask = None if frame.mask is None else np.asarray(frame.mask, dtype=bool)
        return CCDData(np.asarray(frame.data, dtype=np.float32), mask=mask, unit=u.adu)
    data = np.asarray(frame, dtype=np.float32)
    return CCDData(data, mask=~np.isfinite(data) if data.ndim == 2 else None, unit=u.adu)


def _check_master(array: np.ndarray, shape: tuple[int, ...], *, kind: str, name: str) -> CCDData:
    """A master frame as ``CCDData`` after checking it matches ``shape``."""
    data = np.asarray(array, dtype=np.float32)
    if data.shape != shape:
        raise InvalidImageError(
            f"{kind}: {name} has shape {data.shape}, expected {shape}",
            kind=kind,
            frame=name,
            shape=data.shape,
            expected_shape=shape,
        )
    return CCDData(data, unit=u.adu)


def _exposure_times(exptime_s: float | Sequence[float], n: int, *, kind: str) -> list[float]:
    """One positive exposure time per frame."""
    if np.ndim(exptime_s) == 0:
        times = [float(exptime_s)] * n  # type: ignore[arg-type]
    else:
        times = [float(t) for t in exptime_s]  # type: ignore[union-attr]
    if len(times) != n:
        raise InvalidImageError(
            f"{kind}: {len(times)} exposure times for {n} frames",
            kind=kind,
            n_times=len(times),
            n_frames=n,
        )
    for index, t in enumerate(times):
        if not np.isfinite(t) or t <= 0:
            raise InvalidImageError(
                f"{kind} frame {index}: exposure time {t} s is not positive",
                kind=kind,
                frame_index=index,
                exptime_s=t,
            )
    return times


def _median(ccd: CCDData) -> float:
    """Median of the unmasked, finite pixels."""
    good = np.isfinite(ccd.data)
    if ccd.mask is not None:
        good &= ~ccd.mask
    return float(np.median(ccd.data[good])) if good.any() else float("nan")


def _combine(ccds: list[CCDData]) -> np.ndarray:
    """3σ sigma-clipped median of same-shape frames, float32."""
    combiner = ccdproc.Combiner(ccds, dtype=np.float32)
    if len(ccds) > 2:
        # String names take astropy's fast (bottleneck / nan-aware) path.
        combiner.sigma_clipping(
            low_thresh=_CLIP_SIGMA, high_thresh=_CLIP_SIGMA, func="median", dev_func="mad_std"
        )
    # Masters are kept as plain arrays, so skip the per-pixel MAD uncertainty (2/3 of the time).
    combined = combiner.median_combine(uncertainty_func=_no_uncertainty)
    return np.asarray(combined.data, dtype=np.float32)


def _no_uncertainty(data: np.ma.MaskedArray, axis: int = 0) -> np.ndarray:
    """Zero uncertainty, shaped like the combined frame."""
    return np.zeros(np.delete(data.shape, axis), dtype=np.float32)
