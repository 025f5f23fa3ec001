"""Cutouts as PNG images for people: an astronomical stretch, north up as stored.

The stretch is set by the noise, so the sky looks like sky: a smooth grey with faint
texture, not pixels thrown to black and white (what a narrow zscale interval does to a
noise-dominated cutout). With ``m`` the median and ``sigma`` the robust noise (1.4826 ×
the median absolute deviation) of the finite pixels:

- science and reference: ``asinh((v - low) / s) / asinh((high - low) / s)`` with black at
  ``low = m - 4 sigma``, white at ``high = max(99.9th percentile, m + 20 sigma)`` and the
  softening ``s = 2 sigma``, so the background sits at a dark-to-mid grey (0.2 to 0.45 of
  full scale), the noise stays within a few grey steps of it, and bright cores are not
  flat white;
- difference: symmetric about zero, ``0.5 + 0.5 asinh(v / s) / asinh(h / s)`` with
  ``h = max(99.9th percentile of |v|, 10 sigma)``, so zero is mid-grey and positive and
  negative residuals of equal size look alike (lighter and darker).

Row 0 of a FITS array is the bottom of the image, so rows are flipped for display.
Pixels that are not finite are drawn black. The PNGs carry no overlay: the web page draws
the crosshair, compass and scale bar over them (`astrid.service.cutout_overlay`).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from astropy.io import fits
from PIL import Image as PILImage

from astrid.difference.cutouts import cutout
from astrid.errors import StorageError
from astrid.store import ObjectStore

__all__ = ["MAX_SCALE", "RENDERING", "CutoutRenderer", "render_cutout_png"]

MAX_SCALE = 8
#: Names this stretch; part of the PNGs' ETag, so browsers drop renderings of older ones.
RENDERING = "png2-asinh-noise"
_BLACK_SIGMA = 4.0
_WHITE_SIGMA = 20.0
_DIFF_SIGMA = 10.0
_SOFTENING_SIGMA = 2.0
_PERCENTILE = 99.9


def _robust_sigma(values: np.ndarray, centre: float) -> float:
    """Noise from the median absolute deviation (a star in the cutout barely moves it)."""
    mad = float(np.median(np.abs(values - centre)))
    if mad > 0:
        return 1.4826 * mad
    spread = float(np.std(values))
    return spread if spread > 0 else 1.0


def _unit_interval(data: np.ndarray, kind: str) -> np.ndarray:
    """``data`` mapped to [0, 1] with the stretch of its ``kind``."""
    finite = np.isfinite(data)
    values = data[finite].astype(np.float64)
    out = np.zeros(data.shape, dtype=np.float64)
    if values.size == 0:
        return out
    if kind == "difference":
        sigma = _robust_sigma(values, 0.0)
        soft = _SOFTENING_SIGMA * sigma
        half = max(float(np.percentile(np.abs(values), _PERCENTILE)), _DIFF_SIGMA * sigma)
        scaled = 0.5 + 0.5 * np.arcsinh(values / soft) / np.arcsinh(half / soft)
        out[finite] = np.clip(scaled, 0.0, 1.0)
        return out
    centre = float(np.median(values))
    sigma = _robust_sigma(values, centre)
    soft = _SOFTENING_SIGMA * sigma
    low = centre - _BLACK_SIGMA * sigma
    high = max(float(np.percentile(values, _PERCENTILE)), centre + _WHITE_SIGMA * sigma)
    scaled = np.arcsinh(np.maximum(values - low, 0.0) / soft) / np.arcsinh((high - low) / soft)
    out[finite] = np.clip(scaled, 0.0, 1.0)
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
    """PNG renderings of stored cutouts (and of stamps of stored images, for finder charts),
    kept in a small in-memory LRU cache.

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
        self._cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
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
        return self._cached(
            (key, kind, scale), lambda: render_cutout_png(self.data(key), kind=kind, scale=scale)
        )

    def stamp_png(self, key: str, x: float, y: float, *, size: int, scale: int = 1) -> bytes:
        """A ``size × size`` stamp of the stored image ``key`` centred on the pixel nearest
        ``(x, y)`` (0-based; NaN, drawn black, off the image), rendered as a reference.

        Raises
        ------
        StorageError
            If the object is missing or holds no 2-D image.
        """

        def render() -> bytes:
            return render_cutout_png(self._stamp(key, x, y, size), kind="reference", scale=scale)

        return self._cached(("stamp", key, round(x, 3), round(y, 3), size, scale), render)

    def _stamp(self, key: str, x: float, y: float, size: int) -> np.ndarray:
        """The stamp of the first 2-D image in the stored FITS file ``key`` (a local file is
        memory-mapped, so only the stamp's rows are read)."""
        local = self._store.local_path(key)
        source: str | io.BytesIO = str(local) if local else io.BytesIO(self._store.get_bytes(key))
        try:
            with fits.open(source, memmap=local is not None) as hdus:
                for hdu in hdus:
                    data = getattr(hdu, "data", None)
                    if data is not None and data.ndim == 2:
                        return cutout(data, x, y, size).astype(np.float64)
        except OSError as e:
            raise StorageError(f"object {key} is not a FITS file: {e}", key=key) from e
        raise StorageError(f"object {key} holds no 2-D image", key=key)

    def _cached(self, cache_key: tuple[object, ...], render: Callable[[], bytes]) -> bytes:
        with self._lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        image = render()
        with self._lock:
            self._cache[cache_key] = image
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return image
