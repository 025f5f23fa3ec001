"""Master calibration frames on disk: build them from raw exposures, write them, read them.

The thin file layer around :mod:`astrid.preprocess.calibration`, which works on arrays.
A master is a single-HDU float32 FITS file whose header records what it is and where it
came from: ``IMAGETYP = 'MASTER <KIND>'``, ``BUNIT`` (``adu`` for a bias, ``adu/s`` for a
dark current; a flat is dimensionless, median 1), ``NCOMBINE`` (how many exposures) and the
input files' names in ``IMCMB001``, ``IMCMB002``... (the IRAF convention), plus ``ORIGIN``
with the AstrID version.

Conventions: arrays are ``[y, x]``; a master keeps NaN where it has no value (a flat pixel
no exposure lit); every error is an :class:`~astrid.errors.InvalidImageError` or
:class:`~astrid.errors.ConfigurationError` whose message names the file.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "master_bias.fits"
>>> _ = write_master(path, np.full((64, 64), 300.0), kind="bias", sources=["b1.fits"])
>>> float(read_master(path, kind="bias")[0, 0])
300.0
"""

from __future__ import annotations

import logging
import os
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.stats import mad_std

from astrid import __version__
from astrid.errors import ConfigurationError, InvalidImageError
from astrid.observations.fits_reader import read_image
from astrid.observations.image import Image
from astrid.preprocess.calibration import (
    CalibrationFrames,
    make_master_bias,
    make_master_dark,
    make_master_flat,
)

__all__ = [
    "MASTER_KINDS",
    "MasterSummary",
    "build_master_files",
    "master_file_name",
    "read_master",
    "read_masters",
    "write_master",
]

log = logging.getLogger(__name__)

#: The kinds of master frame, in the order they are built and applied.
MASTER_KINDS = ("bias", "dark", "flat")

_UNITS = {"bias": "adu", "dark": "adu/s"}
_MAX_SOURCE_CARDS = 999  # IMCMB001..IMCMB999; NCOMBINE still counts them all
_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, EOFError, zlib.error)


@dataclass(frozen=True)
class MasterSummary:
    """One master written by :func:`build_master_files`.

    Attributes
    ----------
    kind : str
        ``"bias"``, ``"dark"`` or ``"flat"``.
    path : pathlib.Path
        The FITS file written.
    n_frames : int
        Exposures combined.
    median : float
        Median of the finite pixels (ADU, ADU / s or 1 for a flat).
    robust_std : float
        MAD-based standard deviation of the finite pixels, same units.
    """

    kind: str
    path: Path
    n_frames: int
    median: float
    robust_std: float


def master_file_name(kind: str) -> str:
    """``master_<kind>.fits``, the name :func:`build_master_files` writes."""
    _check_kind(kind)
    return f"master_{kind}.fits"


def write_master(
    path: str | os.PathLike[str],
    data: np.ndarray,
    *,
    kind: str,
    sources: Sequence[str | os.PathLike[str]],
) -> Path:
    """Write a master frame as float32 FITS with its provenance in the header.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; overwritten if it exists.
    data : numpy.ndarray
        2-D master frame.
    kind : str
        ``"bias"``, ``"dark"`` (ADU / s) or ``"flat"`` (median 1).
    sources : sequence of str or os.PathLike
        The exposures combined; their file names (not folders) go into the header.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ConfigurationError
        If ``kind`` is not one of `MASTER_KINDS`.
    InvalidImageError
        If ``data`` is not 2-D.
    """
    _check_kind(kind)
    out = Path(path)
    array = np.asarray(data, dtype=np.float32)
    if array.ndim != 2:
        raise InvalidImageError(
            f"{out}: master {kind} data has shape {array.shape}, expected 2-D",
            path=str(out),
            shape=array.shape,
        )
    header = fits.Header()
    header["IMAGETYP"] = (f"MASTER {kind.upper()}", "AstrID master calibration frame")
    if kind in _UNITS:
        header["BUNIT"] = (_UNITS[kind], "dark current" if kind == "dark" else "raw units")
    else:
        header["COMMENT"] = "Flat-field response normalised to a median of 1."
    header["NCOMBINE"] = (len(sources), "number of exposures combined")
    for index, source in enumerate(sources[:_MAX_SOURCE_CARDS], start=1):
        name = Path(source).name.encode("ascii", "replace").decode("ascii")
        header[f"IMCMB{index:03d}"] = name
    header["ORIGIN"] = f"AstrID {__version__}"
    fits.PrimaryHDU(data=array, header=header).writeto(out, overwrite=True)
    return out


