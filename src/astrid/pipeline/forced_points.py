"""Forced photometry of catalogued objects on stored difference images: the light-curve points.

Wiring only: stored difference products are read from the object store (a small cache, as
one run's image serves every object it covers), objects are placed on them through their
WCS and measured by `astrid.objects.forced_photometry`; the catalog gets one point per
(object, run). Nothing here is science; it is which image, which objects and where the
numbers go.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from astropy.wcs.utils import proj_plane_pixel_scales

from astrid.catalog import ObjectPosition
from astrid.difference import DifferenceProduct
from astrid.errors import AstridError, InvalidImageError
from astrid.objects import forced_photometry, object_pixels
from astrid.store import ObjectStore

__all__ = ["ProductCache", "footprint", "measure_points", "readable"]

log = logging.getLogger(__name__)


class ProductCache:
    """The last few runs' difference products, read from the store once each.

    Parameters
    ----------
    store : ObjectStore
        Where the products are.
    size : int
        How many products are kept (each is one image plus small PSF tables).
    """

    def __init__(self, store: ObjectStore, size: int = 6) -> None:
        self.store = store
        self.size = size
        self._products: OrderedDict[int, DifferenceProduct] = OrderedDict()

    def get(self, run_id: int, products: Mapping[str, Any]) -> DifferenceProduct:
        """The difference product of a run.

        Raises
        ------
        InvalidImageError
            If the run has no difference product, or it is corrupt or of an older format.
        StorageError
            If the store does not hold it.
        """
        if run_id in self._products:
            self._products.move_to_end(run_id)
            return self._products[run_id]
        key = products.get("flux")
        if not isinstance(key, str) or not key:
            raise InvalidImageError(
                f"run {run_id} has no stored flux product (made by an older AstrID?)"
            )
        product = DifferenceProduct.read(self.store.get_bytes(key), f"flux product of run {run_id}")
        self._products[run_id] = product
        while len(self._products) > self.size:
            self._products.popitem(last=False)
        return product


def footprint(product: DifferenceProduct) -> tuple[float, float, float]:
    """A circle (ra, dec, radius; degrees) holding the whole difference image."""
    ny, nx = product.shape
    xs = np.array([(nx - 1) / 2, 0, nx - 1, 0, nx - 1], dtype=float)
    ys = np.array([(ny - 1) / 2, 0, 0, ny - 1, ny - 1], dtype=float)
    sky = product.wcs.pixel_to_world(xs, ys)
    centre = sky[0]
    radius = float(np.max(centre.separation(sky[1:]).deg))
    # one pixel of margin, so an object on the edge is not lost to rounding
    scale = float(np.max(proj_plane_pixel_scales(product.wcs.celestial)))
    return float(centre.ra.deg), float(centre.dec.deg), radius + scale


def measure_points(
    product: DifferenceProduct,
    *,
    run_id: int,
    observation_id: int,
    objects: Sequence[ObjectPosition],
    detections: Mapping[tuple[int, int], int],
) -> list[dict[str, Any]]:
    """Forced photometry of ``objects`` on one run's difference image, as catalog points.

    Objects outside the image or on masked pixels get no point (the image does not cover
    them). ``detections`` maps (object, run) to the candidate that detected the object
    there; such points are ``detected`` and carry the candidate's id.
    """
    if not objects:
        return []
    ra = np.array([o.ra for o in objects], dtype=float)
    dec = np.array([o.dec for o in objects], dtype=float)
    x, y = object_pixels(product, ra, dec)
    phot = forced_photometry(product, x, y)
    points = []
    for k, obj in enumerate(objects):
        if not bool(phot.covered[k]):
            continue
        candidate = detections.get((obj.id, run_id))
        points.append(
            {
                "object_id": obj.id,
                "run_id": run_id,
                "observation_id": observation_id,
                "candidate_id": candidate,
                "mjd": product.mjd,
                "band": product.band,
                "x": float(phot.x[k]),
                "y": float(phot.y[k]),
                "flux": _finite(phot.flux[k]),
                "flux_err": _finite(phot.flux_err[k]),
                "zero_point": product.zero_point,
                "detected": candidate is not None,
            }
        )
    return points


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def readable(
    cache: ProductCache, run_id: int, products: Mapping[str, Any]
) -> DifferenceProduct | None:
    """The run's product, or None (logged) when it cannot be read."""
    try:
        return cache.get(run_id, products)
    except AstridError as e:
        log.warning("run %d: no forced photometry: %s", run_id, e)
        return None
