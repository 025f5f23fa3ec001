"""What an alert packet is built from: plain records, no catalog, no files.

Conventions: positions are degrees ICRS and 0-based pixels ``(x, y)`` of the science image;
fluxes are difference fluxes in the science image's units with that frame's AB zero point
(None when unknown); times are MJD in UTC as the observations carry them (the packet
builder converts them to TAI); ``processed`` is when the run that measured a value finished
(timezone-aware UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from astropy.wcs import WCS

from astrid.difference.cutouts import CutoutWcsCards

__all__ = ["AstridValues", "Cutouts", "Detection", "ForcedMeasurement", "ObjectSummary"]


@dataclass(frozen=True)
class Detection:
    """One detection of an object on one science frame: a Rubin diaSource.

    ``id`` becomes ``diaSourceId`` (AstrID's candidate id), ``visit`` the science
    observation's id; ``sign`` is -1 for a source fainter than in the reference.
    """

    id: int
    object_id: int
    visit: int
    mjd: float | None
    band: str | None
    exposure_time: float | None
    ra: float
    dec: float
    x: float
    y: float
    flux: float | None
    flux_err: float | None
    snr: float | None
    sign: int
    n_bad_pixels: int
    zero_point: float | None
    rb: float | None
    model_version: str | None
    processed: datetime


@dataclass(frozen=True)
class ForcedMeasurement:
    """Forced photometry of an object on one frame's difference image: a diaForcedSource.

    ``id`` becomes ``diaForcedSourceId`` (the light-curve point's id); ``ra``/``dec`` are the
    object's position, where it was measured.
    """

    id: int
    object_id: int
    visit: int
    mjd: float | None
    band: str | None
    ra: float
    dec: float
    flux: float | None
    flux_err: float | None
    zero_point: float | None
    processed: datetime


@dataclass(frozen=True)
class ObjectSummary:
    """The object a detection belongs to: a Rubin diaObject (its position and identity)."""

    id: int
    name: str
    ra: float
    dec: float


@dataclass(frozen=True)
class Cutouts:
    """The 63×63 science, template (aligned reference) and difference stamps of a detection.

    Arrays are ``[y, x]`` in the science image's units; a stamp that is not available is
    None (the packet's field is then null and the sidecar lists it as missing). ``wcs`` is
    the science image's celestial WCS, when known: each stamp gets it, shifted to the stamp
    (`astrid.difference.cutout_wcs`); the image's `astrid.difference.CutoutWcsCards` serve
    its many alerts without rendering its header for each.
    """

    science: np.ndarray | None
    template: np.ndarray | None
    difference: np.ndarray | None
    wcs: WCS | CutoutWcsCards | None = None


@dataclass(frozen=True)
class AstridValues:
    """AstrID's own values of a detection and its object, for the sidecar.

    ``ood_components`` maps ``msp``, ``energy``, ``mahalanobis`` to their scores; ``context``
    is the object's context record (`astrid.catalog.ObjectRecord.context`: matches, host,
    reason); ``host`` its host-galaxy summary (name, separation, DLR, distance).
    """

    rb: float | None
    ood: float | None
    ood_components: Mapping[str, float | None]
    model_version: str | None
    context_class: str | None
    context: Mapping[str, Any] = field(default_factory=dict)
    host: Mapping[str, Any] = field(default_factory=dict)