def read_master(path: str | os.PathLike[str], *, kind: str | None = None) -> np.ndarray:
    """Read a master frame written by :func:`write_master` (or any 2-D FITS image).

    Parameters
    ----------
    path : str or os.PathLike
        The FITS file; the first HDU with image data is read.
    kind : str, optional
        What the caller will use it as. If the header says it is a different AstrID master
        (``IMAGETYP = 'MASTER DARK'`` given as a flat, say) it is an error.

    Returns
    -------
    numpy.ndarray
        Native float32 ``[y, x]``; NaN where the file has no value.

    Raises
    ------
    InvalidImageError
        Naming the file: missing, not FITS, truncated, no image HDU, not 2-D, not real
        numbers, no finite pixel, or a master of another kind.
    """
    label = os.fspath(path)
    if not Path(label).is_file():
        raise InvalidImageError(f"{label}: master file not found", path=label)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(label, memmap=False, lazy_load_hdus=False) as hdul:
                hdu = next((h for h in hdul if _has_image(h)), None)
                if hdu is None:
                    raise InvalidImageError(f"{label}: no HDU holds image data", path=label)
                header = hdu.header.copy()
                raw = np.asarray(hdu.data)
        except _READ_ERRORS as e:
            raise InvalidImageError(f"{label}: not a readable FITS file ({e})", path=label) from e
    for record in caught:
        if "truncated" in str(record.message).lower():
            raise InvalidImageError(
                f"{label}: FITS file is truncated ({record.message})", path=label
            )
        log.warning("%s: %s: %s", label, record.category.__name__, record.message)
    if raw.ndim < 2 or any(n != 1 for n in raw.shape[:-2]):
        raise InvalidImageError(
            f"{label}: master has shape {raw.shape}, expected 2-D", path=label, shape=raw.shape
        )
    if raw.dtype.kind not in "biuf":
        raise InvalidImageError(
            f"{label}: master has dtype {raw.dtype}, expected real numbers", path=label
        )
    data = raw.reshape(raw.shape[-2:]).astype(np.float32)
    if not np.isfinite(data).any():
        raise InvalidImageError(f"{label}: master has no finite pixel", path=label)
    found = str(header.get("IMAGETYP", "")).strip().upper()
    if kind is not None and found.startswith("MASTER ") and found != f"MASTER {kind.upper()}":
        raise InvalidImageError(
            f"{label}: header says IMAGETYP = {found!r}, but it was given as the master {kind}",
            path=label,
            imagetyp=found,
            kind=kind,
        )
    return data


def read_masters(
    paths: Mapping[str, str | os.PathLike[str]],
    *,
    shape: tuple[int, ...] | None = None,
    label: str = "the image",
) -> CalibrationFrames:
    """Read master files by kind, ready to calibrate an image of ``shape``.

    Parameters
    ----------
    paths : mapping of str to path
        Master files by kind: ``"bias"``, ``"dark"``, ``"flat"`` (any subset).
    shape : tuple of int, optional
        The shape of the image they will calibrate; every master must have it.
    label : str
        That image's name in error messages.

    Returns
    -------
    CalibrationFrames
        The masters as arrays; ``.apply(image)`` calibrates
        (:func:`astrid.preprocess.calibration.calibrate`).

    Raises
    ------
    ConfigurationError
        If a kind is not bias, dark or flat.
    InvalidImageError
        Naming the file: unreadable (see :func:`read_master`) or of another shape.
    """
    masters: dict[str, np.ndarray] = {}
    for kind, path in paths.items():
        name = os.fspath(path)
        if kind not in MASTER_KINDS:
            raise ConfigurationError(
                f"calibration kind {kind!r} ({name}); expected one of {', '.join(MASTER_KINDS)}",
                kind=kind,
            )
        master = read_master(name, kind=kind)
        if shape is not None and master.shape != shape:
            raise InvalidImageError(
                f"{name}: master {kind} has shape {master.shape}, but {label} has shape {shape}",
                path=name,
                kind=kind,
                shape=master.shape,
                expected_shape=shape,
            )
        masters[kind] = master
    return CalibrationFrames(**masters)


