"""Read one FITS image into an :class:`~astrid.observations.image.Image`, or say why not.

Conventions
-----------
- Pixels are 0-based; arrays are ``[y, x]``; positions are ``(x, y)``.
- ``Image.data`` is native-endian float32 in the file's units after BSCALE/BZERO. Pixels
  that are NaN or infinite in the file are 0.0 in ``data`` and True in ``mask``.
- ``Image.wcs`` is a 2-D celestial :class:`astropy.wcs.WCS` built with ``relax=True``, so
  SIP and TPV distortions are kept; sky coordinates are degrees in the header's frame.
- ``ImageMeta.mjd`` is MJD (UTC) taken from the first of MJD-OBS, MJD-MID, MJD, JD, DATE-MID,
  DATE-OBS that parses: it is the header's time stamp (for MJD-OBS/DATE-OBS usually the
  exposure start), not shifted to mid-exposure. ``fwhm`` is in pixels, ``saturation`` in
  the image's units, ``zero_point`` is the magnitude of 1 unit (ADU) in the image.
- For an extension HDU, metadata keywords missing from its header are looked up in the
  primary header (the usual multi-extension layout keeps EXPTIME, FILTER... there).
- Every failure is an :class:`~astrid.errors.InvalidImageError` whose message names the file
  (and the HDU when one was chosen) and whose ``path`` attribute holds the file name.
- astropy reports trouble with FITS files partly as warnings. They are recorded while
  reading and decided here: "file may have been truncated" rejects the file even when the
  chosen HDU read fine (the file was damaged in transfer and should be fetched again);
  header-fix notes from the WCS (``FITSFixedWarning``) are logged at DEBUG; any other
  warning is logged at WARNING with the file name. Nothing is re-emitted with
  :func:`warnings.warn`.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TypeAlias

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning, NoConvergence

from astrid.errors import InvalidImageError
from astrid.observations.header_meta import read_meta
from astrid.observations.image import Image, ImageMeta

__all__ = ["read_image"]

logger = logging.getLogger(__name__)

MIN_FINITE_FRACTION = 0.01
"""Fewer finite pixels than this fraction and the image is rejected."""

MIN_IMAGE_SIDE = 32
"""Images narrower or shorter than this many pixels are rejected: no PSF, background mesh or
cutout fits, and native code downstream (astroscrappy's median filters) corrupts memory on
images of a few pixels."""

DEFAULT_MAX_PIXELS = 8192 * 8192
"""Pixel budget of one image (67 Mpix: a GOTO or DECam full frame fits, 268 MB as float32).
Checked against the header before any pixel is read or decompressed."""

_NAME_SUFFIXES = (".gz", ".fz", ".bz2", ".fits", ".fit", ".fts")
_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, EOFError, zlib.error)
_IMAGE_HDU_TYPES = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)
_CENTRE_ROUND_TRIP_PIX = 0.01
_SINGULAR_RATIO = 1e-10

_AnyImageHDU: TypeAlias = fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU

_SCALING_KEYS = ("BSCALE", "BZERO", "BLANK")


def read_image(
    path: str | os.PathLike[str] | IO[bytes],
    *,
    hdu: int | str | None = None,
    require_wcs: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    label: str | None = None,
) -> Image:
    """Read a 2-D FITS image with its mask, celestial WCS and header metadata.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A FITS file, or one opened for reading (an object in a remote store);
        ``.fits.gz`` and tile-compressed ``.fz`` files are read too.
    hdu : int, str or None, optional
        Index or EXTNAME of the HDU to read. None (default) takes the first HDU, primary or
        extension (tile-compressed included), whose data has at least two non-empty axes.
    require_wcs : bool, optional
        If True (default) a header without a celestial WCS is an error; if False such an
        image gets ``wcs=None``. A WCS that is present but broken is always an error.
    max_pixels : int, optional
        Pixel budget: an image whose header declares more pixels is rejected before its data
        are read or decompressed (default :data:`DEFAULT_MAX_PIXELS`).
    name : str, optional
        ``meta.name`` (default: the file name without its FITS suffixes), for a file whose
        name is not the image's (a content-addressed store key).
    label : str, optional
        What error messages and ``Image.path`` call the file (default: the path, or the
        file object's ``name``).

    Returns
    -------
    Image
        ``data`` as native float32 ``[y, x]`` with NaN/inf set to 0.0, ``mask`` True at those
        pixels, the 2-D celestial ``wcs``, ``meta`` parsed from the header (fields taken
        from defaults are listed in ``meta.defaulted`` and logged), a copy of the header
        without the integer scaling keywords, and ``path``: the label.

    Raises
    ------
    InvalidImageError
        If the file is missing, not FITS, truncated or corrupt; has no image HDU (or not the
        one asked for); the data are empty, not 2-D after dropping singleton axes, or fewer
        than 1% of the pixels are finite; either side is under :data:`MIN_IMAGE_SIDE`
        pixels; the header declares more than ``max_pixels`` pixels or more data than the
        file holds (checked before reading the data); the WCS is missing (when required), cannot be
        built, is singular, or gives non-finite sky coordinates at the image centre.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 150.0,
    ...                       "CRVAL2": 2.0, "CRPIX1": 32.5, "CRPIX2": 32.5,
    ...                       "CDELT1": -1e-4, "CDELT2": 1e-4, "EXPTIME": 30.0})
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "frame.fits"
    >>> fits.PrimaryHDU(np.ones((64, 64), ">f4"), header).writeto(p)
    >>> image = read_image(p)
    >>> image.shape, image.data.dtype, image.meta.name, image.meta.exptime
    ((64, 64), dtype('float32'), 'frame', 30.0)
    """
    source: Path | IO[bytes]
    if isinstance(path, str | os.PathLike):
        source = Path(os.fspath(path))
        label = label or os.fspath(path)
        if not source.exists():
            raise InvalidImageError(f"{label}: file not found", path=label)
        if not source.is_file():
            raise InvalidImageError(f"{label}: not a regular file", path=label)
        name = name or _image_name(source)
    else:
        source = path
        label = label or str(getattr(path, "name", "<stream>"))
        name = name or _image_name(Path(label))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _read(
                source,
                label,
                name,
                hdu=hdu,
                require_wcs=require_wcs,
                max_pixels=max_pixels,
                caught=caught,
            )
        finally:
            _log_warnings(caught, label)


def _read(
    source: Path | IO[bytes],
    label: str,
    name: str,
    *,
    hdu: int | str | None,
    require_wcs: bool,
    max_pixels: int,
    caught: list[warnings.WarningMessage],
) -> Image:
    """Open, pick the HDU, convert the pixels, build the WCS and parse the metadata."""
    try:
        hdul = fits.open(source, memmap=False, lazy_load_hdus=False)
    except _READ_ERRORS as e:
        raise _unreadable(label, caught, e) from e
    with hdul:
        index, selected = _select_hdu(hdul, hdu, label)
        where = _describe_hdu(index, selected)
        _check_declared_size(selected, _size_of(source), label, where, index, max_pixels)
        try:
            # Copy before touching .data: astropy rewrites BITPIX/BZERO once it scales.
            header = selected.header.copy()
            primary = hdul[0].header.copy() if index > 0 else None
            raw = selected.data
        except _READ_ERRORS as e:
            raise _unreadable(label, caught, e) from e
        _raise_if_truncated(label, caught)
        data, mask = _pixels(raw, label, where, index)
        wcs = _celestial_wcs(header, hdul, data.shape, label, where, index, require_wcs)

    meta = read_meta(header, primary, name, wcs, label)
    meta = _guess_16bit_saturation(meta, data, mask, label)
    clean_header = header.copy()
    for key in _SCALING_KEYS:
        clean_header.remove(key, ignore_missing=True, remove_all=True)
    clean_header["BITPIX"] = -32
    return Image(data=data, mask=mask, wcs=wcs, meta=meta, header=clean_header, path=label)


#: Data maxima in this range, with no saturation keyword, point to a 16-bit ADC.
_ADC16_RANGE = (50_000.0, 70_000.0)


def _guess_16bit_saturation(
    meta: ImageMeta, data: np.ndarray, mask: np.ndarray, label: str
) -> ImageMeta:
    """Without a saturation keyword, data peaking near 65535 are taken as 16-bit saturated.

    Leaving saturation infinite would let saturated stars through as PSF stars and as
    subtraction residuals; the level stays listed in ``defaulted``.
    """
    if math.isfinite(meta.saturation) or not (~mask).any():
        return meta
    peak = float(data[~mask].max())
    if not _ADC16_RANGE[0] <= peak <= _ADC16_RANGE[1]:
        return meta
    logger.warning(
        "%s: no saturation keyword and data peak at %.0f: assuming a 16-bit ADC (65535)",
        label,
        peak,
    )
    return replace(meta, saturation=65535.0)


def _unreadable(
    label: str, caught: Sequence[warnings.WarningMessage], e: Exception
) -> InvalidImageError:
    """The error for a file astropy could not read; truncation named when astropy saw it."""
    truncation = _truncation_note(caught)
    if truncation is not None:
        return InvalidImageError(
            f"{label}: FITS file is truncated or corrupt ({truncation}; {e})", path=label
        )
    return InvalidImageError(f"{label}: not a readable FITS file ({e})", path=label)


def _truncation_note(caught: Sequence[warnings.WarningMessage]) -> str | None:
    """astropy's "file may have been truncated" message, if it was raised."""
    for record in caught:
        text = str(record.message)
        # Only astropy's file-length check; "... will be truncated" notes about long
        # header cards are harmless.
        if "file may have been truncated" in text.lower():
            return text
    return None


