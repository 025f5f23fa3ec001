"""Cutout stamps of survey alert packets: FITS bytes in, float32 pixels out.

A stamp's bytes are a FITS file: gzip-compressed for ZTF (recognised by the gzip magic
``\\x1f\\x8b``, not by the survey), plain for Rubin. Plain files are read by
`astrid.ingest.stamp_fits`, anything else by astropy. Rubin cutouts may hold several HDUs
(an empty primary, then image, mask and variance): the first HDU with 2-D image data is
the stamp, the mask and variance are not kept (yet). Pixels are ``[y, x]``, 0-based.

Blanks become NaN: values that are not finite and values with ``|v| > 1e30`` (ZTF writes
its blank pixels as ±3.4e38, the largest float32).

`to_triplet` puts science, template and difference into one ``(3, 63, 63)`` float32 array.
Each stamp's centre pixel ``(ny // 2, nx // 2)`` goes to the canvas centre ``(31, 31)``:
a smaller stamp is padded with NaN around it, a larger one cropped around its centre. A
stamp cut at a chip edge (ZTF: 40×63 and the like) is placed the same way, by its own
centre, not by the edge it was cut at: the packet does not say which side was cut, so the
stamp centre is the only reference common to every such stamp; the source may then sit off
the canvas centre by up to half the missing width.
"""

from __future__ import annotations

import gzip
import io
import warnings
import zlib

import numpy as np
from astropy.io import fits

from astrid.errors import IngestError
from astrid.ingest.stamp_fits import Plane, read_plain_planes

__all__ = [
    "BLANK_LIMIT",
    "CUTOUT_FIELDS",
    "STAMP_SIZE",
    "decode_stamp",
    "decode_triplet",
    "to_triplet",
]

#: The side of a triplet's stamps, in pixels.
STAMP_SIZE = 63

#: Pixel values of larger magnitude are blanks.
BLANK_LIMIT = 1e30

_GZIP_MAGIC = b"\x1f\x8b"
# ZTF's 2017 test packets carried JPEG cutouts.
_JPEG_MAGIC = b"\xff\xd8\xff"
_TRIPLET_NAMES = ("science", "template", "difference")

#: The packet fields of the science, template and difference stamps (ZTF and Rubin alike).
CUTOUT_FIELDS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")


def decode_stamp(data: bytes, *, what: str) -> tuple[np.ndarray, list[str]]:
    """Pixels of one stamp: FITS bytes (gzip-compressed or not) as float32, blanks NaN.

    Parameters
    ----------
    data : bytes
        The stamp as the packet holds it: a FITS file, gzip-compressed (ZTF) or plain
        (Rubin, possibly with mask and variance extensions).
    what : str
        What the stamp is, for notes and errors (``"science stamp"``, ``"cutoutScience"``).

    Returns
    -------
    pixels : numpy.ndarray
        2-D float32 array ``[y, x]``, NaN where blank or not finite.
    notes : list of str
        What was repaired: blank pixels masked, extensions not kept, header fixes.

    Raises
    ------
    IngestError
        If the bytes are not a (gzip-compressed) FITS file with a 2-D image; ``what`` is
        named in the message and kept as ``field``.

    Examples
    --------
    >>> import io, numpy as np
    >>> from astropy.io import fits
    >>> buf = io.BytesIO()
    >>> fits.PrimaryHDU(np.array([[1.0, 3.4e38], [2.0, 3.0]], dtype="f4")).writeto(buf)
    >>> pixels, notes = decode_stamp(buf.getvalue(), what="science stamp")
    >>> pixels.shape, int(np.isnan(pixels).sum()), notes
    ((2, 2), 1, ['science stamp: 1 blank pixel masked'])
    """
    notes: list[str] = []
    raw = bytes(data)
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IngestError(f"{what}: corrupt gzip data ({e})", field=what, size=len(data)) from e
    planes, fits_notes = _read_planes(raw, what=what)
    notes.extend(fits_notes)
    pixels = planes[0].pixels
    with np.errstate(invalid="ignore"):
        blank = ~np.isfinite(pixels) | (np.abs(pixels) > BLANK_LIMIT)
    n_blank = int(blank.sum())
    if n_blank:
        pixels[blank] = np.nan
        plural = "" if n_blank == 1 else "s"
        notes.append(f"{what}: {n_blank} blank pixel{plural} masked")
    used = {0}
    for index, no_data, how in _no_data(planes):
        used.add(index)
        n_new = int((no_data & ~np.isnan(pixels)).sum())
        pixels[no_data] = np.nan
        if n_new:
            plural = "" if n_new == 1 else "s"
            notes.append(f"{what}: {n_new} pixel{plural} with {how} masked")
    # A mask without a NO_DATA bit is expected (Rubin's); other planes are worth a note.
    unused = [p.name or str(i) for i, p in enumerate(planes) if i not in used | {0}]
    unused = [name for name in unused if name != "MASK"]
    if unused:
        notes.append(f"{what}: HDUs {', '.join(unused)} not used")
    return pixels, notes


