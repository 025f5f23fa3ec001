"""An object's finder chart: the reference (template) image around it, with north and east
arrows from the WCS, a scale bar in arcseconds and a marker on the object.

The field comes from the best source at hand:

- ``reference image``: a `FINDER_SIZE`-pixel stamp of the stored reference image of the
  object's newest detection, when that observation has a WCS and the object falls on it;
  the object's position is placed through that WCS;
- ``reference cutout``: otherwise the 63-pixel reference cutout of the newest detection
  with one, oriented by its science image's WCS (`astrid.service.candidates.cutout_marks`);
  with no WCS there the chart has the marker only, no arrows and no scale.

The geometry (`CutoutOverlay`, display coordinates of the PNG) is drawn by the page as SVG
over the image; the PNG is plain (`astrid.service.cutout_images`).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from astrid.catalog.candidates import CandidateRecord
from astrid.catalog.object_records import ObjectRecord
from astrid.catalog.observations import observation
from astrid.catalog.runs import run
from astrid.difference.cutouts import CUTOUT_SIZE, wcs_from_header
from astrid.service.candidates import cutout_marks
from astrid.service.cutout_images import MAX_SCALE
from astrid.service.cutout_overlay import CutoutOverlay, cutout_overlay
from astrid.service.state import Service

__all__ = ["DISPLAY_PIXELS", "FINDER_SIZE", "FinderChart", "finder_chart", "finder_png"]

#: Side of the stamp cut from a stored reference image, in its pixels (twice a cutout's).
FINDER_SIZE = 127
#: About how many screen pixels wide the chart is shown (integer upscaling of the stamp).
DISPLAY_PIXELS = 384


@dataclass(frozen=True)
class FinderChart:
    """Where a finder chart's pixels come from, and the marks over them.

    ``key`` is the store key of the reference image (``source == "reference image"``) or
    of the reference cutout; ``x, y`` are the object's pixel position in that image (the
    detection's position in its science grid for a cutout); ``observation_name`` names
    the reference image or the detection's science observation.
    """

    source: Literal["reference image", "reference cutout"]
    key: str
    x: float
    y: float
    scale: int
    overlay: CutoutOverlay
    observation_name: str
    candidate_id: int

    @property
    def display_size(self) -> int:
        """Side of the PNG in screen pixels."""
        return self.overlay.size * self.scale

    @property
    def version(self) -> str:
        """Names the image: changes when its source, position or scale does (so the page's
        URL of the image can be cached for long)."""
        text = f"{self.key}:{self.x:.3f}:{self.y:.3f}:{self.scale}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _scale(size: int) -> int:
    return max(1, min(MAX_SCALE, DISPLAY_PIXELS // size))


def _on_image(
    wcs: WCS, ra: float, dec: float, shape: tuple[int, int]
) -> tuple[float, float] | None:
    """The pixel (x, y) of (ra, dec) through ``wcs``, or None when it is off the image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = wcs.world_to_pixel(SkyCoord(ra=ra, dec=dec, unit="deg", frame="icrs"))
    px, py = float(x), float(y)
    ny, nx = shape
    if not (math.isfinite(px) and math.isfinite(py)):
        return None
    if not (-0.5 <= px < nx - 0.5 and -0.5 <= py < ny - 0.5):
        return None
    return px, py


def _from_reference_image(
    service: Service, found: ObjectRecord, newest: CandidateRecord
) -> FinderChart | None:
    done = run(service.catalog, newest.run_id)
    if done is None or done.reference_id is None:
        return None
    reference = observation(service.catalog, done.reference_id)
    if reference is None or reference.store_key is None:
        return None
    wcs = wcs_from_header(reference.wcs_header)
    if wcs is None or not service.store.exists(reference.store_key):
        return None
    position = _on_image(wcs, found.ra, found.dec, reference.shape)
    if position is None:
        return None
    x, y = position
    return FinderChart(
        source="reference image",
        key=reference.store_key,
        x=x,
        y=y,
        scale=_scale(FINDER_SIZE),
        overlay=cutout_overlay(wcs, x, y, FINDER_SIZE),
        observation_name=reference.name,
        candidate_id=newest.id,
    )


def finder_chart(
    service: Service, found: ObjectRecord, detections: Sequence[CandidateRecord]
) -> FinderChart | None:
    """The finder chart of ``found`` from its ``detections`` (newest first); None without
    a reference image or cutout.

    Parameters
    ----------
    service : Service
    found : ObjectRecord
        The object.
    detections : sequence of CandidateRecord
        Its candidates, newest first (`astrid.catalog.candidates_of_object`).
    """
    if not detections:
        return None
    chart = _from_reference_image(service, found, detections[0])
    if chart is not None:
        return chart
    for record in detections:
        key = record.cutout_key("reference")
        if key is not None:
            return FinderChart(
                source="reference cutout",
                key=key,
                x=record.x,
                y=record.y,
                scale=_scale(CUTOUT_SIZE),
                overlay=cutout_marks(service, record),
                observation_name=record.observation_name,
                candidate_id=record.id,
            )
    return None


def finder_png(service: Service, chart: FinderChart) -> bytes:
    """The chart's image as PNG (noise-scaled asinh stretch, north as the pixels lie).

    Raises
    ------
    astrid.errors.StorageError
        If the image is missing from the store or is not a FITS image.
    """
    if chart.source == "reference image":
        return service.cutouts.stamp_png(
            chart.key, chart.x, chart.y, size=FINDER_SIZE, scale=chart.scale
        )
    return service.cutouts.png(chart.key, kind="reference", scale=chart.scale)