def _raise_if_truncated(label: str, caught: Sequence[warnings.WarningMessage]) -> None:
    """Reject a file astropy found shorter than its headers say, even if our HDU read fine."""
    truncation = _truncation_note(caught)
    if truncation is not None:
        raise InvalidImageError(f"{label}: FITS file is truncated ({truncation})", path=label)


def _log_warnings(caught: Sequence[warnings.WarningMessage], label: str) -> None:
    """Log each distinct recorded warning once: WCS header fixes at DEBUG, the rest at WARNING."""
    seen: set[str] = set()
    for record in caught:
        text = f"{record.category.__name__}: {record.message}"
        if text in seen:
            continue
        seen.add(text)
        if issubclass(record.category, FITSFixedWarning):
            logger.debug("%s: %s", label, text)
        else:
            logger.warning("%s: %s", label, text)


def _describe_hdu(index: int, hdu: _AnyImageHDU) -> str:
    """``HDU 1 ('SCI')`` for messages."""
    name = hdu.name
    return f"HDU {index} ({name!r})" if name and name != "PRIMARY" else f"HDU {index}"


def _is_image_hdu(hdu: object) -> bool:
    """Image HDU (primary, extension or tile-compressed), not random groups or a table."""
    return isinstance(hdu, _IMAGE_HDU_TYPES) and not isinstance(hdu, fits.GroupsHDU)


