"""The stored flux product of a difference: what forced photometry needs, later, anywhere.

ZOGY gives at every pixel the PSF-fit flux of a point source centred there,
α = S / F_S, and its 1σ error (the square root of S's full variance: background, source
and astrometric noise, over F_S) — Zackay, Ofek & Gal-Yam 2016, §3.3. Forced photometry of
an object on a difference image is α at the object's position, so the product keeps α
and its error (float32, NaN where the pair is masked) with the science header (WCS, time,
band) and the zero point of the science-image units. An object born today is measured on
every difference image stored before it, from these files alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from astrid.errors import InvalidImageError

__all__ = ["PRODUCT_VERSION", "DifferenceProduct"]

#: Format version written in the primary header (``ASTRIDFP``); readers check it.
PRODUCT_VERSION = 1

_MJD_KEYS = ("MJD-OBS", "MJD")
_BAND_KEYS = ("FILTER", "BAND", "FILTNAM")


@dataclass(frozen=True, eq=False)
class DifferenceProduct:
    """ZOGY's flux map and its error on the science grid, with the science header.

    Attributes
    ----------
    flux, flux_err : ndarray of float32
        PSF-fit point-source flux at every pixel and its 1σ error (science-image units);
        NaN where the pair is masked.
    header : astropy.io.fits.Header
        The science frame's header (WCS, MJD-OBS, FILTER).
    zero_point : float or None
        Magnitude of one science-image unit, when known.
    """

    flux: np.ndarray
    flux_err: np.ndarray
    header: fits.Header
    zero_point: float | None = None

    def __post_init__(self) -> None:
        if self.flux.ndim != 2 or self.flux.shape != self.flux_err.shape:
            raise InvalidImageError(
                f"flux product: flux {self.flux.shape} and error {self.flux_err.shape} "
                "must be 2-D arrays of one shape"
            )

    @classmethod
    def from_maps(
        cls,
        flux: np.ndarray,
        flux_err: np.ndarray,
        mask: np.ndarray,
        header: fits.Header,
        zero_point: float | None,
    ) -> DifferenceProduct:
        """The product of ZOGY's maps, masked pixels set to NaN."""
        bad = np.asarray(mask, dtype=bool) | ~np.isfinite(flux) | ~np.isfinite(flux_err)
        bad |= flux_err <= 0
        return cls(
            np.where(bad, np.nan, flux).astype(np.float32),
            np.where(bad, np.nan, flux_err).astype(np.float32),
            header.copy(),
            None if zero_point is None else float(zero_point),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        ny, nx = self.flux.shape
        return int(ny), int(nx)

    @property
    def wcs(self) -> WCS:
        """The celestial WCS of the science grid."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(self.header, naxis=2).celestial

    @property
    def mjd(self) -> float | None:
        """Time of the science frame (MJD), when its header gives it."""
        for key in _MJD_KEYS:
            value = self.header.get(key)
            if isinstance(value, (int, float)) and np.isfinite(value):
                return float(value)
        return None

    @property
    def band(self) -> str | None:
        """Band (filter) of the science frame, when its header gives it."""
        for key in _BAND_KEYS:
            value = self.header.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def to_hdulist(self) -> fits.HDUList:
        """Primary HDU: the flux map with the science header; ``FLUX_ERR``: its error."""
        header = self.header.copy()
        for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND"):
            header.remove(key, ignore_missing=True, remove_all=True)
        header["IMAGETYP"] = ("ZOGY flux", "AstrID product: PSF-fit flux per pixel")
        header["ASTRIDFP"] = (PRODUCT_VERSION, "AstrID flux product format version")
        if self.zero_point is not None:
            header["FPZP"] = (self.zero_point, "zero point of the flux units (mag)")
        primary = fits.PrimaryHDU(self.flux, header=header)
        return fits.HDUList([primary, fits.ImageHDU(self.flux_err, name="FLUX_ERR")])

    def write(self, path: str | Path) -> None:
        """Write the product as one FITS file (replacing ``path``)."""
        self.to_hdulist().writeto(path, overwrite=True)

    @classmethod
    def read(cls, source: str | Path | bytes, label: str) -> DifferenceProduct:
        """Read a product written by `write`.

        Raises
        ------
        InvalidImageError
            Naming ``label``: not FITS, not a flux product (e.g. one from an older AstrID:
            reprocess the frame), another format version, or maps of the wrong shape.
        """
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            with fits.open(stream, memmap=False) as hdus:
                header = hdus[0].header.copy()
                version = header.get("ASTRIDFP")
                if version is None:
                    raise InvalidImageError(
                        f"{label}: not an AstrID flux product (written by an older AstrID?): "
                        "reprocess the frame"
                    )
                if version != PRODUCT_VERSION:
                    raise InvalidImageError(
                        f"{label}: flux product version {version}, this AstrID reads "
                        f"{PRODUCT_VERSION}: reprocess the frame"
                    )
                if "FLUX_ERR" not in hdus:
                    raise InvalidImageError(f"{label}: the FLUX_ERR extension is missing")
                flux = np.asarray(hdus[0].data, dtype=np.float32)
                flux_err = np.asarray(hdus["FLUX_ERR"].data, dtype=np.float32)
        except InvalidImageError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise InvalidImageError(f"{label}: unreadable flux product: {e}") from e
        zero_point = header.get("FPZP")
        return cls(flux, flux_err, header, None if zero_point is None else float(zero_point))
