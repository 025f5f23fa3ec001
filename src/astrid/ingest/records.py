"""What a survey's alert packet becomes: plain records, the same for every survey.

Conventions: positions degrees ICRS; times MJD in UTC (ZTF's ``jd`` − 2400000.5; Rubin's
TAI times converted); fluxes are difference fluxes in nJy (ZTF's magnitudes converted with
AB zero point 31.4; the sign from ``isdiffpos``), magnitudes AB of ``|flux|``; stamps are
``(3, 63, 63)`` float32 arrays (science, template, difference) in the packet's units, NaN
where a stamp is missing, blank (``|value| > 1e30``, not finite), or padding around a
smaller or edge-cut stamp.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["IngestProblem", "SurveyAlert", "SurveyPoint"]


@dataclass(frozen=True)
class SurveyPoint:
    """One earlier measurement in a packet's history.

    ``detected``: a detection (ZTF ``prv_candidates`` with a ``candid``, Rubin
    ``prvDiaSources``); otherwise forced photometry (Rubin ``prvDiaForcedSources``) or an
    upper limit (ZTF ``prv_candidates`` without ``candid``: ``flux`` None, ``limit_mag``
    its ``diffmaglim``). ``exposure`` names its image like `SurveyAlert.exposure` (None when
    the packet does not say).
    """

    source_id: int | None
    mjd: float
    band: str | None
    flux: float | None
    flux_err: float | None
    detected: bool
    is_negative: bool = False
    limit_mag: float | None = None
    exposure: str | None = None  # the image it was measured on, as `SurveyAlert.exposure`


@dataclass(frozen=True)
class SurveyAlert:
    """One alert packet of a survey, read.

    ``packet_id`` is the packet's own id as text (ZTF ``candid``, Rubin ``alertId`` or
    ``diaSourceId``); ``source_id`` the detection's id (ZTF ``candid``, Rubin
    ``diaSourceId``); ``object_key`` the survey's object (ZTF ``objectId``, Rubin
    ``diaObjectId``); ``exposure`` what identifies the image it came from (ZTF ``pid``,
    Rubin ``visit``-``detector``). ``survey_score`` is the survey's own real/bogus score
    (ZTF ``drb``, else ``rb``; Rubin ``reliability``). ``notes`` lists what was repaired
    or is missing (a stamp padded, blank pixels masked, a stamp absent).
    """

    survey: str
    schema_version: str
    packet_id: str
    source_id: int
    object_key: str
    exposure: str
    ra: float
    dec: float
    mjd: float
    band: str | None
    flux: float | None
    flux_err: float | None
    mag: float | None
    mag_err: float | None
    snr: float | None
    is_negative: bool
    survey_score: float | None
    fwhm_px: float | None
    pixel_scale_arcsec: float | None
    stamps: np.ndarray
    stamp_units: str
    history: tuple[SurveyPoint, ...] = ()
    notes: tuple[str, ...] = ()
    path: str = ""
    index: int = 0


@dataclass(frozen=True)
class IngestProblem:
    """A packet (or a whole file) that could not be read, and why.

    ``index`` is the record's place in its file (None: the file itself), ``packet_id`` its
    id when it could be read, ``field`` the field at fault when one is.
    """

    path: str
    index: int | None
    message: str
    packet_id: str | None = None
    field: str | None = None
    extra: dict[str, object] = dataclasses.field(default_factory=dict)
