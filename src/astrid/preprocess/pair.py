"""Prepare a science/reference pair for differencing: masks, backgrounds, stars, alignment,
photometric scaling and PSFs, all on the science pixel grid.

This is the preprocess stage as one pure function: two `Image` objects in, a
`PreparedPair` out. Nothing here touches files or the catalog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from astropy.stats import SigmaClip
from photutils.background import Background2D, MeanBackground
from scipy import ndimage

from astrid.errors import CalibrationError, IncompatibleImagesError
from astrid.observations.image import Image
from astrid.observations.validate import check_usable
from astrid.preprocess.align import AlignConfig, Alignment, align_reference
from astrid.preprocess.background import BackgroundConfig, estimate_background
from astrid.preprocess.masks import MaskConfig, build_mask
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

__all__ = ["PrepareConfig", "PreparedPair", "bright_stars", "prepare_pair"]

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
    busy = ndimage.binary_dilation(ndimage.binary_opening(busy), iterations=4)
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
    return np.asarray(bkg.background, dtype=np.float32)


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
    reference: Image,
    config: PrepareConfig = PrepareConfig(),
    *,
    catalogue: PhotometricCatalogue | None = None,
) -> PreparedPair:
    """Mask, background-subtract, align and characterise a science/reference pair.

    Parameters
    ----------
    science, reference : Image
        Images as read from disk (background included), each with a celestial WCS.
    config : PrepareConfig
        Settings of every step.
    catalogue : PhotometricCatalogue, optional
        Reference stars to calibrate the science frame's zero point against
        (`astrid.preprocess.zero_point`); a frame it cannot calibrate keeps its header's.

    Raises
    ------
    IncompatibleImagesError
        When an image lacks a WCS.
    InvalidImageError
        When either image is empty or constant (no signal); the message names that file.
    AlignmentError, PSFError
        When too few stars exist to align, scale or model the PSF.
    """
    if science.wcs is None or reference.wcs is None:
        missing = science.label if science.wcs is None else reference.label
        raise IncompatibleImagesError(f"{missing}: no celestial WCS, cannot align the pair")
    check_usable(science, "science")
    check_usable(reference, "reference")
    watch = Stopwatch()
    masks = {}
    bkg = {}
    sub = {}
    raw = {}
    for role, img in (("science", science), ("reference", reference)):
        m = build_mask(img, config.masks)
        masks[role] = m
        watch.lap("masks")
        b = estimate_background(m.cleaned, m.mask, config.background)
        bkg[role] = b
        watch.lap("background")
        raw[role] = (m.cleaned - b.level).astype(np.float32)
        sub[role] = np.where(m.mask, 0.0, raw[role]).astype(np.float32)

    sci_stars = find_stars(
        sub["science"],
        bkg["science"].rms,
        masks["science"].mask,
        saturation=science.meta.saturation - bkg["science"].global_level,
        threshold=config.star_threshold,
        config=config.psf,
    )
    ref_stars = find_stars(
        sub["reference"],
        bkg["reference"].rms,
        masks["reference"].mask,
        saturation=reference.meta.saturation - bkg["reference"].global_level,
        threshold=config.star_threshold,
        config=config.psf,
    )
    watch.lap("stars")
    ref_xy, ref_centroid_sigma = bright_stars(ref_stars, config.alignment_min_snr)
    sci_xy, sci_centroid_sigma = bright_stars(sci_stars, config.alignment_min_snr)
    alignment = align_reference(
        raw["reference"],
        masks["reference"].mask,
        reference.wcs,
        ref_xy,
        science.wcs,
        sci_xy,
        science.shape,
        config.align,
        reference_centroid_sigma=ref_centroid_sigma,
        science_centroid_sigma=sci_centroid_sigma,
        label=reference.label,
        science_label=science.label,
    )
    ref_aligned = alignment.data
    footprint = ~alignment.mask
    mask = masks["science"].mask | alignment.mask
    sigma_n = bkg["science"].global_rms
    sigma_r = bkg["reference"].global_rms
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
        saturation=reference.meta.saturation - bkg["reference"].global_level,
        threshold=config.star_threshold,
        config=config.psf,
    )
    watch.lap("stars")
    science_psf = measure_psf(sub["science"], sci_stars, config.psf, label=science.label)
    # Reference PSF stars: good in both images, so saturation in either excludes them.
    reference_psf = measure_psf(ref_aligned, ref_stars_aligned, config.psf, label=reference.label)
    watch.lap("psf")
    good = sci_stars.psf_candidate
    ratio = measure_flux_ratio(
        sub["science"],
        ref_aligned,
        mask,
        sci_stars.x[good],
        sci_stars.y[good],
        science_psf=science_psf,
        reference_psf=reference_psf,
        science_sigma=sigma_n,
        reference_sigma=ref_bkg_aligned.global_rms,
        label=f"{science.label} vs {reference.label}",
    )
    # Backgrounds estimated separately leave a smooth offset between the images (faint
    # sources are masked differently at different depths); take it out of the science
    # background so that the difference of empty sky is zero.
    offset = _background_offset(
        sub["science"], ref_aligned / ratio.ratio, mask, sigma_n, config.background
    )
    sub["science"] = np.where(mask, 0.0, sub["science"] - offset).astype(np.float32)
    gain_n = max(science.meta.gain, 1e-6)
    gain_r = max(reference.meta.gain, 1e-6)
    # Where pixels were masked, what was thrown away is unknown: its square joins the
    # variance, so S_corr stays quiet around saturated cores instead of ringing.
    watch.lap("photometric_scaling")
    lost_n = np.where(masks["science"].mask, raw["science"], 0.0) ** 2
    science_var = (
        bkg["science"].rms ** 2 + np.clip(sub["science"], 0, None) / gain_n + lost_n
    ).astype(np.float32)
    reference_var = (
        sigma_r**2 + np.clip(ref_aligned, 0, None) / gain_r + alignment.lost_variance
    ).astype(np.float32)
    watch.lap("noise_model")
    calibration = None
    if catalogue is not None:
        calibration = _catalogue_zero_point(
            science,
            sub["science"],
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
    elif zero_point is None and reference.meta.zero_point is not None:
        # mag = zp_ref - 2.5 log10(F_r f_sci): the science zero point follows from F_r.
        zero_point = reference.meta.zero_point - 2.5 * float(np.log10(ratio.ratio))
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
        "science_cosmic_ray_pixels": float(masks["science"].cosmic_rays.sum()),
        "science_saturated_pixels": float(masks["science"].saturated.sum()),
        "science_bad_column_pixels": float(masks["science"].bad_columns.sum()),
        "science_streaks": float(len(masks["science"].streak_lines)),
        "science_streak_pixels": float(masks["science"].n_streaks),
        "reference_streaks": float(len(masks["reference"].streak_lines)),
        "reference_streak_pixels": float(masks["reference"].n_streaks),
        **({} if calibration is None else calibration.as_stats()),
    }
    log.info(
        "prepared %s vs %s: %d stars matched, residual %.3f/%.3f px, F_r=%.4f",
        science.label,
        reference.label,
        alignment.n_matched,
        *alignment.residual_rms,
        ratio.ratio,
    )
    return PreparedPair(
        science_image=science,
        science=sub["science"],
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
