"""Checks that a science image and a reference image can be differenced.

Conventions
-----------
- Pixels are 0-based, positions ``(x, y)``; a pixel ``i`` covers ``[i - 0.5, i + 0.5)``.
- The overlap is the fraction of the *science* image's area that falls on the reference,
  estimated on a regular grid of science pixel positions mapped science pixel -> sky
  (science WCS) -> reference pixel (reference WCS), distortions included.
- Bands are compared after stripping, collapsing internal whitespace and lower-casing; an
  unknown band (``filter`` None) on either side is not a mismatch.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

from astrid.errors import IncompatibleImagesError, InvalidImageError
from astrid.observations.image import Image

__all__ = ["check_compatible", "check_usable", "overlap_fraction"]

_GRID_POINTS = 32


def check_compatible(science: Image, reference: Image, *, min_overlap: float = 0.2) -> float:
    """Raise unless ``reference`` covers enough of ``science`` in the same band.

    Parameters
    ----------
    science : Image
        The new image.
    reference : Image
        The template to subtract from it.
    min_overlap : float, optional
        Smallest acceptable fraction (0 to 1) of the science image's area that lies on the
        reference. Default 0.2.

    Returns
    -------
    float
        The overlap fraction, between ``min_overlap`` and 1.

    Raises
    ------
    IncompatibleImagesError
        If either image has no WCS, both bands are known and differ, or the overlap is
        below ``min_overlap``. The message names both images; ``science``, ``reference``
        and (where computed) ``overlap`` and ``min_overlap`` are attributes.
    ValueError
        If ``min_overlap`` is not within [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.wcs import WCS
    >>> from astrid.observations.image import Image
    >>> wcs = WCS(naxis=2)
    >>> wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    >>> wcs.wcs.crval, wcs.wcs.crpix, wcs.wcs.cdelt = [150, 2], [50.5, 50.5], [-1e-4, 1e-4]
    >>> image = Image(np.zeros((100, 100), np.float32), np.zeros((100, 100), bool), wcs)
    >>> check_compatible(image, image)
    1.0
    """
    if not 0.0 <= min_overlap <= 1.0:
        raise ValueError(f"min_overlap must be within [0, 1], got {min_overlap}")
    pair = f"science {science.label} and reference {reference.label}"
    names = {"science": science.label, "reference": reference.label}

    band_science = _normalise_band(science.meta.filter)
    band_reference = _normalise_band(reference.meta.filter)
    if band_science is not None and band_reference is not None:
        if band_science != band_reference:
            raise IncompatibleImagesError(
                f"{pair} are in different bands: {science.meta.filter!r} vs "
                f"{reference.meta.filter!r}",
                science_filter=science.meta.filter,
                reference_filter=reference.meta.filter,
                **names,
            )

    missing = [
        role
        for role, image in (("science", science), ("reference", reference))
        if image.wcs is None
    ]
    if science.wcs is None or reference.wcs is None:
        raise IncompatibleImagesError(
            f"{pair} cannot be compared on the sky: no WCS on the {' and '.join(missing)}",
            **names,
        )

    overlap = overlap_fraction(science.wcs, science.shape, reference.wcs, reference.shape)
    if overlap < min_overlap:
        raise IncompatibleImagesError(
            f"{pair} overlap on {overlap:.1%} of the science area, need at least {min_overlap:.1%}",
            overlap=overlap,
            min_overlap=min_overlap,
            **names,
        )
    return overlap


def check_usable(image: Image, role: str) -> None:
    """Raise unless ``image`` holds signal: an empty or constant frame is no science image
    and no reference.

    Parameters
    ----------
    image : Image
        An image as read by :func:`~astrid.observations.read_image`.
    role : str
        ``"science"`` or ``"reference"``, for the message.

    Raises
    ------
    InvalidImageError
        If every unmasked pixel has the same value (an all-zero readout, a blank template).
        The message names the file and its role; ``path``, ``role`` and ``value`` are
        attributes.
    """
    good = image.data[~image.mask]
    if good.size and float(good.min()) == float(good.max()):
        value = float(good[0])
        raise InvalidImageError(
            f"{image.label}: {role} image has no signal: all {good.size:,} unmasked pixels "
            f"equal {value:g} (an empty or constant frame)",
            path=image.label,
            role=role,
            value=value,
        )


def overlap_fraction(
    science_wcs: WCS,
    science_shape: tuple[int, int],
    reference_wcs: WCS,
    reference_shape: tuple[int, int],
    *,
    grid_points: int = _GRID_POINTS,
) -> float:
    """Fraction of the science image's area that lands inside the reference image.

    Parameters
    ----------
    science_wcs, reference_wcs : astropy.wcs.WCS
        Celestial WCS of each image.
    science_shape, reference_shape : tuple of int
        ``(ny, nx)`` of each image.
    grid_points : int, optional
        Samples per axis of the science grid (default 32, so a 1/1024 resolution).

    Returns
    -------
    float
        Between 0 and 1. Points whose sky position the reference WCS cannot project (the
        far side of a TAN projection, say) count as outside.
    """
    ny, nx = science_shape
    # Centres of grid_points equal cells spanning the science image edge to edge.
    xs = (np.arange(grid_points) + 0.5) / grid_points * nx - 0.5
    ys = (np.arange(grid_points) + 0.5) / grid_points * ny - 0.5
    gx, gy = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        lon, lat = science_wcs.all_pix2world(gx.ravel(), gy.ravel(), 0)
        # quiet: a point far off the reference may not converge; it is outside anyway.
        rx, ry = reference_wcs.all_world2pix(lon, lat, 0, quiet=True)
    ref_ny, ref_nx = reference_shape
    inside = (
        np.isfinite(rx)
        & np.isfinite(ry)
        & (rx >= -0.5)
        & (rx < ref_nx - 0.5)
        & (ry >= -0.5)
        & (ry < ref_ny - 0.5)
    )
    return float(np.mean(inside))


def _normalise_band(band: str | None) -> str | None:
    """``' SDSS  r '`` -> ``'sdss r'``; empty -> None."""
    if band is None:
        return None
    normalised = " ".join(band.split()).lower()
    return normalised or None
