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
the header. Arrays and astropy objects in and out (`stack_files.write_stack` writes it).

Memory does not grow with N: frames may be given as loaders (called one at a time), each
aligned frame waits in a scratch folder on disk (`FrameSpill`, 6 bytes per pixel), the
rejection and the median work on bands of rows of all frames (`stack_combine`), and the
coadd's Fourier sums take one frame at a time (`ProperCoaddSum`). The result equals that
of the frames held together, pixel for pixel, whatever the band height.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.wcs import WCS

from astrid.difference.frame_spill import FrameSpill, SpilledFrame
from astrid.difference.stack_combine import combine_frames, reject_outliers
from astrid.errors import ConfigurationError, IncompatibleImagesError
from astrid.observations.image import Image
from astrid.observations.validate import check_usable
from astrid.preprocess.align import align_reference
from astrid.preprocess.background import estimate_background
from astrid.preprocess.pair import PrepareConfig, PreparedFrame, bright_stars, prepare_frame
from astrid.preprocess.photometric import measure_flux_ratio
from astrid.preprocess.psf import StarList, find_stars, measure_psf, psf_fwhm

__all__ = [
    "STACK_METHODS",
    "Stack",
    "StackConfig",
    "StackInput",
    "StackedFrame",
    "stack_frames",
]

log = logging.getLogger(__name__)

#: How frames can be combined (`StackConfig.method`).
STACK_METHODS = ("proper", "mean", "median")

#: A frame given as read, or a function that reads it when the stack gets to it.
StackInput = Image | Callable[[], Image]


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


def _check_frame(img: Image, band: str | None) -> None:
    """A frame that cannot join a stack of ``band`` (None: any), named."""
    if img.wcs is None:
        raise IncompatibleImagesError(f"{img.label}: no celestial WCS, cannot align it")
    if img.meta.filter and band and img.meta.filter != band:
        raise IncompatibleImagesError(
            f"{img.label}: band {img.meta.filter!r}, the others {band!r}: a stack is of one band",
            path=img.label,
        )
    check_usable(img, "coadd input")


def _check_inputs(images: Sequence[StackInput], config: StackConfig) -> None:
    """The count, and every frame already in memory (loaders are checked when called)."""
    if len(images) < config.min_frames:
        raise IncompatibleImagesError(
            f"coadd: {len(images)} frame(s) given; a stack needs at least {config.min_frames}",
            frames=len(images),
        )
    band = next((i.meta.filter for i in images if isinstance(i, Image) and i.meta.filter), None)
    for img in images:
        if isinstance(img, Image):
            _check_frame(img, band)


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


def _zero_point(inputs: Sequence[SpilledFrame]) -> float | None:
    """The grid's zero point from every input that has one: zp_j − 2.5 log10 F_j."""
    values = [
        i.zero_point - 2.5 * float(np.log10(i.flux_scale))
        for i in inputs
        if i.zero_point is not None
    ]
    return float(np.median(values)) if values else None


def _input(img: Image, frame: _Prepared, psf: np.ndarray, flux_scale: float) -> SpilledFrame:
    return SpilledFrame(
        label=img.label,
        name=img.meta.name,
        mjd=img.meta.mjd,
        zero_point=img.meta.zero_point,
        sigma=float(frame.sigma),
        saturation=float(frame.saturation),
        psf=psf,
        fwhm=float(psf_fwhm(psf)),
        flux_scale=flux_scale,
    )