def _variance(plane: Plane) -> np.ndarray | None:
    """The variance a plane holds, if it says it holds one (see the module docstring)."""
    kind = plane.cards.get("UTYPE", "")
    if kind == "VarianceUncertainty" or (plane.name == "VARIANCE" and not kind):
        return plane.pixels
    if kind == "StdDevUncertainty":
        return plane.pixels**2
    if kind == "InverseVariance":
        with np.errstate(divide="ignore"):
            return np.where(plane.pixels > 0, 1.0 / plane.pixels, np.nan)
    return None


def _no_data(planes: list[Plane]) -> list[tuple[int, np.ndarray, str]]:
    """(plane index, pixels without data, why) from the variance and mask planes."""
    shape = planes[0].pixels.shape
    found: list[tuple[int, np.ndarray, str]] = []
    for index, plane in enumerate(planes[1:], start=1):
        if plane.pixels.shape != shape:
            continue
        variance = _variance(plane)
        if variance is not None:
            with np.errstate(invalid="ignore"):
                found.append((index, ~np.isfinite(variance) | (variance <= 0), "no variance"))
        elif "MP_NO_DATA" in plane.cards:
            try:
                bit = int(plane.cards["MP_NO_DATA"])
            except ValueError:
                continue
            if 0 <= bit < 63:
                flags = np.nan_to_num(plane.pixels).astype(np.int64)
                found.append((index, (flags >> bit) & 1 == 1, "the NO_DATA mask bit"))
    return found


def _read_planes(raw: bytes, *, what: str) -> tuple[list[Plane], list[str]]:
    """The 2-D image HDUs of FITS bytes (at least one), and notes on what was odd."""
    plain = read_plain_planes(raw)
    if plain is not None:
        return plain, []
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(io.BytesIO(raw), memmap=False, lazy_load_hdus=False) as hdus:
                planes = [
                    Plane(
                        str(hdu.name or "").upper() if i else "",
                        np.array(hdu.data, dtype=np.float32),
                        {k: str(v) for k, v in hdu.header.items() if k},
                    )
                    for i, hdu in enumerate(hdus)
                    if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU)
                    and hdu.data is not None
                    and hdu.data.ndim == 2
                ]
                if not planes:
                    raise IngestError(
                        f"{what}: no 2-D image in the FITS file ({len(hdus)} HDUs)",
                        field=what,
                        n_hdus=len(hdus),
                    )
        except IngestError:
            raise
        # astropy's errors for corrupt headers and data (AttributeError: a card it cannot
        # parse leaves an HDU half-built; OverflowError: a corrupt NAXISn).
        except (
            OSError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            EOFError,
            OverflowError,
            MemoryError,
            AttributeError,
            fits.VerifyError,
        ) as e:
            kind = (
                "a JPEG image, not FITS" if raw[:3] == _JPEG_MAGIC else "not a readable FITS image"
            )
            raise IngestError(f"{what}: {kind} ({e})", field=what, size=len(raw)) from e
    for warning in caught:
        first_line = str(warning.message).strip().splitlines()[0] if warning.message else ""
        notes.append(f"{what}: FITS header: {first_line}")
    return planes, notes


