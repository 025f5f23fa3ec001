"""Cosmic rays and hot pixels by L.A.Cosmic (``astroscrappy``), safe on undersampled images.

L.A.Cosmic tells a cosmic ray from a star by the contrast between its Laplacian and a
fine-structure image (``objlim``): a hit is sharper than any point source. That holds only
while the PSF is resolved. Below a FWHM of about 2 px a star's core is as sharp as a hit:
at the usual ``objlim`` of 5 most bright stars of a 1.4 px image and every one of a
1.2 px image are flagged (measured on simulated fields), the stars are masked and the frame
loses its PSF stars, its photometric scaling and its transients.

So the limit is checked against the image's own stars: after the run at the configured
limit, the bright, round sources of the image (`bright_sources`) are looked at; when more
than `MAX_STARS_FLAGGED` of them carry a flagged pixel, the limit is raised by steps of
×1.5 on the central 1024² until they do not, and the whole image is run again at that
limit (`find_cosmic_rays`). A well-sampled image costs one source extraction and nothing
else. The price on undersampled images is physical, not a choice: a faint hit no sharper
than a star cannot be told from one in a single exposure, so fewer faint hits are found.
Even at that limit a fainter star or transient (SNR 10-40) is still flagged often: at 1.2 px
31 % of bright transients were lost. So on an image that needed a raised limit, a flagged
group is kept as a hit only when it does not look like a point source: one that is compact
(≤ 9 px), round (second-moment elongation < 2) and whose brightest pixel has neighbours
(their mean ≥ 10 % of it; a one-pixel hit or a hot pixel has none, a star of FWHM 1 px has
13-40 %) is left unmasked, for the real/bogus model to judge (it is trained on unmasked hits:
``cosmic_ray``, ``hot_pixel``). Tracks and single hot pixels stay masked.
When no limit up to ×1.5⁶ spares the stars (a star's fine-structure image vanishes and its
contrast is unbounded), no sharpness test is run at all; the limit reported is then ``inf``.

L.A.Cosmic runs only where a hit can be (`hit_windows`). A pixel is flagged only when its
Laplacian-to-noise ratio after the median subtraction, ``S'``, exceeds ``sigclip``, or lies
within two pixels (per iteration) of one that does. ``S' ≤ S`` because the Laplacian is
clipped at zero, and ``S ≤ L⁺ / (2 σ_sky)`` because the noise model never falls below the
sky noise, so the pixels whose cheap bound ``L⁺ / (2 σ_sky)`` stays below ``sigclip`` can
never be flagged. astroscrappy then runs on a window around each group of the others, with
a margin wider than its filters reach (11 px), and its answer is kept in the group's box
grown by two pixels per iteration: the same mask and cleaned pixels as a run on the whole
image (tested). Measured at 4096²: a science frame whose windows add up to 29 % of it,
5.1 → 1.9 s; a deep reference at 61 %, 4.8 → 3.3 s (9.2 → 4.9 s on one thread). Where the
windows would add up to more than 80 % of the image (a crowded field), the whole image is
run at once.
"""

from __future__ import annotations

from typing import Literal

import astroscrappy
import numpy as np
import sep
from scipy import ndimage

from astrid.observations.image import ImageMeta

__all__ = ["MAX_STARS_FLAGGED", "bright_sources", "find_cosmic_rays", "hit_windows"]

#: Largest share of the bright, round sources that may carry a flagged pixel.
MAX_STARS_FLAGGED = 0.05
_STEP = 1.5
_STEPS = 6
_MIN_SOURCES = 10
#: Context around a window: astroscrappy's chain of filters reaches 11 px.
_MARGIN = 16
#: Above this share of the image in windows (overlaps counted), one whole run is cheaper.
_MAX_WINDOWED_SHARE = 0.8

Box = tuple[slice, slice]