def build_master_files(
    out_dir: str | os.PathLike[str],
    *,
    bias: Sequence[str | os.PathLike[str]] = (),
    dark: Sequence[str | os.PathLike[str]] = (),
    flat: Sequence[str | os.PathLike[str]] = (),
) -> list[MasterSummary]:
    """Read raw calibration exposures, combine them and write ``master_<kind>.fits``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for the masters (created if needed).
    bias : sequence of path
        Bias exposures.
    dark : sequence of path
        Dark exposures, each with an ``EXPTIME`` (or ``EXPOSURE``) keyword; need ``bias``.
    flat : sequence of path
        Flat exposures; bias- and dark-corrected when those are given (then each needs an
        exposure time keyword too).

    Returns
    -------
    list of MasterSummary
        One per master written, in the order bias, dark, flat.

    Raises
    ------
    ConfigurationError
        If no frames are given, or darks are given without biases.
    InvalidImageError
        Naming the file: unreadable, a shape unlike the first frame's, no exposure time
        where one is needed, a flat with no light.
    """
    if not (bias or dark or flat):
        raise ConfigurationError("no calibration frames given (bias, dark or flat)")
    if dark and not bias:
        raise ConfigurationError(
            "dark frames need bias frames too: the master dark is a bias-subtracted rate"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first: list[Image] = []  # the first frame read, whose shape every other must have
    summaries: list[MasterSummary] = []
    master_bias: np.ndarray | None = None
    master_dark: np.ndarray | None = None

    def load(paths: Sequence[str | os.PathLike[str]], kind: str) -> list[Image]:
        images = []
        for path in paths:
            image = read_image(path, require_wcs=False)
            if not first:
                first.append(image)
            elif image.shape != first[0].shape:
                raise InvalidImageError(
                    f"{image.label}: {kind} frame has shape {image.shape}, expected "
                    f"{first[0].shape} (the shape of {first[0].label})",
                    path=image.label,
                    shape=image.shape,
                    expected_shape=first[0].shape,
                )
            images.append(image)
        return images

    def finish(kind: str, data: np.ndarray, paths: Sequence[str | os.PathLike[str]]) -> None:
        path = write_master(out / master_file_name(kind), data, kind=kind, sources=paths)
        finite = data[np.isfinite(data)]
        summaries.append(
            MasterSummary(
                kind=kind,
                path=path,
                n_frames=len(paths),
                median=float(np.median(finite)),
                robust_std=float(mad_std(finite)),
            )
        )
        log.info("wrote %s from %d frames", path, len(paths))

    if bias:
        master_bias = _named(make_master_bias, load(bias, "bias"), bias)
        finish("bias", master_bias, bias)
    if dark:
        assert master_bias is not None
        darks = load(dark, "dark")
        master_dark = _named(
            make_master_dark,
            darks,
            dark,
            master_bias=master_bias,
            exptime_s=_exposure_times(darks, "dark"),
        )
        finish("dark", master_dark, dark)
    if flat:
        flats = load(flat, "flat")
        master_flat = _named(
            make_master_flat,
            flats,
            flat,
            master_bias=master_bias,
            master_dark=master_dark,
            exptime_s=_exposure_times(flats, "flat") if master_dark is not None else None,
        )
        finish("flat", master_flat, flat)
    return summaries


def _check_kind(kind: str) -> None:
    """Reject a kind that is not bias, dark or flat."""
    if kind not in MASTER_KINDS:
        raise ConfigurationError(
            f"master kind {kind!r}; expected one of {', '.join(MASTER_KINDS)}", kind=kind
        )


def _has_image(hdu: object) -> bool:
    """An image HDU (primary, extension, tile-compressed) with at least one pixel."""
    if isinstance(hdu, fits.GroupsHDU) or not isinstance(
        hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU
    ):
        return False
    return len(hdu.shape) > 0 and 0 not in hdu.shape


def _exposure_times(images: Sequence[Image], kind: str) -> list[float]:
    """Each frame's exposure time, or an error naming the frame whose header has none."""
    for image in images:
        if "exptime" in image.meta.defaulted:
            raise InvalidImageError(
                f"{image.label}: {kind} frame has no EXPTIME or EXPOSURE keyword; the dark "
                "current is scaled by exposure time",
                path=image.label,
            )
    return [image.meta.exptime for image in images]


def _named(
    make: Callable[..., np.ndarray],
    images: Sequence[Image],
    paths: Sequence[str | os.PathLike[str]],
    **kwargs: Any,
) -> np.ndarray:
    """Call a ``make_master_*`` and put the file name into errors that give a frame index."""
    try:
        result = make(images, **kwargs)
    except InvalidImageError as e:
        index = e.details.get("frame_index")
        if not isinstance(index, int) or not 0 <= index < len(paths):
            raise
        name = os.fspath(paths[index])
        raise InvalidImageError(f"{name}: {e}", **{**e.details, "path": name}) from e
    return result