def _select_hdu(hdul: fits.HDUList, hdu: int | str | None, label: str) -> tuple[int, _AnyImageHDU]:
    """The requested HDU, or the first image HDU with at least two non-empty axes."""
    if hdu is not None:
        try:
            chosen = hdul[hdu]
        except (KeyError, IndexError) as e:
            raise InvalidImageError(
                f"{label}: no HDU {hdu!r} (the file has {len(hdul)} HDUs)", path=label, hdu=hdu
            ) from e
        if not _is_image_hdu(chosen):
            raise InvalidImageError(
                f"{label}: HDU {hdu!r} is a {type(chosen).__name__}, not an image",
                path=label,
                hdu=hdu,
            )
        return hdul.index(chosen), chosen

    for index, candidate in enumerate(hdul):
        if _is_image_hdu(candidate) and len(candidate.shape) >= 2 and 0 not in candidate.shape:
            return index, candidate

    images = [(i, h.shape) for i, h in enumerate(hdul) if _is_image_hdu(h) and len(h.shape) > 0]
    if any(len(shape) == 1 for _, shape in images):
        index, shape = next((i, s) for i, s in images if len(s) == 1)
        raise InvalidImageError(
            f"{label}: HDU {index}: image data has shape {shape}, expected 2-D",
            path=label,
            hdu=index,
            shape=shape,
        )
    if images:
        raise InvalidImageError(
            f"{label}: image data is empty (shapes {[s for _, s in images]})", path=label
        )
    kinds = ", ".join(f"{i}: {type(h).__name__}" for i, h in enumerate(hdul))
    raise InvalidImageError(
        f"{label}: no HDU holds image data (HDUs {kinds})", path=label, hdu_types=kinds
    )


