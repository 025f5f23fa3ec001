"""A stack as a FITS reference file that `astrid run --reference` reads as it is.

Layout (`write_stack`):

- primary HDU: the stack (float32, background subtracted, the first input's flux units),
  NaN where no frame covers the sky (read back as masked), with the grid's WCS,
  ``COMBINE`` (the method) and the keywords the reader takes: ``FILTER``, ``MJD-OBS``
  (mean of the inputs; ``MJD-BEG`` and ``MJD-END`` their range), ``EXPTIME``, ``GAIN``
  (effective), ``RDNOISE`` (0: it is in the background), ``SATURATE``, ``FWHM``
  (pixels), ``MAGZP`` when the inputs give one (and then ``LIMMAG``, the 5σ point-source
  limit, `limiting_magnitude`); ``NCOMBINE``, ``DEPTHGN`` and, per
  input, ``IMCMBnnn`` (the file as given, its last 68 characters) and ``IMSHAnnn``
  (SHA-256 of the file, first 16 hex digits);
- ``PSF``: the stack's PSF stamp (unit sum);
- ``VARIANCE``: background variance per pixel;
- ``MASK``: 1 where no frame covers the pixel;
- ``EXPOSURE``: frames behind each pixel;
- ``INPUTS``: one row per input (file, full SHA-256, MJD, FWHM, σ, flux scale, weight,
  rejected pixels).

The file is written under a temporary name beside the target and moved into place, so a
failure never leaves a partial reference. `stack_summary` reads a reference file's summary
back (for its catalog record).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table

from astrid import __version__
from astrid.difference.stack import Stack

__all__ = ["limiting_magnitude", "stack_summary", "write_stack"]

#: Header keywords of the summary (`stack_summary`) and their names there.
_SUMMARY_CARDS = {
    "COMBINE": "method",
    "NCOMBINE": "n_inputs",
    "FWHM": "fwhm_px",
    "DEPTHGN": "depth_gain",
    "MJD-BEG": "mjd_begin",
    "MJD-END": "mjd_end",
    "REJECT": "outliers_rejected",
    "LIMMAG": "limiting_mag",
}
#: Columns of each input in the summary (all of the INPUTS table).
_INPUT_COLUMNS = ("file", "sha256", "mjd", "fwhm_px", "sigma", "flux_scale", "weight")

#: Inputs named card by card in the primary header (all are in the INPUTS table).
_MAX_INPUT_CARDS = 999


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def limiting_magnitude(stack: Stack) -> float | None:
    """The stack's 5σ point-source limit (AB) for a PSF fit: ``zp − 2.5 log10(5 σ_F)`` with
    ``σ_F = σ / sqrt(Σ P²)``, σ the median background noise of the pixels every frame
    covers (``VARIANCE``); None without a zero point or covered pixels."""
    if stack.zero_point is None:
        return None
    full = stack.exposure == stack.exposure.max()
    variance = stack.variance[full & np.isfinite(stack.variance)]
    if variance.size == 0:
        return None
    psf = stack.psf / stack.psf.sum()
    flux_noise = float(np.sqrt(np.median(variance)) / np.sqrt(np.sum(psf**2)))
    if not (np.isfinite(flux_noise) and flux_noise > 0):
        return None
    return float(stack.zero_point - 2.5 * np.log10(5.0 * flux_noise))


def _primary_header(stack: Stack, sha256: Sequence[str]) -> fits.Header:
    header = stack.wcs.to_header(relax=True)
    header["IMAGETYP"] = ("REFERENCE", "AstrID stack of frames")
    header["COMBINE"] = (stack.method, "proper: Zackay & Ofek 2017; or mean, median")
    if stack.filter:
        header["FILTER"] = stack.filter
    mjds = [f.mjd for f in stack.frames if f.mjd is not None]
    if mjds:
        header["MJD-OBS"] = (float(np.mean(mjds)), "mean MJD of the inputs")
        header["MJD-BEG"] = (min(mjds), "earliest input")
        header["MJD-END"] = (max(mjds), "latest input")
    header["EXPTIME"] = (stack.exptime, "first input's: the flux units are its counts")
    header["GAIN"] = (stack.gain, "effective e-/count of the stack")
    header["RDNOISE"] = (0.0, "read noise is in the background (VARIANCE)")
    header["SATURATE"] = (stack.saturation, "highest level an input records unsaturated")
    header["FWHM"] = (round(stack.fwhm_px, 3), "PSF FWHM of the stack (pixels)")
    if stack.zero_point is not None:
        header["MAGZP"] = (round(stack.zero_point, 4), "AB mag of one count")
        limit = limiting_magnitude(stack)
        if limit is not None:
            header["LIMMAG"] = (round(limit, 3), "5 sigma point-source limit (AB), PSF fit")
    header["BKGSUB"] = (True, "background subtracted")
    header["NCOMBINE"] = (len(stack.frames), "frames stacked")
    header["REJECT"] = (stack.outliers_rejected, "single-frame outliers (cosmic rays) rejected")
    header["DEPTHGN"] = (round(stack.depth_gain, 4), "point-source S/N over the best input")
    for index, (frame, sha) in enumerate(zip(stack.frames, sha256, strict=True), start=1):
        if index > _MAX_INPUT_CARDS:
            break
        header[f"IMCMB{index:03d}"] = _ascii(frame.label)[-68:]  # the file as given
        header[f"IMSHA{index:03d}"] = (sha[:16], "SHA-256 of the input file (start)")
    header["ORIGIN"] = f"AstrID {__version__}"
    return header


def _inputs_table(stack: Stack, sha256: Sequence[str]) -> fits.BinTableHDU:
    frames = stack.frames
    table = Table(
        {
            "file": [_ascii(f.label) for f in frames],
            "sha256": list(sha256),
            "mjd": [np.nan if f.mjd is None else f.mjd for f in frames],
            "fwhm_px": [f.fwhm_px for f in frames],
            "sigma": [f.sigma for f in frames],
            "flux_scale": [f.flux_scale for f in frames],
            "weight": [f.weight for f in frames],
            "rejected_px": [f.rejected_px for f in frames],
        }
    )
    return fits.BinTableHDU(table, name="INPUTS")


def write_stack(stack: Stack, path: str | os.PathLike[str], *, sha256: Sequence[str]) -> Path:
    """Write ``stack`` as a reference FITS file (module notes); the path written.

    ``sha256`` gives the content hash of each input file, in the order of
    ``stack.frames``. The target is replaced only once the whole file is written.
    """
    if len(sha256) != len(stack.frames):
        raise ValueError(f"{len(stack.frames)} frames but {len(sha256)} hashes")
    out = Path(path)
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(stack.image.astype(np.float32), _primary_header(stack, sha256)),
            fits.ImageHDU(stack.psf.astype(np.float32), name="PSF"),
            fits.ImageHDU(stack.variance.astype(np.float32), name="VARIANCE"),
            fits.ImageHDU(stack.mask.astype(np.uint8), name="MASK"),
            fits.ImageHDU(stack.exposure.astype(np.int16), name="EXPOSURE"),
            _inputs_table(stack, sha256),
        ]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    try:
        hdus.writeto(tmp, overwrite=True)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _plain(value: Any) -> Any:
    """A header or table value as plain JSON (NaN → None)."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def stack_summary(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What a reference written by `write_stack` is made of, or None for any other file.

    Returns the method, number of inputs, PSF FWHM (pixels), depth gain over the best
    input, the inputs' MJD range, whether outliers were rejected, and per input its file,
    SHA-256, MJD, FWHM, noise, flux scale and weight (the ``INPUTS`` table).

    Raises
    ------
    OSError
        The file cannot be opened as FITS.
    ValueError
        It says it is an AstrID stack (``IMAGETYP = REFERENCE`` and ``NCOMBINE``) but its
        ``INPUTS`` table is missing or lacks a column (the message names the file).
    """
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        header = hdul[0].header
        if header.get("IMAGETYP") != "REFERENCE" or "NCOMBINE" not in header:
            return None
        summary = {name: _plain(header.get(card)) for card, name in _SUMMARY_CARDS.items()}
        try:
            table = Table.read(hdul["INPUTS"])
            columns = {c: [_plain(v) for v in table[c]] for c in _INPUT_COLUMNS}
        except (KeyError, ValueError) as e:
            raise ValueError(f"{os.fspath(path)}: stack without a usable INPUTS table ({e})") from e
    summary["inputs"] = [
        {c: columns[c][k] for c in _INPUT_COLUMNS} for k in range(len(columns["file"]))
    ]
    return summary
