"""Model inputs: normalised cutout triplets and scalar features of candidates.

The same functions feed training and inference, so a model sees exactly what it was
trained on. Both are pure NumPy.

Cutouts arrive as the difference stage makes them: ``(n, 3, size, size)`` float32
science, aligned reference (÷ F_r) and ZOGY D, with NaN where a pixel is masked or off the
image. `normalise_cutouts` turns each into four channels:

- science, reference and difference, each minus its median and divided by its robust
  (MAD) spread over the cutout, then compressed with ``asinh`` (noise stays ≈ linear, a
  saturated star core stays bounded);
- a mask channel, 1 where any of the three is NaN, infinite or a blank (|value| >
  `BLANK_LIMIT`, as ZTF's ±3.4e38); such pixels are 0 in the others.

Scalar features (`SCALAR_FEATURES`) come from the candidate table's columns and are
finite by construction (a missing measurement becomes 0 with its meaning recorded by the
``*_missing`` feature).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from astrid.errors import ConfigurationError

__all__ = [
    "INPUT_CHANNELS",
    "NORMALISATION_VERSION",
    "SCALAR_FEATURES",
    "normalise_cutouts",
    "scalar_features",
]

#: Changes whenever `normalise_cutouts` or `scalar_features` change meaning; models record
#: the version they were trained with and refuse another.
NORMALISATION_VERSION = 1
INPUT_CHANNELS = ("science", "reference", "difference", "masked")
SCALAR_FEATURES = (
    "sign",
    "log_abs_scorr",
    "asinh_snr",
    "fwhm_ratio",
    "fwhm_missing",
    "elongation",
    "log1p_bad_pixels",
    "dipole",
    "n_merged",
)
_MAD_TO_SIGMA = 1.4826
#: Triplets normalised at once.
CHUNK = 64
#: Pixels beyond this magnitude are blanks (ZTF writes ±3.4e38), masked like NaN.
BLANK_LIMIT = 1e30
_Z_LIMIT = np.float32(3e38)


def normalise_cutouts(cutouts: np.ndarray, *, threads: int = 1) -> np.ndarray:
    """``(n, 3, s, s)`` raw triplets → ``(n, 4, s, s)`` float32 network input.

    Parameters
    ----------
    cutouts : ndarray
        Science, reference, difference cutouts (NaN = masked / off image).
    threads : int
        Threads normalising chunks of `CHUNK` triplets at once (NumPy releases the GIL);
        the result does not depend on it.

    Returns
    -------
    ndarray
        Channels `INPUT_CHANNELS`; finite everywhere.

    Raises
    ------
    ConfigurationError
        If the array is not ``(n, 3, s, s)``.
    """
    data = np.asarray(cutouts, dtype=np.float32)
    if data.ndim != 4 or data.shape[1] != 3 or data.shape[2] != data.shape[3]:
        raise ConfigurationError(
            f"cutouts must have shape (n, 3, size, size), got {data.shape}", shape=data.shape
        )
    n, _, size, _ = data.shape
    out = np.zeros((n, 4, size, size), dtype=np.float32)
    # In chunks that stay in the CPU's caches: twice as fast as the whole array at once.
    starts = range(0, n, CHUNK)
    if threads > 1 and n > CHUNK:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda k: _normalise(data[k : k + CHUNK], out[k : k + CHUNK]), starts))
    else:
        for k in starts:
            _normalise(data[k : k + CHUNK], out[k : k + CHUNK])
    return out


def _normalise(data: np.ndarray, out: np.ndarray) -> None:
    """`normalise_cutouts` of one chunk, written into ``out``."""
    n = len(data)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(data) & (np.abs(data) <= BLANK_LIMIT)
    flat = np.where(finite, data, np.nan).reshape(n * 3, -1)
    median, mad, std = _robust_stats(flat, finite.reshape(n * 3, -1))
    median, mad, std = median.reshape(n, 3), mad.reshape(n, 3), std.reshape(n, 3)
    scale = np.where(np.isfinite(mad) & (mad > 0), mad, std)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0).astype(np.float32)
    median = np.where(np.isfinite(median), median, 0.0).astype(np.float32)
    with np.errstate(all="ignore"):
        z = (data - median[..., None, None]) / scale[..., None, None]
        # |z| beyond float32 (a huge pixel over a tiny spread) saturates: asinh(3e38) ≈ 89
        np.clip(z, -_Z_LIMIT, _Z_LIMIT, out=z)
        out[:, :3] = np.where(finite, np.arcsinh(z), 0.0)
    out[:, 3] = (~finite).any(axis=1)


def _robust_stats(
    flat: np.ndarray, finite: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD (as σ) and standard deviation of each row over its ``finite`` pixels
    (NaN for a row with none).

    Rows with every pixel finite go through NumPy's vectorised median, several times faster
    than `numpy.nanmedian`'s row-by-row path, with the same values. Rows with no value are
    never handed to NumPy's nan-functions, so nothing warns (no warning filters, which
    threads would race on).
    """
    median = np.full(len(flat), np.nan)
    mad = np.full(len(flat), np.nan)
    std = np.full(len(flat), np.nan)
    whole = finite.all(axis=1)
    partial = ~whole & finite.any(axis=1)
    with np.errstate(all="ignore"):
        for rows, med, dev in ((whole, np.median, np.std), (partial, np.nanmedian, np.nanstd)):
            if rows.any():
                part = flat[rows]
                median[rows] = m = med(part, axis=1)
                mad[rows] = med(np.abs(part - m[:, None]), axis=1) * _MAD_TO_SIGMA
                std[rows] = dev(part, axis=1)
    return median, mad, std