def _spill_frames(
    images: Sequence[StackInput], grid: Image, spill: FrameSpill, prep: PrepareConfig
) -> tuple[list[SpilledFrame], str | None]:
    """Prepare every frame on the grid, one at a time, into ``spill``; the grid frame's
    pixels stay in memory (each frame's flux scale is measured against them)."""
    own = _own(grid, prep)
    first = _Prepared(
        own.data, own.masks.mask, own.stars, own.background.global_rms, own.saturation
    )
    del own
    grid_stars = bright_stars(first.stars, prep.alignment_min_snr)
    centre = ((grid.shape[1] - 1) / 2.0, (grid.shape[0] - 1) / 2.0)
    good = first.stars.psf_candidate
    first_model = measure_psf(first.data, first.stars, prep.psf, label=grid.label)
    inputs = [_input(grid, first, first_model.at(*centre), 1.0)]
    spill.put(0, "data", first.data)
    spill.put(0, "mask", first.mask)
    band = grid.meta.filter
    for j, item in enumerate(images[1:], start=1):
        if isinstance(item, Image):  # checked by `_check_inputs` already
            img = item
        else:
            img = item()
            _check_frame(img, band)
        band = band or img.meta.filter
        frame = _onto_grid(img, grid, grid_stars, prep)
        model = measure_psf(frame.data, frame.stars, prep.psf, label=img.label)
        ratio = measure_flux_ratio(
            first.data,
            frame.data,
            first.mask | frame.mask,
            first.stars.x[good],
            first.stars.y[good],
            science_psf=first_model,
            reference_psf=model,
            science_sigma=first.sigma,
            reference_sigma=frame.sigma,
            label=f"{img.label} vs {grid.label}",
        )
        inputs.append(_input(img, frame, model.at(*centre), float(ratio.ratio)))
        spill.put(j, "data", frame.data)
        spill.put(j, "mask", frame.mask)
        del img, frame
    return inputs, band


def stack_frames(
    images: Sequence[StackInput],
    config: StackConfig = StackConfig(),
    *,
    scratch: str | Path | None = None,
    band_rows: int | None = None,
) -> Stack:
    """Stack frames of one field and band onto the first frame's grid (module notes).

    Parameters
    ----------
    images : sequence of Image or of functions returning one
        The frames; a function is called when the stack gets to its frame, so only one
        frame is read at a time.
    config : StackConfig
    scratch : path, optional
        Folder for the aligned frames on disk (default: the system's temporary folder,
        ``TMPDIR``); about 6 bytes per pixel per frame, removed at the end.
    band_rows : int, optional
        Rows of all frames handled at once by the rejection and the median (default: as
        many as fit in `stack_combine.BAND_BYTES`); the result does not depend on it.

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
    if isinstance(images[0], Image):  # checked by `_check_inputs` already
        grid = images[0]
    else:
        grid = images[0]()
        _check_frame(grid, None)
    with tempfile.TemporaryDirectory(prefix="astrid-stack-", dir=scratch) as folder:
        spill = FrameSpill(Path(folder), grid.shape)
        inputs, band = _spill_frames(images, grid, spill, prep)
        rejected = reject_outliers(
            spill, inputs, config.reject_sigma, config.reject_mismatch, band_rows
        )
        image, variance, psf, coverage = combine_frames(config.method, spill, inputs, band_rows)
    weights = np.array([(i.flux_scale / i.sigma) ** 2 for i in inputs])
    share = weights / weights.sum()
    stacked = tuple(
        StackedFrame(
            label=i.label,
            name=i.name,
            mjd=i.mjd,
            fwhm_px=i.fwhm,
            sigma=i.sigma,
            flux_scale=i.flux_scale,
            weight=float(w),
            rejected_px=r,
        )
        for i, w, r in zip(inputs, share, rejected, strict=True)
    )
    depth_gain = float(np.sqrt(weights.sum() / weights.max()))
    log.info("stack of %d frames: depth gain %.2f over the best frame", len(inputs), depth_gain)
    return Stack(
        image=image,
        variance=variance,
        psf=psf,
        mask=coverage == 0,
        exposure=coverage,
        wcs=grid.wcs,
        filter=band,
        gain=float(max(grid.meta.gain, 1e-6) * weights.sum() * inputs[0].sigma ** 2),
        saturation=float(max(i.saturation / i.flux_scale for i in inputs)),
        zero_point=_zero_point(inputs),
        exptime=float(grid.meta.exptime),
        frames=stacked,
        depth_gain=depth_gain,
        method=config.method,
        outliers_rejected=len(inputs) >= 3 and config.reject_sigma > 0,
    )