def _size_of(source: Path | IO[bytes]) -> int | None:
    """Bytes in a file or a seekable stream (None when a stream cannot tell)."""
    if isinstance(source, Path):
        return source.stat().st_size
    try:
        here = source.tell()
        size = source.seek(0, os.SEEK_END)
        source.seek(here)
        return int(size)
    except (OSError, AttributeError, ValueError):
        return None


def _check_declared_size(
    hdu: _AnyImageHDU, size: int | None, label: str, where: str, index: int, max_pixels: int
) -> None:
    """Refuse, from the header alone, images too small, over the pixel budget, or whose
    declared data do not fit in the file (a few-kB file declaring gigabytes)."""
    shape = tuple(int(n) for n in hdu.shape)
    if len(shape) < 2 or 0 in shape:
        return  # no pixels declared: _pixels says the data are empty or not 2-D
    plane = shape[-2:]
    if min(plane) < MIN_IMAGE_SIDE:
        raise InvalidImageError(
            f"{label}: {where}: image is {plane[1]}×{plane[0]} pixels, too small to process "
            f"(need at least {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE})",
            path=label,
            hdu=index,
            shape=shape,
        )
    n_pixels = math.prod(shape)
    if n_pixels > max_pixels:
        raise InvalidImageError(
            f"{label}: {where}: header declares {' × '.join(map(str, reversed(shape)))} = "
            f"{n_pixels:,} pixels, over the pixel budget of {max_pixels:,} "
            "(ASTRID_MAX_IMAGE_PIXELS)",
            path=label,
            hdu=index,
            shape=shape,
            max_pixels=max_pixels,
        )
    if isinstance(hdu, fits.CompImageHDU):
        return  # its tiles are decompressed within the budget checked above
    declared = n_pixels * abs(int(hdu.header.get("BITPIX", 8))) // 8
    offset = hdu.fileinfo()["datLoc"] if hdu.fileinfo() else 0
    if size is None or label.endswith((".gz", ".bz2")):
        return  # a stream of unknown length, or sizes that are not the data's
    available = size - offset
    if declared > available:
        raise InvalidImageError(
            f"{label}: {where}: FITS file is truncated (header declares {declared:,} bytes of "
            f"data, the file holds {max(available, 0):,})",
            path=label,
            hdu=index,
            declared_bytes=declared,
            available_bytes=max(available, 0),
        )


