"""Stack N frames of one field and band into a reference: the proper coadd of prepared frames.

`stack_frames` takes the frames as read (`Image`: background included, each with a
celestial WCS) and does, with the stages `prepare_pair` uses:

1. per frame: artifact masks (saturation, cosmic rays, bad columns, streaks), background,
   star list;
2. every frame aligned onto the first frame's pixel grid (`align_reference`), its
   background measured again after resampling, its PSF modelled (`measure_psf`), its flux
   scale ``F_j`` measured against the first frame's stars (`measure_flux_ratio`) and its
   noise ``σ_j`` taken before resampling;
3. outlier rejection (three frames or more): the frames, in flux units and blurred to the
   worst seeing, give a per-pixel median and scatter (MAD); where a frame departs from the
   median by more than ``reject_sigma`` times the larger of its own noise and that
   scatter (plus a tenth of the median's brightness, for PSF mismatch), the pixels are
   masked in that frame, grown by its PSF's FWHM. The scatter keeps what differs in every
   frame (the halo of a saturated star, a frame edge) from being rejected anywhere.
   What is in one input only (a transient, a satellite, a cosmic ray the mask missed) does
   not reach the stack; with two frames nothing can say which one is right, so none is
   rejected;
4. `astrid.difference.proper_coadd` (Zackay & Ofek 2017) of the masked frames, put back
   into the first frame's flux units and divided by the weight fraction ``c`` of the
   frames that cover each pixel, so a pixel covered by fewer frames keeps its flux (with
   the variance ``1 / (c F_R²)`` it then has; exact for equal PSFs, an approximation within
   a PSF width of a masked patch).

The result carries its PSF, a variance map, a mask, the count of frames behind each pixel,
and one `StackedFrame` per input (seeing, noise, flux scale, weight, rejected pixels) for
the header. Pure: arrays and astropy objects in and out (`stack_files.write_stack` writes
it). The frames are held in memory together (about 16 bytes per pixel per frame).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.wcs import WCS
from scipy import ndimage

from astrid.difference.coadd import proper_coadd
from astrid.errors import ConfigurationError, IncompatibleImagesError
from astrid.observations.image import Image
from astrid.observations.validate import check_usable
from astrid.preprocess.align import align_reference
from astrid.preprocess.background import estimate_background
from astrid.preprocess.pair import PrepareConfig, PreparedFrame, bright_stars, prepare_frame
from astrid.preprocess.photometric import measure_flux_ratio
from astrid.preprocess.psf import StarList, find_stars, measure_psf, psf_fwhm

__all__ = ["STACK_METHODS", "Stack", "StackConfig", "StackedFrame", "stack_frames"]

log = logging.getLogger(__name__)

#: How frames can be combined (`StackConfig.method`).
STACK_METHODS = ("proper", "mean", "median")

_GAUSSIAN_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class StackConfig:
    """Settings of a stack.

    Attributes
    ----------
    prepare : PrepareConfig
        Masks, background, star finding, PSF and alignment settings (those of `astrid run`).
    reject_sigma : float
        A pixel departing from the other frames' median by more than this many σ of its
        noise is rejected in its frame (0 turns rejection off).
    reject_mismatch : float
        Fraction of the median's brightness added to the allowed departure (PSF and
        registration mismatch on bright stars).
    min_frames : int
        Fewest frames a stack is made of.
    method : str
        ``proper`` (Zackay & Ofek 2017, the default), or, for comparison, ``mean``
        (inverse-variance weighted) or ``median``: one of `STACK_METHODS`.
    """

    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    reject_sigma: float = 5.0
    reject_mismatch: float = 0.1
    min_frames: int = 2
    method: str = "proper"

    def __post_init__(self) -> None:
        if self.method not in STACK_METHODS:
            raise ConfigurationError(
                f"stack method {self.method!r}: expected one of {', '.join(STACK_METHODS)}",
                method=self.method,
            )


@dataclass(frozen=True)
class StackedFrame:
    """One input of a stack, as the stack used it.

    Attributes
    ----------
    label, name : str
        The frame's file (or label) and image name.
    mjd : float or None
    fwhm_px : float
        PSF FWHM (pixels of the stack's grid) at the grid's centre.
    sigma : float
        Background noise (1σ, the frame's own units) before resampling.
    flux_scale : float
        The frame's counts per count of the first frame (``F_j``).
    weight : float
        Its share of the stack's point-source S/N², ``(F_j/σ_j)² / Σ (F/σ)²`` at equal
        seeing (the proper coadd's own weighting also follows the PSF in Fourier space).
    rejected_px : int
        Pixels rejected in it as outliers (not the artifact masks).
    """

    label: str
    name: str
    mjd: float | None
    fwhm_px: float
    sigma: float
    flux_scale: float
    weight: float
    rejected_px: int


@dataclass(frozen=True, eq=False)
class Stack:
    """A stacked reference on the first input's pixel grid, in its flux units.

    Attributes
    ----------
    image : ndarray
        Background-subtracted stack (float32), NaN where no frame covers the sky.
    variance : ndarray
        Background variance of each pixel of ``image`` (source noise not included).
    psf : ndarray
        The stack's PSF, a centred unit-sum stamp.
    mask : ndarray of bool
        True where no frame covers the pixel.
    exposure : ndarray of int
        How many frames cover each pixel.
    wcs : WCS
        The grid's celestial WCS (the first input's).
    filter : str or None
    gain : float
        Effective e-/count of ``image`` (the first frame's gain × its depth gain).
    saturation : float
        The highest level any input could record unsaturated, in ``image``'s units.
    zero_point : float or None
        AB magnitude of one count, from the inputs' zero points and flux scales.
    exptime : float
        The first frame's exposure time (the units' reference).
    frames : tuple of StackedFrame
    depth_gain : float
        Point-source S/N of the stack over that of its best single frame (from the
        weights at equal seeing; the proper coadd gains more when seeing differs).
    method : str
        How the frames were combined (`StackConfig.method`).
    outliers_rejected : bool
        Whether single-frame outliers (cosmic rays, trails) were rejected (three frames or
        more, ``reject_sigma`` > 0).
    """

    image: np.ndarray
    variance: np.ndarray
    psf: np.ndarray
    mask: np.ndarray
    exposure: np.ndarray
    wcs: WCS
    filter: str | None
    gain: float
    saturation: float
    zero_point: float | None
    exptime: float
    frames: tuple[StackedFrame, ...]
    depth_gain: float
    method: str = "proper"
    outliers_rejected: bool = False

    @property
    def fwhm_px(self) -> float:
        """FWHM of the stack's PSF in pixels."""
        return psf_fwhm(self.psf)


@dataclass(eq=False)
class _Prepared:
    """One frame on the grid: background subtracted, masked pixels at 0."""

    data: np.ndarray
    mask: np.ndarray
    stars: StarList
    sigma: float
    saturation: float


def _check_inputs(images: Sequence[Image], config: StackConfig) -> None:
    if len(images) < config.min_frames:
        raise IncompatibleImagesError(
            f"coadd: {len(images)} frame(s) given; a stack needs at least {config.min_frames}",
            frames=len(images),
        )
    first_band = next((img.meta.filter for img in images if img.meta.filter), None)
    for img in images:
        if img.wcs is None:
            raise IncompatibleImagesError(f"{img.label}: no celestial WCS, cannot align it")
        if img.meta.filter and first_band and img.meta.filter != first_band:
            raise IncompatibleImagesError(
                f"{img.label}: band {img.meta.filter!r}, the others {first_band!r}: "
                "a stack is of one band",
                path=img.label,
            )
        check_usable(img, "coadd input")


def _own(img: Image, config: PrepareConfig) -> PreparedFrame:
    return prepare_frame(img, config, role="coadd input")


def _onto_grid(
    img: Image,
    grid: Image,
    grid_stars: tuple[np.ndarray, np.ndarray],
    config: PrepareConfig,
) -> _Prepared:
    """A frame aligned onto the grid's pixels (``grid_stars``: the grid frame's bright
    stars and their centroid noise), its background and stars measured there."""
    own = _own(img, config)
    xy, xy_sigma = bright_stars(own.stars, config.alignment_min_snr)
    grid_xy, grid_sigma = grid_stars
    alignment = align_reference(
        own.raw,
        own.masks.mask,
        img.wcs,
        xy,
        grid.wcs,
        grid_xy,
        grid.shape,
        config.align,
        reference_centroid_sigma=xy_sigma,
        science_centroid_sigma=grid_sigma,
        label=img.label,
        science_label=grid.label,
    )
    bkg = estimate_background(alignment.data, alignment.mask, config.background)
    data = np.where(alignment.mask, 0.0, alignment.data - bkg.level).astype(np.float32)
    stars = find_stars(
        data,
        bkg.rms,
        alignment.mask,
        saturation=own.saturation,
        threshold=config.star_threshold,
        config=config.psf,
    )
    return _Prepared(data, alignment.mask, stars, own.background.global_rms, own.saturation)


def _blur(data: np.ndarray, good: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of the good pixels only (normalised convolution); NaN where none."""
    if sigma_px <= 0.05:
        return np.where(good, data, np.nan).astype(np.float32)
    weight = ndimage.gaussian_filter(good.astype(np.float32), sigma_px, mode="constant")
    blurred = ndimage.gaussian_filter(
        np.where(good, data, 0.0).astype(np.float32), sigma_px, mode="constant"
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = blurred / weight
    return np.where(good & (weight > 0.5), out, np.nan).astype(np.float32)


def _rejections(
    frames: Sequence[_Prepared],
    flux_scales: Sequence[float],
    fwhms: Sequence[float],
    config: StackConfig,
) -> list[np.ndarray]:
    """Per frame, the pixels that depart from the other frames (see the module notes)."""
    n = len(frames)
    shape = frames[0].data.shape
    if n < 3 or config.reject_sigma <= 0:
        return [np.zeros(shape, bool) for _ in frames]
    worst = max(fwhms)
    blurred = np.empty((n, *shape), np.float32)
    noise = np.empty(n)
    for j, (frame, f, fwhm) in enumerate(zip(frames, flux_scales, fwhms, strict=True)):
        kernel = np.sqrt(max(worst**2 - fwhm**2, 0.0)) / _GAUSSIAN_FWHM
        blurred[j] = _blur(frame.data / f, ~frame.mask, kernel)
        # A Gaussian blur of width s shrinks white noise by sqrt(4π s²) (s ≥ ~1 px).
        noise[j] = frame.sigma / f / max(1.0, np.sqrt(4.0 * np.pi) * kernel)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nothing covers
        median = np.nanmedian(blurred, axis=0)
        scatter = _MAD_TO_SIGMA * np.nanmedian(np.abs(blurred - median), axis=0)
    rejected = []
    for j in range(n):
        with np.errstate(all="ignore"):
            allowed = config.reject_sigma * np.maximum(noise[j], scatter)
            allowed += config.reject_mismatch * np.abs(median)
            out = np.abs(blurred[j] - median) > allowed
        out &= np.isfinite(median) & np.isfinite(blurred[j])
        grow = max(1, int(round(fwhms[j])))
        rejected.append(ndimage.binary_dilation(out, iterations=grow) & ~frames[j].mask)
    return rejected


def _combine(
    method: str,
    data: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    psfs: Sequence[np.ndarray],
    sigmas: Sequence[float],
    flux_scales: Sequence[float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(image, variance, psf, coverage)`` of the masked frames, in the first frame's units.

    Weights ``w_j = F_j² / σ_j²``; ``c`` is the weight fraction of the frames covering a
    pixel. ``proper``: the proper coadd divided by ``c F_R`` (variance ``1 / (c F_R²)``);
    ``mean``: the inverse-variance weighted mean of ``M_j / F_j`` (variance ``1 / Σ w``
    over the covering frames, PSF the weighted mean PSF); ``median``: the median of
    ``M_j / F_j`` (variance ``π/2 · n / (Σ F_j/σ_j)²`` over the ``n`` covering frames, PSF
    the mean PSF).
    """
    weights = np.array([(f / s) ** 2 for f, s in zip(flux_scales, sigmas, strict=True)])
    covered = np.zeros(np.shape(data[0]), np.float64)
    coverage = np.zeros(np.shape(data[0]), np.int32)
    for w, mask in zip(weights, masks, strict=True):
        covered += np.where(mask, 0.0, w)
        coverage += ~mask
    uncovered = coverage == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "proper":
            coadd = proper_coadd(data, psfs, sigmas, flux_scales, masks)
            fraction = covered / weights.sum()
            image = coadd.image / (coadd.flux_scale * fraction)
            variance = 1.0 / (fraction * coadd.flux_scale**2)
            psf = coadd.psf
        elif method == "mean":
            total = np.zeros_like(covered)
            for d, mask, w, f in zip(data, masks, weights, flux_scales, strict=True):
                total += np.where(mask, 0.0, w * d / f)
            image, variance = total / covered, 1.0 / covered
            psf = np.sum([w * p / p.sum() for w, p in zip(weights, psfs, strict=True)], axis=0)
        elif method == "median":
            cube = np.stack(
                [
                    np.where(m, np.nan, d / f)
                    for d, m, f in zip(data, masks, flux_scales, strict=True)
                ]
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: nothing covers
                image = np.nanmedian(cube, axis=0)
            # the median of n normal values of σ s_j: π/2 · n / (Σ 1/s_j)²
            inverse = np.zeros_like(covered)
            for mask, f, sigma in zip(masks, flux_scales, sigmas, strict=True):
                inverse += np.where(mask, 0.0, f / sigma)
            variance = (np.pi / 2.0) * coverage / inverse**2
            psf = np.mean([p / p.sum() for p in psfs], axis=0)
        else:  # refused by StackConfig already
            raise ConfigurationError(f"stack method {method!r}", method=method)
    image = np.where(uncovered, np.nan, image).astype(np.float32)
    variance = np.where(uncovered, np.nan, variance).astype(np.float32)
    return image, variance, psf / psf.sum(), coverage


def _zero_point(images: Sequence[Image], flux_scales: Sequence[float]) -> float | None:
    """The grid's zero point from every input that has one: zp_j − 2.5 log10 F_j."""
    values = [
        img.meta.zero_point - 2.5 * float(np.log10(f))
        for img, f in zip(images, flux_scales, strict=True)
        if img.meta.zero_point is not None
    ]
    return float(np.median(values)) if values else None


def stack_frames(images: Sequence[Image], config: StackConfig = StackConfig()) -> Stack:
    """Stack frames of one field and band onto the first frame's grid (module notes).

    Raises
    ------
    ConfigurationError
        A method not in `STACK_METHODS`.
    IncompatibleImagesError
        Fewer than ``min_frames`` frames, a frame without a WCS, frames of different bands
        (the message names the file).
    InvalidImageError
        A frame that is empty or constant.
    AlignmentError, PSFError
        A frame that does not overlap the first or has too few stars (named).
    """
    _check_inputs(images, config)
    prep = config.prepare
    grid = images[0]
    own = _own(grid, prep)
    first = _Prepared(
        own.data, own.masks.mask, own.stars, own.background.global_rms, own.saturation
    )
    grid_stars = bright_stars(first.stars, prep.alignment_min_snr)
    frames = [first] + [_onto_grid(img, grid, grid_stars, prep) for img in images[1:]]
    psf_models = [
        measure_psf(f.data, f.stars, prep.psf, label=img.label)
        for f, img in zip(frames, images, strict=True)
    ]
    centre = ((grid.shape[1] - 1) / 2.0, (grid.shape[0] - 1) / 2.0)
    psfs = [model.at(*centre) for model in psf_models]
    fwhms = [psf_fwhm(p) for p in psfs]
    good = first.stars.psf_candidate
    flux_scales = [1.0]
    for frame, model, img in zip(frames[1:], psf_models[1:], images[1:], strict=True):
        ratio = measure_flux_ratio(
            first.data,
            frame.data,
            first.mask | frame.mask,
            first.stars.x[good],
            first.stars.y[good],
            science_psf=psf_models[0],
            reference_psf=model,
            science_sigma=first.sigma,
            reference_sigma=frame.sigma,
            label=f"{img.label} vs {grid.label}",
        )
        flux_scales.append(float(ratio.ratio))
    rejected = _rejections(frames, flux_scales, fwhms, config)
    masks = [f.mask | r for f, r in zip(frames, rejected, strict=True)]
    sigmas = [f.sigma for f in frames]
    weights = np.array([(f / s) ** 2 for f, s in zip(flux_scales, sigmas, strict=True)])
    image, variance, psf, coverage = _combine(
        config.method, [f.data for f in frames], masks, psfs, sigmas, flux_scales
    )
    share = weights / weights.sum()
    stacked = tuple(
        StackedFrame(
            label=img.label,
            name=img.meta.name,
            mjd=img.meta.mjd,
            fwhm_px=float(fwhm),
            sigma=float(frame.sigma),
            flux_scale=float(f),
            weight=float(w),
            rejected_px=int(r.sum()),
        )
        for img, frame, fwhm, f, w, r in zip(
            images, frames, fwhms, flux_scales, share, rejected, strict=True
        )
    )
    depth_gain = float(np.sqrt(weights.sum() / weights.max()))
    log.info("stack of %d frames: depth gain %.2f over the best frame", len(images), depth_gain)
    return Stack(
        image=image,
        variance=variance,
        psf=psf,
        mask=coverage == 0,
        exposure=coverage,
        wcs=grid.wcs,
        filter=next((img.meta.filter for img in images if img.meta.filter), None),
        gain=float(max(grid.meta.gain, 1e-6) * weights.sum() * first.sigma**2),
        saturation=float(max(f.saturation / s for f, s in zip(frames, flux_scales, strict=True))),
        zero_point=_zero_point(images, flux_scales),
        exptime=float(grid.meta.exptime),
        frames=stacked,
        depth_gain=depth_gain,
        method=config.method,
        outliers_rejected=len(images) >= 3 and config.reject_sigma > 0,
    )
