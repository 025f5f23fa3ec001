"""Which frames to stack into references: grouped by band and field, ranked by depth.

`astrid references build` starts from a heap of science frames. They are grouped by band,
then by field: a frame joins the first group whose first frame covers at least half of
it (`astrid.observations.validate.overlap_fraction`), else it starts a group.

In a group every frame is measured cheaply, on at most its central 1024² (`frame_quality`):
the sky noise σ (sep's mesh), the seeing (the lower quartile of 2.355·√(a·b) over the
brighter half of the clean 10σ sources: stars are the most compact of them), and the sky
positions and total fluxes (in a circle of 2.5 FWHM, so whatever the seeing) of those
sources. Its transparency is the median flux ratio of the sources it shares with the
group's frame that has the most of them (matched on the sky within 1″), so thin cloud
reads as a transparency below 1. A point source's S/N in a background-limited frame goes
as transparency / (σ · FWHM), its *depth score*; `select_frames` leaves out frames under
half the best transparency (clouds), frames over twice the best seeing, frames taken after
``before`` (they may hold the transient a later frame shows), and then
keeps the ``max_frames`` deepest, deepest first (its grid becomes the stack's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sep
from astropy.coordinates import SkyCoord

from astrid.errors import InvalidImageError
from astrid.observations.image import Image
from astrid.observations.validate import overlap_fraction

__all__ = [
    "FrameQuality",
    "Selection",
    "after_date",
    "frame_quality",
    "group_frames",
    "select_frames",
]

#: A frame joins a group whose first frame covers at least this share of it.
MIN_GROUP_OVERLAP = 0.5
#: Frames with less than this share of the best transparency are cloudy.
MIN_TRANSPARENCY = 0.5
#: Frames with a FWHM over this multiple of the best one are left out.
MAX_SEEING_RATIO = 2.0
_MATCH_ARCSEC = 1.0
_CROP = 1024


@dataclass(frozen=True)
class FrameQuality:
    """What `frame_quality` measured on one frame."""

    fwhm_px: float
    sigma: float
    ra: np.ndarray  # bright, clean sources (deg)
    dec: np.ndarray
    flux: np.ndarray


@dataclass(frozen=True)
class Selection:
    """One frame's place in its group: ``kept`` (and its rank), or why it was left out."""

    index: int  # in the frames given to `select_frames`
    quality: FrameQuality
    transparency: float
    depth: float  # transparency / (σ · FWHM), relative within the group
    kept: bool
    reason: str  # "" when kept