def _pixels(
    raw: np.ndarray | None, label: str, where: str, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Native float32 ``[y, x]`` pixels with non-finite ones zeroed, and the mask of those."""
    if raw is None or raw.size == 0:
        shape = None if raw is None else raw.shape
        raise InvalidImageError(
            f"{label}: {where}: image data is empty (shape {shape})", path=label, hdu=index
        )
    array = np.asarray(raw)
    if array.ndim < 2 or any(n != 1 for n in array.shape[:-2]):
        raise InvalidImageError(
            f"{label}: {where}: image data has shape {array.shape}, expected 2-D "
            "(extra axes must have length 1)",
            path=label,
            hdu=index,
            shape=array.shape,
        )
    if array.dtype.kind not in "biuf":
        raise InvalidImageError(
            f"{label}: {where}: image data has dtype {array.dtype}, expected real numbers",
            path=label,
            hdu=index,
        )
    # Values beyond float32 range become inf here and are then masked like the file's own inf.
    with np.errstate(over="ignore", invalid="ignore"):
        data = array.reshape(array.shape[-2:]).astype(np.float32)
    mask = ~np.isfinite(data)
    finite_fraction = 1.0 - float(mask.mean())
    if finite_fraction < MIN_FINITE_FRACTION:
        raise InvalidImageError(
            f"{label}: {where}: only {finite_fraction:.2%} of {data.size} pixels are finite "
            f"(need at least {MIN_FINITE_FRACTION:.0%})",
            path=label,
            hdu=index,
            finite_fraction=finite_fraction,
        )
    data[mask] = 0.0
    return data, mask


def _celestial_wcs(
    header: fits.Header,
    hdul: fits.HDUList,
    shape: tuple[int, ...],
    label: str,
    where: str,
    index: int,
    require_wcs: bool,
) -> WCS | None:
    """The 2-D celestial WCS of the header, checked to work at the image centre."""

    def broken(problem: str) -> InvalidImageError:
        return InvalidImageError(f"{label}: {where}: broken WCS: {problem}", path=label, hdu=index)

    try:
        full = WCS(header, fobj=hdul, relax=True)
    except (ValueError, KeyError, MemoryError) as e:
        raise broken(f"astropy could not build it ({_one_line(e)})") from e

    if not full.has_celestial:
        if not require_wcs:
            return None
        ctypes = [header.get(f"CTYPE{i}") for i in (1, 2)]
        raise InvalidImageError(
            f"{label}: {where}: no celestial WCS in the header (CTYPE1, CTYPE2 = {ctypes})",
            path=label,
            hdu=index,
        )
    lng, lat = int(full.wcs.lng), int(full.wcs.lat)
    if {lng, lat} != {0, 1}:
        raise broken(f"celestial axes are WCS axes {lng + 1} and {lat + 1}, expected 1 and 2")

    cd = _header_cd_matrix(header, lng, lat)
    if cd is not None and _is_singular(cd):
        raise broken(f"CD matrix {cd.tolist()} is singular")

    wcs = full if full.naxis == 2 else full.sub([1, 2])
    ny, nx = shape
    wcs.pixel_shape = (nx, ny)
    centre = ((nx - 1) / 2.0, (ny - 1) / 2.0)
    try:
        with np.errstate(all="ignore"):
            scale = np.asarray(wcs.pixel_scale_matrix, dtype=float)
            lon, lat_deg = (float(v) for v in wcs.pixel_to_world_values(*centre))
            back_x, back_y = (float(v) for v in wcs.world_to_pixel_values(lon, lat_deg))
    except (ValueError, MemoryError, NoConvergence) as e:
        raise broken(f"it fails at the image centre {centre} ({_one_line(e)})") from e
    if _is_singular(scale):
        raise broken(f"the pixel-scale matrix {scale.tolist()} is singular")
    if not (math.isfinite(lon) and math.isfinite(lat_deg)):
        raise broken(f"pixel_to_world at the image centre {centre} gives ({lon}, {lat_deg})")
    offset = math.hypot(back_x - centre[0], back_y - centre[1])
    if not math.isfinite(offset) or offset > _CENTRE_ROUND_TRIP_PIX:
        raise broken(
            f"world_to_pixel does not invert pixel_to_world at the image centre "
            f"(off by {offset} pixels)"
        )
    return wcs


def _one_line(error: Exception) -> str:
    """wcslib's multi-line error text on one line."""
    return " ".join(str(error).split())


def _is_singular(matrix: np.ndarray) -> bool:
    """True for a 2×2 matrix with non-finite entries or a determinant ~0 for its size."""
    if not np.all(np.isfinite(matrix)):
        return True
    return bool(abs(np.linalg.det(matrix)) <= _SINGULAR_RATIO * float(np.sum(matrix**2)))


def _header_cd_matrix(header: fits.Header, lng: int, lat: int) -> np.ndarray | None:
    """The celestial CD matrix as written in the header, or None if it has no CDi_j.

    Checked by hand because wcslib's ``cdfix`` silently replaces an all-zero CD matrix with
    the identity (1 degree per pixel).
    """
    axes = (lng + 1, lat + 1)
    keys = [[f"CD{i}_{j}" for j in axes] for i in axes]
    if not any(key in header for row in keys for key in row):
        return None
    try:
        return np.array([[float(header.get(key, 0.0)) for key in row] for row in keys])
    except (TypeError, ValueError):
        return None  # astropy's WCS parser has already judged non-numeric values


def _image_name(file: Path) -> str:
    """File name without directory and FITS / compression suffixes (``a.fits.fz`` -> ``a``)."""
    name = file.name
    stripped = True
    while stripped:
        stripped = False
        for suffix in _NAME_SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                stripped = True
    return name
