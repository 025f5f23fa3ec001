"""Frames of a stack kept on disk, read back whole or a band of rows at a time.

A stack of N frames needs every frame at once only pixel by pixel (the outlier rejection,
the median) or one after another (the coadd's sums). `FrameSpill` holds each aligned
frame's planes as plain files in a scratch folder, so memory stays that of one frame plus
one band of rows of all frames, whatever N: 50 frames of 4096² are 4.8 GB on disk, not in
memory. Reads and writes are plain file I/O (not memory maps), so what was read is the
caller's to free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FrameSpill", "SpilledFrame"]

#: The planes a frame has and their types: background-subtracted pixels, the artifact mask
#: (True = unusable) and the pixels rejected as single-frame outliers.
PLANES = {"data": np.dtype(np.float32), "mask": np.dtype(bool), "rejected": np.dtype(bool)}


@dataclass(frozen=True, eq=False)
class SpilledFrame:
    """What a stack keeps in memory of a frame once its pixels are on disk.

    Attributes
    ----------
    label, name : str
    mjd, zero_point : float or None
    sigma : float
        Background noise before resampling (the frame's units).
    saturation : float
    psf : ndarray
        Its PSF at the grid's centre (centred stamp).
    fwhm : float
        Of that PSF, pixels.
    flux_scale : float
        Its counts per count of the grid frame.
    """

    label: str
    name: str
    mjd: float | None
    zero_point: float | None
    sigma: float
    saturation: float
    psf: np.ndarray
    fwhm: float
    flux_scale: float


class FrameSpill:
    """Planes of frames of one ``shape``, stored under ``folder`` (which must exist).

    A plane not written reads as zeros (no ``rejected`` pixel until rejection writes some).
    """

    def __init__(self, folder: Path, shape: tuple[int, int]) -> None:
        self.folder = Path(folder)
        self.shape = (int(shape[0]), int(shape[1]))

    def _path(self, frame: int, plane: str) -> Path:
        return self.folder / f"{frame:04d}-{plane}.bin"

    def put(self, frame: int, plane: str, array: np.ndarray) -> None:
        """Store a whole plane of ``frame``."""
        if np.shape(array) != self.shape:
            raise ValueError(f"plane {plane!r} of {frame}: {np.shape(array)}, not {self.shape}")
        np.ascontiguousarray(array, PLANES[plane]).tofile(self._path(frame, plane))

    def rows(self, frame: int, plane: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of a plane (all rows by default), as a new array."""
        stop = self.shape[0] if stop is None else stop
        dtype, nx = PLANES[plane], self.shape[1]
        path = self._path(frame, plane)
        if not path.exists():
            return np.zeros((stop - start, nx), dtype)
        with path.open("rb") as f:
            f.seek(start * nx * dtype.itemsize)
            return np.fromfile(f, dtype, count=(stop - start) * nx).reshape(stop - start, nx)

    def put_rows(self, frame: int, plane: str, start: int, block: np.ndarray) -> None:
        """Overwrite rows ``start:start + len(block)`` of a plane (zeros elsewhere if new)."""
        dtype, nx = PLANES[plane], self.shape[1]
        path = self._path(frame, plane)
        if not path.exists():
            with path.open("wb") as f:
                f.truncate(self.shape[0] * nx * dtype.itemsize)
        with path.open("r+b") as f:
            f.seek(start * nx * dtype.itemsize)
            f.write(np.ascontiguousarray(block, dtype).tobytes())

    def unusable(self, frame: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The frame's artifact mask or rejected pixels, rows ``start:stop``."""
        return self.rows(frame, "mask", start, stop) | self.rows(frame, "rejected", start, stop)
