"""Cutouts as PNG images for people: an astronomical stretch, north up as stored.

Science and reference cutouts use the IRAF zscale interval with an asinh stretch (faint
structure visible, bright cores not flat white); difference cutouts a linear stretch
symmetric about zero, so positive and negative residuals look alike and zero is mid-grey.
Row 0 of a FITS array is the bottom of the image, so rows are flipped for display.
Pixels that are not finite are drawn black.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import numpy as np
from astropy.io import fits
from astropy.visualization import AsinhStretch, LinearStretch, ZScaleInterval
from PIL import Image as PILImage

from astrid.errors import StorageError
from astrid.store import ObjectStore

__all__ = ["MAX_SCALE", "CutoutRenderer", "render_cutout_png"]

MAX_SCALE = 8


def _unit_interval(data: np.ndarray, kind: str) -> np.ndarray:
    """``data`` mapped to [0, 1] with the stretch of its ``kind``."""
    finite = np.isfinite(data)
    values = data[finite].astype(np.float64)
    out = np.zeros(data.shape, dtype=np.float64)
    if values.size == 0:
        return out
    low, high = ZScaleInterval().get_limits(values)
    if kind == "difference":
        half = max(abs(float(low)), abs(float(high)))
        if not half > 0:
            out[finite] = 0.5
            return out
        scaled = np.clip((data[finite] + half) / (2 * half), 0.0, 1.0)
        out[finite] = LinearStretch()(scaled, clip=True)
        return out
    if not high > low:
        out[finite] = 0.5
        return out
    scaled = np.clip((data[finite] - low) / (high - low), 0.0, 1.0)
    out[finite] = AsinhStretch(a=0.1)(scaled, clip=True)
    return out


def render_cutout_png(data: np.ndarray, *, kind: str, scale: int = 1) -> bytes:
    """A cutout as an 8-bit greyscale PNG.

    Parameters
    ----------
    data : numpy.ndarray
        2-D cutout, ``[y, x]``.
    kind : {"science", "reference", "difference"}
        Chooses the stretch.
    scale : int
        Integer upscaling with nearest-neighbour pixels (1 to `MAX_SCALE`).

    Returns
    -------
    bytes
        PNG file content.

    Raises
    ------
    ValueError
        For data that is not 2-D or a scale out of range.
    """
    if data.ndim != 2:
        raise ValueError(f"a cutout is 2-D, got shape {data.shape}")
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be within [1, {MAX_SCALE}], got {scale}")
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = _unit_interval(np.asarray(data, dtype=np.float64), kind)
    pixels = np.flipud(np.round(unit * 255.0).astype(np.uint8))
    if scale > 1:
        pixels = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


class CutoutRenderer:
    """PNG renderings of stored cutouts, kept in a small in-memory LRU cache.

    Keys are content hashes, so a cached rendering never goes stale.

    Parameters
    ----------
    store : ObjectStore
        Holds the cutouts as FITS.
    max_items : int
        Renderings kept (a few kB each).
    """

    def __init__(self, store: ObjectStore, *, max_items: int = 4096) -> None:
        self._store = store
        self._max = max_items
        self._cache: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def data(self, key: str) -> np.ndarray:
        """The cutout array stored under ``key``.

        Raises
        ------
        StorageError
            If the object is missing or is not a FITS image.
        """
        raw = self._store.get_bytes(key)
        try:
            with fits.open(io.BytesIO(raw)) as hdus:
                data = hdus[0].data
                if data is None or data.ndim != 2:
                    raise StorageError(f"object {key} is not a 2-D FITS cutout", key=key)
                return np.asarray(data, dtype=np.float64)
        except OSError as e:
            raise StorageError(f"object {key} is not a FITS file: {e}", key=key) from e

    def png(self, key: str, *, kind: str, scale: int = 1) -> bytes:
        """The rendering of the cutout ``key`` (see `render_cutout_png`)."""
        cache_key = (key, kind, scale)
        with self._lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        image = render_cutout_png(self.data(key), kind=kind, scale=scale)
        with self._lock:
            self._cache[cache_key] = image
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return image