def _place(stamp: np.ndarray, size: int) -> tuple[np.ndarray, str | None]:
    """A stamp on a NaN canvas of ``size``², its centre pixel on the canvas centre."""
    canvas = np.full((size, size), np.nan, dtype=np.float32)
    ny, nx = stamp.shape
    centre = size // 2
    # Source rows / columns that land on the canvas: canvas = source - (n // 2) + centre.
    y0, x0 = ny // 2 - centre, nx // 2 - centre
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + size, ny), min(x0 + size, nx)
    canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = stamp[sy0:sy1, sx0:sx1]
    if (ny, nx) == (size, size):
        return canvas, None
    if ny <= size and nx <= size:
        how = "padded"
    elif ny >= size and nx >= size:
        how = "cropped"
    else:
        how = "padded and cropped"
    return canvas, f"{ny}×{nx} {how}"


def to_triplet(
    science: np.ndarray | None,
    template: np.ndarray | None,
    difference: np.ndarray | None,
) -> tuple[np.ndarray, list[str]]:
    """Science, template and difference stamps as one ``(3, 63, 63)`` float32 array.

    Parameters
    ----------
    science, template, difference : numpy.ndarray or None
        2-D stamps ``[y, x]`` of any size, or None when the packet has none.

    Returns
    -------
    triplet : numpy.ndarray
        ``(3, 63, 63)`` float32: each stamp's centre pixel at ``(31, 31)``, NaN where a
        stamp is missing or does not reach (see the module docstring for edge-cut stamps).
    notes : list of str
        ``"template stamp missing"``, ``"difference stamp 40×63 padded"``, ...

    Examples
    --------
    >>> import numpy as np
    >>> triplet, notes = to_triplet(np.ones((63, 63)), None, np.ones((40, 63)))
    >>> triplet.shape, notes
    ((3, 63, 63), ['template stamp missing', 'difference stamp 40×63 padded'])
    >>> bool(np.isnan(triplet[2, :11]).all()), bool(np.isfinite(triplet[2, 11:51]).all())
    (True, True)
    """
    triplet = np.full((3, STAMP_SIZE, STAMP_SIZE), np.nan, dtype=np.float32)
    notes: list[str] = []
    for i, (name, stamp) in enumerate(
        zip(_TRIPLET_NAMES, (science, template, difference), strict=True)
    ):
        if stamp is None:
            notes.append(f"{name} stamp missing")
            continue
        pixels = np.asarray(stamp, dtype=np.float32)
        if pixels.ndim != 2 or 0 in pixels.shape:
            notes.append(f"{name} stamp of shape {pixels.shape} not used")
            continue
        triplet[i], how = _place(pixels, STAMP_SIZE)
        if how:
            notes.append(f"{name} stamp {how}")
    return triplet, notes


def decode_triplet(
    science: bytes | None, template: bytes | None, difference: bytes | None
) -> tuple[np.ndarray, list[str]]:
    """The ``(3, 63, 63)`` triplet of a packet's three cutouts' bytes (None: absent).

    Raises
    ------
    IngestError
        If a cutout's bytes cannot be read; ``field`` is its packet field
        (``"cutoutTemplate"``).
    """
    stamps: list[np.ndarray | None] = []
    notes: list[str] = []
    for name, field, data in zip(
        _TRIPLET_NAMES, CUTOUT_FIELDS, (science, template, difference), strict=True
    ):
        if data is None:
            stamps.append(None)
            continue
        try:
            pixels, stamp_notes = decode_stamp(data, what=f"{name} stamp")
        except IngestError as e:
            raise IngestError(f"{field}: {e}", field=field) from e
        stamps.append(pixels)
        notes.extend(stamp_notes)
    triplet, placed = to_triplet(*stamps)
    return triplet, notes + placed
