"""The in-memory image every stage passes around.

Arrays are ``[y, x]``, float32, in the file's units (ADU unless the header says
otherwise); ``mask`` is True where a pixel must not be trusted (NaN/inf in the file,
saturated, bad column, cosmic ray...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

__all__ = ["Image", "ImageMeta"]


@dataclass(frozen=True)
class ImageMeta:
    """Header metadata with sensible defaults; ``defaulted`` lists what was not in the header.

    Attributes
    ----------
    name : str
        Short name of the image (file stem or simulator label).
    mjd : float or None
        Observation time as MJD (UTC) from the header (MJD-OBS preferred) when it allows.
    filter : str or None
        Band name, normalised (stripped, lower-case is *not* applied).
    exptime : float
        Exposure time in seconds.
    gain : float
        e-/ADU.
    read_noise : float
        Read noise in e-.
    saturation : float
        Saturation level in the image's units (ADU).
    fwhm : float or None
        Seeing FWHM in pixels, if the header gives it.
    zero_point : float or None
        Photometric zero point (mag of 1 ADU) if the header gives it.
    """

    name: str = "image"
    mjd: float | None = None
    filter: str | None = None
    exptime: float = 1.0
    gain: float = 1.0
    read_noise: float = 0.0
    saturation: float = np.inf
    fwhm: float | None = None
    zero_point: float | None = None
    defaulted: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Image:
    """An image with its bad-pixel mask, WCS and metadata."""

    data: np.ndarray
    mask: np.ndarray
    wcs: WCS | None
    meta: ImageMeta = field(default_factory=ImageMeta)
    header: fits.Header = field(default_factory=fits.Header)
    path: str | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"image data must be 2-D, got shape {self.data.shape}")
        if self.mask.shape != self.data.shape:
            raise ValueError(f"mask shape {self.mask.shape} != data shape {self.data.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        ny, nx = self.data.shape
        return int(ny), int(nx)

    @property
    def label(self) -> str:
        """The path if the image came from a file, else its name; used in error messages."""
        return self.path or self.meta.name

    def with_data(self, data: np.ndarray, mask: np.ndarray | None = None) -> Image:
        """A copy with new pixels (and optionally a new mask)."""
        return replace(self, data=data, mask=self.mask if mask is None else mask)

    def to_hdu(self) -> fits.PrimaryHDU:
        """A FITS HDU with the data (masked pixels as NaN) and header incl. the WCS."""
        header = self.header.copy()
        if self.wcs is not None:
            header.update(self.wcs.to_header(relax=True))
        data = np.where(self.mask, np.nan, self.data).astype(np.float32)
        return fits.PrimaryHDU(data=data, header=header)