def bright_sources(
    residual: np.ndarray, rms: float, excluded: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Integer ``(x, y)`` peaks of the bright (20σ), round, unflagged sources of the central
    1024² of a background-subtracted image, and the crop's ``(y0, x0)`` corner.

    Cosmic rays are mostly 1-3 px (below ``minarea`` = 5 on the unfiltered image) or
    elongated tracks (dropped by the roundness cut), so these are stars and compact
    galaxies.
    """
    ny, nx = residual.shape
    hy, hx = min(ny, 1024) // 2, min(nx, 1024) // 2
    y0, x0 = ny // 2 - hy, nx // 2 - hx
    crop = np.ascontiguousarray(residual[y0 : y0 + 2 * hy, x0 : x0 + 2 * hx], dtype=np.float32)
    mask = np.ascontiguousarray(excluded[y0 : y0 + 2 * hy, x0 : x0 + 2 * hx])
    corner = np.array([y0, x0])
    try:
        # Unfiltered, so a one-to-three-pixel hit stays below `minarea`.
        objects = sep.extract(crop, 20.0, err=float(rms), mask=mask, minarea=5, filter_kernel=None)
    except Exception:  # sep's buffer limits on a pathological image: no sources
        return np.empty((0, 2), int), corner
    a, b = objects["a"], objects["b"]
    good = (objects["flag"] == 0) & (b > 0) & (b / np.maximum(a, 1e-6) > 0.6)
    xy = np.column_stack([objects["xpeak"][good], objects["ypeak"][good]]).astype(int)
    return xy + corner[::-1], corner


def _flagged_share(mask: np.ndarray, xy: np.ndarray) -> float:
    """Share of the sources with a flagged pixel in the 3×3 box around their peak."""
    ny, nx = mask.shape
    hit = 0
    for x, y in xy:
        box = mask[max(0, y - 1) : min(ny, y + 2), max(0, x - 1) : min(nx, x + 2)]
        hit += bool(box.any())
    return hit / max(len(xy), 1)


def _point_like_groups(crmask: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """The flagged groups that look like point sources (see the module notes)."""
    labels, _ = ndimage.label(crmask, structure=np.ones((3, 3), bool))
    keep = np.zeros(crmask.shape, dtype=bool)
    ny, nx = crmask.shape
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        group = labels[box] == i
        if group.sum() > 9:
            continue
        values = np.where(group, residual[box], -np.inf)
        py, px = np.unravel_index(int(np.argmax(values)), values.shape)
        y, x = py + box[0].start, px + box[1].start
        if not (0 < y < ny - 1 and 0 < x < nx - 1):
            continue
        peak = float(residual[y, x])
        around = (residual[y - 1, x] + residual[y + 1, x] + residual[y, x - 1]) + residual[y, x + 1]
        if peak <= 0 or float(around) / (4.0 * peak) < 0.1:
            continue
        ys, xs = np.nonzero(group)
        if len(ys) >= 3:
            cov = np.cov(np.vstack([xs, ys]).astype(float)) + np.eye(2) / 12.0
            low, high = np.linalg.eigvalsh(cov)
            if high > 4.0 * max(low, 1e-6):  # axis ratio > 2
                continue
        keep[box] |= group
    return keep


def hit_windows(
    work: np.ndarray, rms: float, sigclip: float, niter: int
) -> list[tuple[Box, Box]] | None:
    """Where L.A.Cosmic can flag a pixel of ``work``: ``(window, keep)`` boxes, ``keep``
    relative to ``window``, or None when the windows would cover most of the image.

    See the module notes for why no pixel outside the ``keep`` boxes can be flagged.
    """
    ny, nx = work.shape
    padded = np.pad(np.asarray(work, np.float32), 1, mode="edge")
    centre = 2.0 * padded[1:-1, 1:-1]
    up, down = padded[:-2, 1:-1], padded[2:, 1:-1]
    left, right = padded[1:-1, :-2], padded[1:-1, 2:]
    # astroscrappy's Laplacian of the 2×-subsampled image, clipped at zero and rebinned:
    # the sum of the four max(2c − vertical − horizontal, 0). 0.9: slack for float32
    # rounding against astroscrappy's arithmetic in electrons.
    threshold = np.float32(4.0 * 2.0 * 0.9 * sigclip * max(rms, 1e-30))
    # Four non-negative terms exceed the threshold only where the largest exceeds a
    # quarter of it, and the largest pairs the lower vertical with the lower horizontal
    # neighbour: a cheap full-image bound (kept a little loose for rounding), then the
    # exact sum at the few pixels that pass it.
    largest = centre - np.minimum(up, down)
    largest -= np.minimum(left, right)
    ys, xs = np.nonzero(largest > threshold * np.float32(0.25 * 0.999))
    c = centre[ys, xs]
    lplus = np.zeros(ys.size, np.float32)
    for vertical in (padded[ys, xs + 1], padded[ys + 2, xs + 1]):
        for horizontal in (padded[ys + 1, xs], padded[ys + 1, xs + 2]):
            lplus += np.maximum(c - vertical - horizontal, 0.0)
    candidates = np.zeros((ny, nx), dtype=bool)
    keep = lplus > threshold
    candidates[ys[keep], xs[keep]] = True
    labels, _ = ndimage.label(candidates, structure=np.ones((3, 3), bool))
    grow = 2 * niter + 1
    # astroscrappy's Laplacian treats the outside of the image as zeros, so its outermost
    # pixels may be flagged whatever they hold: strips along the four edges are always run.
    band = grow + 1
    deep_y, deep_x = min(band + _MARGIN, ny), min(band + _MARGIN, nx)
    whole_y, whole_x = slice(0, ny), slice(0, nx)
    boxes: list[tuple[Box, Box]] = [
        ((slice(0, deep_y), whole_x), (slice(0, min(band, ny)), whole_x)),
        ((slice(ny - deep_y, ny), whole_x), (slice(max(deep_y - band, 0), deep_y), whole_x)),
        ((whole_y, slice(0, deep_x)), (whole_y, slice(0, min(band, nx)))),
        ((whole_y, slice(nx - deep_x, nx)), (whole_y, slice(max(deep_x - band, 0), deep_x))),
    ]
    area = 2 * (deep_y * nx + deep_x * ny)
    for group in ndimage.find_objects(labels):
        if group is None:
            continue
        (y0, y1), (x0, x1) = ((group[0].start, group[0].stop), (group[1].start, group[1].stop))
        ky0, ky1 = max(y0 - grow, 0), min(y1 + grow, ny)
        kx0, kx1 = max(x0 - grow, 0), min(x1 + grow, nx)
        wy0, wy1 = max(ky0 - _MARGIN, 0), min(ky1 + _MARGIN, ny)
        wx0, wx1 = max(kx0 - _MARGIN, 0), min(kx1 + _MARGIN, nx)
        area += (wy1 - wy0) * (wx1 - wx0)
        if area > _MAX_WINDOWED_SHARE * ny * nx:
            return None
        boxes.append(
            (
                (slice(wy0, wy1), slice(wx0, wx1)),
                (slice(ky0 - wy0, ky1 - wy0), slice(kx0 - wx0, kx1 - wx0)),
            )
        )
    return boxes


def find_cosmic_rays(
    work: np.ndarray,
    sky: np.ndarray,
    rms: float,
    excluded: np.ndarray,
    meta: ImageMeta,
    *,
    sigclip: float,
    objlim: float,
    niter: int,
    fsmode: Literal["median", "convolve"],
    windowed: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """L.A.Cosmic with a measured noise model and a contrast limit that spares the stars.

    ``windowed`` runs it only where a hit can be (`hit_windows`); False runs the whole
    image, with the same result.

    Returns
    -------
    (mask, cleaned, objlim)
        Hits (and hot pixels), the data with hits interpolated (ADU), and the contrast
        limit used (``inf`` when the image is too undersampled for the test, which then
        flags nothing).
    """
    gain = float(meta.gain) if np.isfinite(meta.gain) and meta.gain > 0 else 1.0
    residual = work - sky
    # Variance in ADU²: measured sky noise plus the Poisson noise of sources above it.
    variance = (np.float32(rms * rms) + np.maximum(residual, 0.0) / np.float32(gain)).astype(
        np.float32
    )
    satlevel = float(meta.saturation) * gain  # astroscrappy compares in electrons

    def scrappy(box: Box, limit: float) -> tuple[np.ndarray, np.ndarray]:
        crmask, clean = astroscrappy.detect_cosmics(
            np.ascontiguousarray(work[box]),
            inmask=np.ascontiguousarray(excluded[box]),
            invar=np.ascontiguousarray(variance[box]),
            sigclip=sigclip,
            objlim=limit,
            gain=gain,
            readnoise=float(meta.read_noise),
            satlevel=satlevel if np.isfinite(satlevel) else float(np.finfo(np.float32).max),
            niter=niter,
            fsmode=fsmode,
            sepmed=True,
            cleantype="meanmask",
        )
        return np.asarray(crmask, dtype=bool) & ~excluded[box], np.asarray(clean, np.float32)

    def run(box: Box, limit: float) -> tuple[np.ndarray, np.ndarray]:
        windows = hit_windows(work[box], rms, sigclip, niter) if windowed else None
        if windows is None:
            return scrappy(box, limit)
        y0, x0 = box[0].start or 0, box[1].start or 0
        crmask = np.zeros(work[box].shape, dtype=bool)
        clean = np.array(work[box], dtype=np.float32)
        for window, keep in windows:
            found, cleaned = scrappy(
                (
                    slice(y0 + window[0].start, y0 + window[0].stop),
                    slice(x0 + window[1].start, x0 + window[1].stop),
                ),
                limit,
            )
            target = (
                slice(window[0].start + keep[0].start, window[0].start + keep[0].stop),
                slice(window[1].start + keep[1].start, window[1].start + keep[1].stop),
            )
            hits = found[keep]
            crmask[target] |= hits
            clean[target] = np.where(hits, cleaned[keep], clean[target])
        return crmask, clean

    whole = (slice(None), slice(None))
    crmask, clean = run(whole, objlim)
    xy, (y0, x0) = bright_sources(residual, rms, excluded)
    if len(xy) < _MIN_SOURCES or _flagged_share(crmask, xy) <= MAX_STARS_FLAGGED:
        return crmask, clean, float(objlim)
    ny, nx = work.shape
    crop = (slice(y0, ny - y0), slice(x0, nx - x0))
    local = xy - np.array([x0, y0])
    for k in range(1, _STEPS + 1):
        limit = objlim * _STEP**k
        if _flagged_share(run(crop, limit)[0], local) <= MAX_STARS_FLAGGED:
            crmask, clean = run(whole, limit)
            crmask &= ~_point_like_groups(crmask, residual)
            return crmask, clean, float(limit)
    return np.zeros(work.shape, dtype=bool), np.asarray(work, np.float32), float("inf")
