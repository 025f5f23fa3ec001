"""An archive's answer read as FITS, or an `OnlineServiceError` saying why it is not.

Shared by the archive clients: an answer that does not start as a FITS file does (an HTML
page from a proxy, a JSON or text error) or that astropy cannot read without complaint (a
truncated or damaged file) is an error, never a warning.
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from astrid.errors import OnlineServiceError

__all__ = ["image_of", "read_fits_answer"]


def read_fits_answer(body: bytes, *, where: str, service: str) -> fits.HDUList:
    """``body`` parsed as FITS (verified), or `OnlineServiceError` naming ``where``.

    Parameters
    ----------
    body : bytes
        The answer.
    where : str
        The request, for messages ("PS1 r stack cutout for science.fits").
    service : str
        The service's short name (the error's ``service`` attribute).
    """
    if not body.startswith(b"SIMPLE  ="):
        raise OnlineServiceError(
            f"{where}: the answer is not a FITS image (starts {body[:40]!r})", service=service
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", AstropyWarning)  # a damaged file is an error
            hdul = fits.HDUList.fromstring(body)
            hdul.verify("exception")
            for hdu in hdul:  # reading the data finds a truncated file
                _ = hdu.data
            return hdul
    except (AstropyWarning, OSError, ValueError, TypeError, fits.VerifyError) as e:
        raise OnlineServiceError(
            f"{where}: the answer is not a readable FITS image ({e})", service=service
        ) from e


def image_of(hdul: fits.HDUList, *, where: str, service: str) -> tuple[np.ndarray, fits.Header]:
    """The first 2-D image in ``hdul`` (float64, scaling applied) and its header.

    Raises
    ------
    OnlineServiceError
        No 2-D image, or not a pixel finite (the survey does not cover that sky).
    """
    for hdu in hdul:
        data = getattr(hdu, "data", None)
        if isinstance(data, np.ndarray) and data.ndim == 2 and data.size:
            image = np.asarray(data, dtype=np.float64)
            if not np.isfinite(image).any():
                raise OnlineServiceError(
                    f"{where}: no finite pixel (the survey does not cover this sky)",
                    service=service,
                )
            return image, hdu.header
    raise OnlineServiceError(f"{where}: the answer holds no 2-D image", service=service)