def frame_quality(image: Image) -> FrameQuality:
    """Seeing, noise and bright sources of the central 1024² of ``image``.

    Raises
    ------
    InvalidImageError
        When the frame has no celestial WCS, no noise, or fewer than 3 clean sources (the
        message names the frame).
    """
    if image.wcs is None or not image.wcs.has_celestial:
        raise InvalidImageError(f"{image.label}: no celestial WCS", path=image.label)
    ny, nx = image.shape
    y0, x0 = max(0, (ny - _CROP) // 2), max(0, (nx - _CROP) // 2)
    box = (slice(y0, y0 + min(ny, _CROP)), slice(x0, x0 + min(nx, _CROP)))
    data = np.asarray(image.data[box], dtype=np.float32)
    mask = np.asarray(image.mask[box], dtype=bool) | ~np.isfinite(data)
    data = np.ascontiguousarray(np.where(mask, 0.0, data), dtype=np.float32)
    background = sep.Background(data, mask=mask)
    sigma = float(background.globalrms)
    if not np.isfinite(sigma) or sigma <= 0:
        raise InvalidImageError(f"{image.label}: the sky noise is not positive", path=image.label)
    residual = data - background.back()
    try:
        objects = sep.extract(residual, 10.0, err=sigma, mask=mask, minarea=5)
    except Exception as e:  # sep's buffer limits on a pathological frame
        raise InvalidImageError(f"{image.label}: source extraction failed ({e})") from e
    saturation = image.meta.saturation
    clean = (objects["flag"] == 0) & (objects["b"] > 0)
    if np.isfinite(saturation):
        clean &= objects["peak"] < 0.5 * (saturation - float(background.globalback))
    objects = objects[clean]
    if len(objects) < 3:
        raise InvalidImageError(
            f"{image.label}: fewer than 3 clean sources to measure the seeing from",
            path=image.label,
        )
    # the brighter half; stars are its most compact members, galaxies the wider ones
    top = objects[objects["flux"] >= np.median(objects["flux"])]
    widths = 2.0 * np.sqrt(2.0 * np.log(2.0)) * np.sqrt(top["a"] * top["b"])
    fwhm = float(np.quantile(widths, 0.25))
    # total fluxes, whatever the seeing: a circle of 2.5 FWHM holds all of a star's light
    flux, _, _ = sep.sum_circle(
        residual, objects["x"], objects["y"], 2.5 * fwhm, err=sigma, mask=mask
    )
    sky = image.wcs.celestial.pixel_to_world(objects["x"] + x0, objects["y"] + y0)
    return FrameQuality(
        fwhm_px=fwhm,
        sigma=sigma,
        ra=np.asarray(sky.ra.deg, float),
        dec=np.asarray(sky.dec.deg, float),
        flux=np.asarray(flux, float),
    )


def after_date(image: Image, before: float | None) -> str:
    """Why ``image`` is not taken before MJD ``before`` ("" when it is, or no date is set):
    a frame without ``MJD-OBS`` cannot be shown to be."""
    mjd = image.meta.mjd
    if before is None or (mjd is not None and mjd < before):
        return ""
    when = "no MJD-OBS" if mjd is None else f"MJD {mjd:.4f}"
    return f"{when}, not before MJD {before}"


def group_frames(images: Sequence[Image]) -> list[list[int]]:
    """Indices of ``images`` grouped by band, then by field (module notes), in input order.

    Raises
    ------
    InvalidImageError
        A frame without a celestial WCS (named).
    """
    groups: list[list[int]] = []
    for i, image in enumerate(images):
        if image.wcs is None or not image.wcs.has_celestial:
            raise InvalidImageError(f"{image.label}: no celestial WCS", path=image.label)
        for group in groups:
            first = images[group[0]]
            if first.meta.filter != image.meta.filter:
                continue
            assert first.wcs is not None
            share = overlap_fraction(image.wcs, image.shape, first.wcs, first.shape)
            if share >= MIN_GROUP_OVERLAP:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _transparency(quality: FrameQuality, anchor: FrameQuality) -> float:
    """Median flux ratio of the sources ``quality`` shares with ``anchor`` (NaN: none)."""
    if len(quality.ra) == 0 or len(anchor.ra) == 0:
        return float("nan")
    mine = SkyCoord(quality.ra, quality.dec, unit="deg")
    theirs = SkyCoord(anchor.ra, anchor.dec, unit="deg")
    index, separation, _ = mine.match_to_catalog_sky(theirs)
    close = separation.arcsec < _MATCH_ARCSEC
    if close.sum() < 3:
        return float("nan")
    return float(np.median(quality.flux[close] / anchor.flux[index[close]]))


def select_frames(
    images: Sequence[Image],
    qualities: Sequence[FrameQuality],
    *,
    max_frames: int,
    before: float | None = None,
) -> list[Selection]:
    """Rank the frames of one group (module notes): kept ones first, deepest first."""
    anchor = max(qualities, key=lambda q: len(q.ra))
    transparency = np.array([_transparency(q, anchor) for q in qualities])
    usable = np.isfinite(transparency) & (transparency > 0)
    best_t = float(np.max(transparency[usable])) if usable.any() else float("nan")
    fwhm = np.array([q.fwhm_px for q in qualities])
    best_fwhm = float(np.min(fwhm))
    depth = np.where(usable, transparency / np.array([q.sigma for q in qualities]) / fwhm, 0.0)
    if usable.any():
        depth = depth / float(np.max(depth))
    reasons = []
    for i, image in enumerate(images):
        late = after_date(image, before)
        if late:
            reasons.append(late)
        elif not usable[i]:
            reasons.append("fewer than 3 sources shared with the others")
        elif transparency[i] < MIN_TRANSPARENCY * best_t:
            reasons.append(f"clouds: transparency {transparency[i] / best_t:.2f} of the best")
        elif fwhm[i] > MAX_SEEING_RATIO * best_fwhm:
            reasons.append(f"seeing: FWHM {fwhm[i]:.2f} px, the best {best_fwhm:.2f} px")
        else:
            reasons.append("")
    order = sorted(range(len(images)), key=lambda i: (reasons[i] != "", -depth[i]))
    kept = 0
    ranked = []
    for i in order:
        reason = reasons[i]
        if not reason and kept >= max_frames:
            reason = f"not among the {max_frames} deepest"
        kept += not reason
        ranked.append(
            Selection(i, qualities[i], float(transparency[i]), float(depth[i]), not reason, reason)
        )
    return ranked
