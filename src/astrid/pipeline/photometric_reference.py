"""The reference stars a frame is calibrated against, and the photometry it records.

A run calibrates zero points (`astrid.preprocess.zero_point`) against a catalogue file
(`PipelineConfig.photometric_catalogue`, read once per process) or, when none is given and
a survey service is named (`PipelineConfig.photometric_service`), against that survey's
stars of the frame's field, asked for once per field and cached
(`astrid.context.online.reference_stars`). Neither may cost a frame its candidates: a
catalogue that cannot serve the frame, or a service that does not answer, leaves the frame
with its header zero point and a warning saying why.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord

from astrid.context.online.reference_stars import PS1, reference_stars
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.image import Image
from astrid.pipeline.config import PipelineConfig
from astrid.preprocess.pair import PreparedPair
from astrid.preprocess.photometric_catalogue import (
    photometric_catalogue_from_table,
    read_photometric_catalogue,
)
from astrid.preprocess.zero_point import PhotometricCatalogue, band_of

__all__ = ["field_circle", "frame_catalogue", "frame_photometry"]

log = logging.getLogger(__name__)

#: Field centres are rounded to this many degrees (and radii up to it), so frames of one
#: pointing share one cached answer.
FIELD_QUANTUM_DEG = 0.01


@lru_cache(maxsize=4)
def _catalogue_file(path: str, sha256: str, band: str) -> PhotometricCatalogue:
    """A photometric catalogue file read once per process (``sha256`` keys a changed file)."""
    return read_photometric_catalogue(path, band)


def field_circle(image: Image) -> tuple[float, float, float]:
    """(ra, dec, radius) in degrees of a circle holding the whole image: centre rounded to
    `FIELD_QUANTUM_DEG`, radius to the farthest corner plus one quantum, rounded up."""
    assert image.wcs is not None
    ny, nx = image.shape
    ra0, dec0 = image.wcs.all_pix2world([(nx - 1) / 2], [(ny - 1) / 2], 0)
    q = FIELD_QUANTUM_DEG
    ra_c, dec_c = round(float(ra0[0]) / q) * q % 360.0, round(float(dec0[0]) / q) * q
    centre = SkyCoord(round(ra_c, 6), round(dec_c, 6), unit="deg")
    xs = np.array([0, nx - 1, 0, nx - 1], dtype=float)
    ys = np.array([0, 0, ny - 1, ny - 1], dtype=float)
    ra, dec = image.wcs.all_pix2world(xs, ys, 0)
    far = float(np.max(centre.separation(SkyCoord(ra, dec, unit="deg")).deg))
    radius = math.ceil((far + q) / q) * q
    return float(centre.ra.deg), float(centre.dec.deg), round(radius, 6)


def frame_catalogue(config: PipelineConfig, science: Image) -> PhotometricCatalogue | None:
    """The reference stars to calibrate ``science`` against, or None (with a warning saying
    why when one was configured but cannot serve this frame)."""
    spec, service = config.photometric_catalogue, config.photometric_service
    if spec is None and service is None:
        return None
    band = (spec.band if spec is not None else service.band if service else None) or band_of(
        science.meta.filter
    )
    if band is None:
        log.warning(
            "%s: filter %r names no band; give the band to calibrate it against a catalogue",
            science.label,
            science.meta.filter,
        )
        return None
    try:
        if spec is not None:
            return _catalogue_file(spec.path, spec.sha256, band)
        assert service is not None
        survey = replace(PS1, url=service.url or PS1.url, timeout_s=service.timeout_s)
        ra, dec, radius = field_circle(science)
        table = reference_stars(survey, ra, dec, radius, band, cache_dir=Path(service.cache_dir))
        return photometric_catalogue_from_table(table, band, f"Pan-STARRS1 DR1 ({survey.url})")
    except (ConfigurationError, OnlineServiceError) as e:
        log.warning("%s: not calibrated against a reference catalogue: %s", science.label, e)
        return None


def frame_photometry(pair: PreparedPair, flux_err: np.ndarray) -> dict[str, Any]:
    """The frame's zero point, where it came from, and its 5σ limiting magnitude (from the
    median error of a point-source flux over the unmasked frame)."""
    if pair.zero_point is None:
        return {}
    errors = flux_err[~pair.mask & np.isfinite(flux_err) & (flux_err > 0)]
    limit = (
        pair.zero_point - 2.5 * float(np.log10(5.0 * np.median(errors))) if errors.size else None
    )
    cal = pair.calibration
    return {
        "zero_point": pair.zero_point,
        "zero_point_error": None if cal is None else cal.error,
        "zero_point_stars": None if cal is None else cal.n_stars,
        "zero_point_source": pair.zero_point_source,
        "limiting_mag": limit,
    }
