"""Realistic pipeline failures, made on purpose, for the real/bogus training set.

Some bogus kinds come from the pipeline rather than the detector: a registration that is
off by a fraction of a pixel leaves *dipoles* at every star, and a PSF model that is too
wide or too narrow leaves *rings*. Surveys see both when a frame's astrometry or PSF fit
goes wrong locally. These functions take a correctly prepared pair and return one with
that failure, so the difference stage produces the bogus candidates it would produce in
such a frame. Pure: `PreparedPair` in, `PreparedPair` out.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from astrid.preprocess.pair import PreparedPair
from astrid.preprocess.psf import PSFModel

__all__ = ["mismatch_psf", "misregister"]


def misregister(pair: PreparedPair, shift_xy: tuple[float, float]) -> PreparedPair:
    """The pair with its aligned reference moved by ``shift_xy`` science pixels.

    The astrometric-noise term stays what the registration reported, as it would when the
    registration is wrong without knowing it.

    Parameters
    ----------
    pair : PreparedPair
        A prepared pair.
    shift_xy : tuple of float
        ``(dx, dy)`` in pixels; sub-pixel values (0.2-1 px) give dipoles at every star.
    """
    dx, dy = float(shift_xy[0]), float(shift_xy[1])
    shift = (dy, dx)
    reference = ndimage.shift(pair.reference, shift, order=3, mode="nearest")
    reference_var = ndimage.shift(pair.reference_var, shift, order=1, mode="nearest")
    moved = ndimage.shift(pair.mask.astype(np.float32), shift, order=1, mode="constant", cval=1)
    mask = pair.mask | (moved > 0.01)
    return replace(
        pair,
        reference=reference.astype(pair.reference.dtype),
        reference_var=np.maximum(reference_var, 0).astype(pair.reference_var.dtype),
        mask=mask,
    )


def _blurred(model: PSFModel, sigma: float) -> PSFModel:
    """The model convolved with a Gaussian of ``sigma`` pixels (wider)."""
    coeffs = np.stack([ndimage.gaussian_filter(c, sigma, mode="constant") for c in model.coeffs])
    return replace(model, coeffs=coeffs)


def _sharpened(model: PSFModel, factor: float) -> PSFModel:
    """The model shrunk about its centre by ``factor`` < 1 (narrower), unit sum kept."""
    size = model.size
    centre = (size - 1) / 2.0
    # Output pixel p samples the input at centre + (p - centre) / factor.
    matrix = np.eye(2) / factor
    offset = centre - matrix @ np.array([centre, centre])
    coeffs = np.stack(
        [
            ndimage.affine_transform(c, matrix, offset=offset, order=3, mode="constant")
            for c in model.coeffs
        ]
    )
    return replace(model, coeffs=coeffs)


def mismatch_psf(pair: PreparedPair, *, which: str, change: float) -> PreparedPair:
    """The pair with one image's PSF model made wider or narrower than the truth.

    Parameters
    ----------
    pair : PreparedPair
        A prepared pair.
    which : {"science", "reference"}
        Whose PSF model is wrong.
    change : float
        Positive: convolve with a Gaussian of ``change`` pixels σ (model too wide);
        negative: shrink the model by the factor ``1 / (1 + |change| / 2)`` (too narrow).

    Raises
    ------
    ValueError
        If `which` is not ``"science"`` or ``"reference"``.
    """
    if which not in ("science", "reference"):
        raise ValueError(f"mismatch_psf: which must be 'science' or 'reference', got {which!r}")
    model = pair.science_psf if which == "science" else pair.reference_psf
    wrong = _blurred(model, change) if change > 0 else _sharpened(model, 1 + abs(change) / 2)
    if which == "science":
        return replace(pair, science_psf=wrong)
    return replace(pair, reference_psf=wrong)