def _getter(candidates: Any) -> tuple[int, Any]:
    """Number of candidates and a column getter (NaN for a missing column or value)."""

    def as_floats(values: Any) -> np.ndarray:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)

    if hasattr(candidates, "colnames"):  # astropy Table
        n = len(candidates)
        names = set(candidates.colnames)
        return n, lambda name: as_floats(candidates[name]) if name in names else np.full(n, np.nan)
    if isinstance(candidates, Mapping):  # columns by name
        n = len(next(iter(candidates.values()))) if candidates else 0
        return (
            n,
            lambda name: as_floats(candidates[name]) if name in candidates else np.full(n, np.nan),
        )
    rows = list(candidates)  # row dicts (catalog records)
    return len(rows), lambda name: as_floats([r.get(name) for r in rows])


def scalar_features(candidates: Any) -> np.ndarray:
    """``(n, len(SCALAR_FEATURES))`` float32 features of candidates.

    Parameters
    ----------
    candidates : astropy Table, mapping of columns, or sequence of row dicts
        Needs ``sign`` and ``scorr``; uses ``snr``, ``fwhm``, ``psf_fwhm``, ``elongation``,
        ``n_bad_pixels``, ``dipole``, ``n_merged`` when present (catalog rows carry the last
        three in their features).

    Returns
    -------
    ndarray
        Finite float32 features in the order of `SCALAR_FEATURES`.

    Raises
    ------
    ConfigurationError
        If ``sign`` or ``scorr`` is missing or not finite.
    """
    n, get = _getter(candidates)
    if n == 0:
        return np.zeros((0, len(SCALAR_FEATURES)), dtype=np.float32)
    col = {
        name: get(name)
        for name in (
            "sign",
            "scorr",
            "snr",
            "fwhm",
            "psf_fwhm",
            "elongation",
            "n_bad_pixels",
            "dipole",
            "n_merged",
        )
    }
    for required in ("sign", "scorr"):
        if not np.all(np.isfinite(col[required])):
            raise ConfigurationError(
                f"candidate features need a finite {required!r} for every candidate",
                field=required,
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = col["fwhm"] / col["psf_fwhm"]
    fwhm_ok = np.isfinite(ratio) & (ratio > 0)
    features = np.column_stack(
        [
            np.sign(col["sign"]),
            np.log(np.maximum(np.abs(col["scorr"]), 1e-3)),
            np.arcsinh(np.nan_to_num(col["snr"], nan=0.0, posinf=1e3, neginf=-1e3) / 5.0),
            np.where(fwhm_ok, np.clip(ratio, 0.0, 5.0), 0.0),
            (~fwhm_ok).astype(float),
            np.clip(np.nan_to_num(col["elongation"], nan=1.0), 1.0, 10.0) - 1.0,
            np.log1p(np.clip(np.nan_to_num(col["n_bad_pixels"], nan=0.0), 0.0, None)),
            (np.nan_to_num(col["dipole"], nan=0.0) != 0).astype(float),
            np.log1p(np.clip(np.nan_to_num(col["n_merged"], nan=1.0), 1.0, None) - 1.0),
        ]
    )
    return features.astype(np.float32)
