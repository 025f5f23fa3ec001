"""Prepare a science/reference pair for differencing: masks, backgrounds, stars, alignment,
photometric scaling and PSFs, all on the science pixel grid.

This is the preprocess stage as one pure function: two `Image` objects in, a
`PreparedPair` out. What a pair needs of each image that does not depend on the other
(masks, background, stars on its own grid) is `prepare_frame`'s: a reference used by many
science frames can be prepared once and passed in its place. Nothing here touches files or
the catalog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
from astropy.stats import SigmaClip
from astropy.wcs.utils import proj_plane_pixel_area
from photutils.background import Background2D, MeanBackground

from astrid.errors import CalibrationError, IncompatibleImagesError
from astrid.observations.image import Image
from astrid.observations.validate import check_usable
from astrid.preprocess.align import AlignConfig, Alignment, align_reference
from astrid.preprocess.background import (
    Background,
    BackgroundConfig,
    estimate_background,
    upsample_mesh,
)
from astrid.preprocess.masks import MaskConfig, MaskResult, build_mask
from astrid.preprocess.morphology import dilate, open_cross
from astrid.preprocess.photometric import FluxRatio, measure_flux_ratio
from astrid.preprocess.psf import PSFConfig, PSFModel, StarList, find_stars, measure_psf
from astrid.preprocess.zero_point import (
    PhotometricCatalogue,
    ZeroPoint,
    ZeroPointConfig,
    band_of,
    calibrate_zero_point,
)
from astrid.timing import Stopwatch

__all__ = [
    "PrepareConfig",
    "PreparedFrame",
    "PreparedPair",
    "bright_stars",
    "prepare_frame",
    "prepare_pair",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of every preprocessing step."""

    masks: MaskConfig = field(default_factory=MaskConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    psf: PSFConfig = field(default_factory=PSFConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    zero_point: ZeroPointConfig = field(default_factory=ZeroPointConfig)
    star_threshold: float = 5.0
    alignment_min_snr: float = 20.0


@dataclass(frozen=True, eq=False)
class PreparedFrame:
    """One image prepared on its own pixel grid (`prepare_frame`).

    Attributes
    ----------
    image : Image
        The image as read.
    masks : MaskResult
        Its masks (and the data with cosmic rays interpolated).
    background : Background
        Its background level and noise.
    raw : ndarray
        The cleaned data minus the background (float32).
    data : ndarray
        ``raw`` with masked pixels set to 0.
    stars : StarList
        Sources found on ``data``, PSF stars flagged.
    saturation : float
        The saturation level above the background.
    seconds : dict
        Seconds spent per step (``masks``, ``background``, ``stars``).
    """

    image: Image
    masks: MaskResult
    background: Background
    raw: np.ndarray
    data: np.ndarray
    stars: StarList
    saturation: float
    seconds: dict[str, float]


def prepare_frame(
    image: Image, config: PrepareConfig = PrepareConfig(), *, role: str = "image"
) -> PreparedFrame:
    """Mask, background-subtract and find the stars of one image on its own grid.

    A stack whose single-frame outliers were rejected (an AstrID stack: ``IMAGETYP =
    'REFERENCE'`` and ``REJECT = T``, `astrid.difference.stack_files`) is not searched for
    cosmic rays: its inputs were, each, and what one frame alone holds was rejected; on a
    deep, sharp stack L.A.Cosmic would only cost time (~10 s at 4096²) and risk star cores.

    Raises
    ------
    InvalidImageError
        When the image is empty or constant (no signal); the message names its file and
        its ``role`` (``"science"``, ``"reference"``).
    """
    check_usable(image, role)
    watch = Stopwatch()
    settings = config.masks
    if image.header.get("IMAGETYP") == "REFERENCE" and image.header.get("REJECT") is True:
        settings = replace(settings, cosmic_rays=False)
    masks = build_mask(image, settings)
    watch.lap("masks")
    background = estimate_background(masks.cleaned, masks.mask, config.background)
    raw = (masks.cleaned - background.level).astype(np.float32)
    data = np.where(masks.mask, 0.0, raw).astype(np.float32)
    watch.lap("background")
    saturation = image.meta.saturation - background.global_level
    stars = find_stars(
        data,
        background.rms,
        masks.mask,
        saturation=saturation,
        threshold=config.star_threshold,
        config=config.psf,
    )
    watch.lap("stars")
    return PreparedFrame(image, masks, background, raw, data, stars, saturation, watch.seconds)


@dataclass(frozen=True, eq=False)
class PreparedPair:
    """Everything ZOGY and candidate measurement need, on the science grid.

    Attributes
    ----------
    science, reference : ndarray
        Background-subtracted science and aligned reference (each in its own units).
    science_var, reference_var : ndarray
        Per-pixel variance incl. source noise.
    science_sigma, reference_sigma : float
        Background noise (1σ) of each image before any resampling.
    mask : ndarray of bool
        Bad in either image or outside the reference footprint.
    footprint : ndarray of bool
        True where the reference covers the science image.
    flux_ratio : FluxRatio
        Reference / science flux ratio.
    science_psf, reference_psf : PSFModel
        Spatially varying PSFs (the reference one measured after resampling).
    alignment : Alignment
        Registration residuals (the resampled data are in ``reference``).
    reference_sources_xy : ndarray
        ``(n, 2)`` positions of sources detected on the aligned reference (science pixels).
    zero_point : float or None
        Science zero point (AB mag of 1 unit of flux): from the photometric catalogue when
        one is given and calibrates the frame, else from the science header, else from the
        reference's header through F_r.
    zero_point_source : str or None
        Where it came from: ``"catalogue"``, ``"header"``, ``"reference header"``.
    calibration : ZeroPoint or None
        The catalogue calibration (error, stars, colour term) when it was made.
    stats : dict
        Numbers worth recording (noise, star counts, residuals, masked fractions).
    """

    science_image: Image
    science: np.ndarray
    reference: np.ndarray
    science_var: np.ndarray
    reference_var: np.ndarray
    science_sigma: float
    reference_sigma: float
    mask: np.ndarray
    footprint: np.ndarray
    flux_ratio: FluxRatio
    science_psf: PSFModel
    reference_psf: PSFModel
    alignment: Alignment
    reference_sources_xy: np.ndarray
    zero_point: float | None
    zero_point_source: str | None
    calibration: ZeroPoint | None
    stats: dict[str, float]


def bright_stars(stars: StarList, min_snr: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions of stars above `min_snr`, brightest first, and their centroid noise."""
    snr = stars.flux / np.maximum(stars.flux_err, 1e-30)
    keep = np.flatnonzero(snr > min_snr)
    keep = keep[np.argsort(-stars.flux[keep])]
    # Background-limited centroid error of a Gaussian-like profile: √2 σ_psf / SNR.
    sigma = np.sqrt(2.0 * stars.a[keep] * stars.b[keep]) / snr[keep]
    return np.column_stack([stars.x[keep], stars.y[keep]]), sigma


def _background_offset(
    science: np.ndarray,
    reference_scaled: np.ndarray,
    mask: np.ndarray,
    sigma: float,
    config: BackgroundConfig,
) -> np.ndarray:
    """Smooth map of the median of science − reference/F_r over empty sky.

    The median (not SExtractor's mode) is used on purpose: what must vanish is the typical
    difference, and the difference of two frames with partly shared noise is skewed.
    """
    busy = (np.abs(science) > 2.5 * sigma) | (np.abs(reference_scaled) > 2.5 * sigma)
    busy = dilate(open_cross(busy), iterations=4)
    residual = science - reference_scaled
    box = int(min(2 * config.box_size, max(16, min(science.shape) // 4)))
    bkg = Background2D(
        residual,
        box,
        filter_size=3,
        mask=busy | mask,
        bkg_estimator=MeanBackground(),
        sigma_clip=SigmaClip(sigma=3.0),
        exclude_percentile=90.0,
    )
    return upsample_mesh(np.asarray(bkg.background_mesh, dtype=np.float64), box, science.shape)


def _catalogue_zero_point(
    science: Image,
    data: np.ndarray,
    mask: np.ndarray,
    psf: PSFModel,
    stars: StarList,
    noise: float,
    catalogue: PhotometricCatalogue,
    config: ZeroPointConfig,
) -> ZeroPoint | None:
    """The catalogue zero point of the science frame, or None (with a warning) when the
    frame's band is another or too few stars match: the run goes on without it."""
    assert science.wcs is not None
    band = band_of(science.meta.filter)
    try:
        if band is not None and band != catalogue.band:
            raise CalibrationError(
                f"{science.label}: its filter {science.meta.filter!r} is band {band}, "
                f"the catalogue {catalogue.name} gives band {catalogue.band}"
            )
        return calibrate_zero_point(
            data, mask, psf, stars, science.wcs, noise, catalogue, config, label=science.label
        )
    except CalibrationError as e:
        log.warning("no catalogue zero point: %s", e)
        return None


def prepare_pair(
    science: Image,
    reference: Image | PreparedFrame,
    config: PrepareConfig = PrepareConfig(),
    *,
    catalogue: PhotometricCatalogue | None = None,
    science_frame: PreparedFrame | None = None,
) -> PreparedPair:
    """Mask, background-subtract, align and characterise a science/reference pair.

    Parameters
    ----------
    science : Image
        The science image as read from disk (background included), with a celestial WCS.
    reference : Image or PreparedFrame
        The reference likewise, or its own preparation (`prepare_frame` with the same
        ``config``) when it serves many science frames: the result is the same, without
        masking it, subtracting its background and finding its stars again.
    config : PrepareConfig
        Settings of every step.
    catalogue : PhotometricCatalogue, optional
        Reference stars to calibrate the science frame's zero point against
        (`astrid.preprocess.zero_point`); a frame it cannot calibrate keeps its header's.
    science_frame : PreparedFrame, optional
        ``science`` already prepared (`prepare_frame` with the same ``config``), when that
        was done beside the reference's preparation.

    Raises
    ------
    IncompatibleImagesError
        When an image lacks a WCS.
    InvalidImageError
        When either image is empty or constant (no signal); the message names that file.
    AlignmentError, PSFError
        When too few stars exist to align, scale or model the PSF.
    """
    ref_image = reference.image if isinstance(reference, PreparedFrame) else reference
    if science.wcs is None or ref_image.wcs is None:
        missing = science.label if science.wcs is None else ref_image.label
        raise IncompatibleImagesError(f"{missing}: no celestial WCS, cannot align the pair")
    sci = (
        science_frame
        if science_frame is not None and science_frame.image is science
        else prepare_frame(science, config, role="science")
    )
    ref = (
        reference
        if isinstance(reference, PreparedFrame)
        else prepare_frame(reference, config, role="reference")
    )
    watch = Stopwatch()
    for spent in (sci.seconds, {} if isinstance(reference, PreparedFrame) else ref.seconds):
        for step, seconds in spent.items():
            watch.seconds[step] = watch.seconds.get(step, 0.0) + seconds
    sci_stars, ref_stars = sci.stars, ref.stars
    science_data = sci.data
    ref_xy, ref_centroid_sigma = bright_stars(ref_stars, config.alignment_min_snr)
    sci_xy, sci_centroid_sigma = bright_stars(sci_stars, config.alignment_min_snr)
    alignment = align_reference(
        ref.raw,
        ref.masks.mask,
        ref_image.wcs,
        ref_xy,
        science.wcs,
        sci_xy,
        science.shape,
        config.align,
        reference_centroid_sigma=ref_centroid_sigma,
        science_centroid_sigma=sci_centroid_sigma,
        label=ref_image.label,
        science_label=science.label,
    )
    ref_aligned = alignment.data
    footprint = ~alignment.mask
    mask = sci.masks.mask | alignment.mask
    sigma_n = sci.background.global_rms
    sigma_r = ref.background.global_rms
    # Stars on the aligned reference, measured against its own (resampled) noise.
    watch.lap("align")
    ref_bkg_aligned = estimate_background(ref_aligned, alignment.mask, config.background)
    ref_aligned = np.where(alignment.mask, 0.0, ref_aligned - ref_bkg_aligned.level).astype(
        np.float32
    )
    ref_stars_aligned = find_stars(
        ref_aligned,
        ref_bkg_aligned.rms,
        mask,
        saturation=ref_image.meta.saturation - ref.background.global_level,
        threshold=config.star_threshold,
        config=config.psf,
    )
    watch.lap("stars")
    science_psf = measure_psf(science_data, sci_stars, config.psf, label=science.label)
    # Reference PSF stars: good in both images, so saturation in either excludes them.
    reference_psf = measure_psf(ref_aligned, ref_stars_aligned, config.psf, label=ref_image.label)
    watch.lap("psf")
    good = sci_stars.psf_candidate
    ratio = measure_flux_ratio(
        science_data,
        ref_aligned,
        mask,
        sci_stars.x[good],
        sci_stars.y[good],
        science_psf=science_psf,
        reference_psf=reference_psf,
        science_sigma=sigma_n,
        reference_sigma=ref_bkg_aligned.global_rms,
        label=f"{science.label} vs {ref_image.label}",
    )
    # Backgrounds estimated separately leave a smooth offset between the images (faint
    # sources are masked differently at different depths); take it out of the science
    # background so that the difference of empty sky is zero.
    offset = _background_offset(
        science_data, ref_aligned / ratio.ratio, mask, sigma_n, config.background
    )
    science_data = np.where(mask, 0.0, science_data - offset).astype(np.float32)
    gain_n = max(science.meta.gain, 1e-6)
    gain_r = max(ref_image.meta.gain, 1e-6)
    # Where pixels were masked, what was thrown away is unknown: its square joins the
    # variance, so S_corr stays quiet around saturated cores instead of ringing.
    watch.lap("photometric_scaling")
    lost_n = np.where(sci.masks.mask, sci.raw, 0.0) ** 2
    science_var = (sci.background.rms**2 + np.clip(science_data, 0, None) / gain_n + lost_n).astype(
        np.float32
    )
    reference_var = (
        sigma_r**2 + np.clip(ref_aligned, 0, None) / gain_r + alignment.lost_variance
    ).astype(np.float32)
    watch.lap("noise_model")
    calibration = None
    if catalogue is not None:
        calibration = _catalogue_zero_point(
            science,
            science_data,
            mask,
            science_psf,
            sci_stars,
            sigma_n,
            catalogue,
            config.zero_point,
        )
    zero_point, zero_point_source = science.meta.zero_point, "header"
    if calibration is not None:
        zero_point, zero_point_source = calibration.value, "catalogue"
    elif zero_point is None and ref_image.meta.zero_point is not None:
        # mag = zp_ref - 2.5 log10(F_r f_sci A): the science zero point follows from F_r,
        # and from A, the area of a science pixel in reference pixels: resampling keeps a
        # source's surface brightness, so on the science grid its flux is the reference's / A.
        area = proj_plane_pixel_area(science.wcs.celestial) / proj_plane_pixel_area(
            ref_image.wcs.celestial
        )
        zero_point = ref_image.meta.zero_point - 2.5 * float(np.log10(ratio.ratio * area))
        zero_point_source = "reference header"
    watch.lap("zero_point")
    stats = {
        **watch.as_stats(),
        "science_sigma": sigma_n,
        "reference_sigma": sigma_r,
        "reference_sigma_resampled": ref_bkg_aligned.global_rms,
        "flux_ratio": ratio.ratio,
        "flux_ratio_error": ratio.error,
        "flux_ratio_stars": float(ratio.n_stars),
        "background_offset_rms": float(np.std(offset)),
        "background_offset_mean": float(np.mean(offset)),
        "align_matched": float(alignment.n_matched),
        "align_rms_x": alignment.residual_rms[0],
        "align_rms_y": alignment.residual_rms[1],
        "align_rms_bright_x": alignment.residual_rms_bright[0],
        "align_rms_bright_y": alignment.residual_rms_bright[1],
        "align_local_error_x": alignment.local_error[0],
        "align_local_error_y": alignment.local_error[1],
        "align_error_x": alignment.registration_error[0],
        "align_error_y": alignment.registration_error[1],
        "science_psf_stars": float(science_psf.n_stars),
        "reference_psf_stars": float(reference_psf.n_stars),
        "science_fwhm": science_psf.fwhm_at(science.shape[1] / 2, science.shape[0] / 2),
        "reference_fwhm": reference_psf.fwhm_at(science.shape[1] / 2, science.shape[0] / 2),
        "masked_fraction": float(mask.mean()),
        "science_cosmic_ray_pixels": float(sci.masks.cosmic_rays.sum()),
        "science_saturated_pixels": float(sci.masks.saturated.sum()),
        "science_bad_column_pixels": float(sci.masks.bad_columns.sum()),
        "science_streaks": float(len(sci.masks.streak_lines)),
        "science_streak_pixels": float(sci.masks.n_streaks),
        "reference_streaks": float(len(ref.masks.streak_lines)),
        "reference_streak_pixels": float(ref.masks.n_streaks),
        **({} if calibration is None else calibration.as_stats()),
    }
    log.info(
        "prepared %s vs %s: %d stars matched, residual %.3f/%.3f px, F_r=%.4f",
        science.label,
        ref_image.label,
        alignment.n_matched,
        *alignment.residual_rms,
        ratio.ratio,
    )
    return PreparedPair(
        science_image=science,
        science=science_data,
        reference=ref_aligned,
        science_var=science_var,
        reference_var=reference_var,
        science_sigma=sigma_n,
        reference_sigma=sigma_r,
        mask=mask,
        footprint=footprint,
        flux_ratio=ratio,
        science_psf=science_psf,
        reference_psf=reference_psf,
        alignment=alignment,
        reference_sources_xy=np.column_stack([ref_stars_aligned.x, ref_stars_aligned.y]),
        zero_point=zero_point,
        zero_point_source=None if zero_point is None else zero_point_source,
        calibration=calibration,
        stats=stats,
    )
