"""Rubin alert packets (schema ``lsst.vX_Y.alert``, X ≥ 7) as `SurveyAlert` records.

The packet's version comes from the name of the schema embedded in its file; fields are
read by name, trying each version's name in turn (docs/ingest.md has the table):

- the packet id: ``alertId`` (≤ 7.x), ``diaSourceId`` (8.0 on);
- the exposure: ``visit``-``detector`` (7.0 on), ``ccdVisitId`` before;
- the time: ``midpointMjdTai`` (5.0 on), ``midPointTai`` before, TAI → UTC;
- flux: ``psfFlux``/``psfFluxErr`` (5.0 on), ``psFlux``/``psFluxErr`` before, nJy as given;
- ``band`` (5.0 on), ``filterName`` before; ``dec`` (5.0 on), ``decl`` before;
- the sign: ``isNegative`` (8.0 on) when not null, else the sign of the flux;
- the object: ``diaObjectId`` of the source, else of the packet's ``diaObject``, else the
  solar-system ``ssObjectId`` (of the source, ``ssSource`` or ``ssObject``);
- history: ``prvDiaSources`` (detections), ``prvDiaForcedSources`` (forced photometry) and,
  up to 7.x, ``prvDiaNondetectionLimits`` (5σ upper limits from ``diaNoise``).

Stamps are plain FITS (``cutoutScience`` from 6.1, ``cutoutTemplate``, ``cutoutDifference``)
in nJy; the FWHM is derived from the PSF's second moments (``ixxPSF``, ``iyyPSF``) when the
packet has them; pixels are 0.2″.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from astrid.errors import IngestError
from astrid.ingest.packet_fields import (
    optional,
    optional_float,
    optional_int,
    required,
    required_float,
    required_int,
)
from astrid.ingest.records import SurveyAlert, SurveyPoint
from astrid.ingest.stamps import CUTOUT_FIELDS, decode_triplet
from astrid.ingest.times import check_mjd, utc_from_tai

__all__ = [
    "OLDEST_RUBIN_VERSION",
    "RUBIN_PIXEL_SCALE_ARCSEC",
    "read_rubin_packet",
    "rubin_version",
]

#: The oldest schema version read, ``(major, minor)``.
OLDEST_RUBIN_VERSION = (7, 0)

#: The LSST camera's pixel scale, arcsec per pixel.
RUBIN_PIXEL_SCALE_ARCSEC = 0.2

_AB_MAG_OF_ONE_NJY = 31.4
_SIGMA_TO_FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))
_LIMIT_SIGMAS = 5.0
_SCHEMA_NAME = re.compile(r"^lsst\.v(\d+)_(\d+)\.alert$")

# Each field's names, newest first.
_TIME = ("midpointMjdTai", "midPointTai")
_FLUX = ("psfFlux", "psFlux")
_FLUX_ERR = ("psfFluxErr", "psFluxErr")
_BAND = ("band", "filterName")
_DEC = ("dec", "decl")


def rubin_version(schema_name: str) -> str:
    """The version label (``"7.0"``) of a Rubin alert schema's full name.

    Raises
    ------
    IngestError
        If the name is not ``lsst.vX_Y.alert`` or the version is older than 7.0
        (``schema`` is kept on the error).

    Examples
    --------
    >>> rubin_version("lsst.v11_1.alert")
    '11.1'
    """
    match = _SCHEMA_NAME.match(schema_name)
    if match is None:
        raise IngestError(
            f"schema {schema_name!r} is not a Rubin alert schema (lsst.vX_Y.alert)",
            schema=schema_name,
        )
    version = (int(match.group(1)), int(match.group(2)))
    if version < OLDEST_RUBIN_VERSION:
        oldest = ".".join(map(str, OLDEST_RUBIN_VERSION))
        raise IngestError(
            f"schema {schema_name!r} is version {version[0]}.{version[1]}: "
            f"versions older than {oldest} are not read",
            schema=schema_name,
            version=version,
        )
    return f"{version[0]}.{version[1]}"


def _mjd(source: Mapping[str, Any], *, where: str) -> float:
    tai = required_float(source, *_TIME, where=where)
    return utc_from_tai(check_mjd(tai, field=f"{where}.{_TIME[0]}"))


def _magnitude(flux: float | None, flux_err: float | None) -> tuple[float | None, float | None]:
    if flux is None or flux == 0.0:
        return None, None
    mag = _AB_MAG_OF_ONE_NJY - 2.5 * math.log10(abs(flux))
    mag_err = None if flux_err is None else 2.5 / math.log(10.0) * flux_err / abs(flux)
    return mag, mag_err


def _negative(source: Mapping[str, Any], flux: float | None) -> bool:
    flag = optional(source, "isNegative")
    if flag is not None:
        return bool(flag)
    return flux is not None and flux < 0.0


def _exposure(source: Mapping[str, Any], *, where: str) -> str:
    visit = optional_int(source, "visit", where=where)
    detector = optional_int(source, "detector", where=where)
    if visit is not None and detector is not None:
        return f"{visit}-{detector}"
    return str(required_int(source, "visit", "ccdVisitId", where=where))


def _object_key(record: Mapping[str, Any], source: Mapping[str, Any]) -> str:
    """The first object id that is set; 0 counts as unset (the APDB's "no object")."""
    dia_object = record.get("diaObject") or {}
    ss = record.get("ssSource") or record.get("ssObject") or {}
    candidates = (
        (source, "diaObjectId"),
        (dia_object, "diaObjectId"),
        (source, "ssObjectId"),
        (ss, "ssObjectId"),
    )
    for holder, name in candidates:
        key = optional_int(holder, name, where="diaSource")
        if key:
            return str(key)
    raise IngestError(
        "no object: diaSource.diaObjectId, diaObject and ssObjectId are all missing, null or 0",
        field="diaSource.diaObjectId",
    )


def _point(source: Mapping[str, Any], *, where: str, id_field: str, detected: bool) -> SurveyPoint:
    flux = optional_float(source, *_FLUX, where=where)
    return SurveyPoint(
        source_id=required_int(source, id_field, where=where),
        mjd=_mjd(source, where=where),
        band=optional(source, *_BAND),
        flux=flux,
        flux_err=optional_float(source, *_FLUX_ERR, where=where),
        detected=detected,
        is_negative=_negative(source, flux),
        exposure=_exposure_of(source, where=where),
    )


def _exposure_of(source: Mapping[str, Any], *, where: str) -> str | None:
    """A history entry's exposure, when it names one."""
    try:
        return _exposure(source, where=where)
    except IngestError:
        return None


def _limit(entry: Mapping[str, Any], *, where: str) -> SurveyPoint:
    noise = optional_float(entry, "diaNoise", where=where)
    limit = (
        _AB_MAG_OF_ONE_NJY - 2.5 * math.log10(_LIMIT_SIGMAS * noise)
        if noise is not None and noise > 0
        else None
    )
    return SurveyPoint(
        source_id=None,
        mjd=_mjd(entry, where=where),
        band=optional(entry, *_BAND),
        flux=None,
        flux_err=None,
        detected=False,
        limit_mag=limit,
        exposure=_exposure_of(entry, where=where),
    )


def _history(record: Mapping[str, Any]) -> tuple[SurveyPoint, ...]:
    points = [
        _point(s, where=f"prvDiaSources[{i}]", id_field="diaSourceId", detected=True)
        for i, s in enumerate(record.get("prvDiaSources") or [])
    ]
    points += [
        _point(s, where=f"prvDiaForcedSources[{i}]", id_field="diaForcedSourceId", detected=False)
        for i, s in enumerate(record.get("prvDiaForcedSources") or [])
    ]
    points += [
        _limit(s, where=f"prvDiaNondetectionLimits[{i}]")
        for i, s in enumerate(record.get("prvDiaNondetectionLimits") or [])
    ]
    return tuple(sorted(points, key=lambda p: p.mjd))


def _fwhm_px(source: Mapping[str, Any]) -> float | None:
    ixx, iyy = (
        optional_float(source, "ixxPSF", where="diaSource"),
        optional_float(source, "iyyPSF", where="diaSource"),
    )
    if ixx is None or iyy is None or ixx + iyy <= 0:
        return None
    return _SIGMA_TO_FWHM * math.sqrt((ixx + iyy) / 2.0)


def read_rubin_packet(
    record: Mapping[str, Any], *, version: str, path: str = "", index: int = 0
) -> SurveyAlert:
    """One decoded Rubin packet as a `SurveyAlert`.

    Parameters
    ----------
    record : mapping
        The packet as fastavro decodes it with its file's schema.
    version : str
        The schema version, ``"7.0"`` … (`rubin_version` of the schema's name).
    path, index : str, int
        Where it was read from, kept on the record.

    Returns
    -------
    SurveyAlert
        ``survey`` ``"rubin"``, fluxes in nJy, times MJD UTC, stamps ``(3, 63, 63)`` nJy.

    Raises
    ------
    IngestError
        If a required field is missing or null (``field`` names it, ``"diaSource.ra"``),
        a time is not plausible, or a cutout cannot be read (``field`` ``"cutoutScience"``).
    """
    source = required(record, "diaSource", where="")
    if not isinstance(source, Mapping):
        raise IngestError("diaSource is not a record", field="diaSource")
    where = "diaSource"
    source_id = required_int(source, "diaSourceId", where=where)
    packet_id = optional(record, "alertId", "diaSourceId")
    flux = optional_float(source, *_FLUX, where=where)
    flux_err = optional_float(source, *_FLUX_ERR, where=where)
    mag, mag_err = _magnitude(flux, flux_err)
    snr = optional_float(source, "snr", where=where)
    if snr is None and flux is not None and flux_err:
        snr = abs(flux) / flux_err
    cutouts = [record.get(f) for f in CUTOUT_FIELDS]
    stamps, notes = decode_triplet(*(None if c is None else bytes(c) for c in cutouts))
    return SurveyAlert(
        survey="rubin",
        schema_version=version,
        packet_id=str(source_id if packet_id is None else packet_id),
        source_id=source_id,
        object_key=_object_key(record, source),
        exposure=_exposure(source, where=where),
        ra=required_float(source, "ra", where=where),
        dec=required_float(source, *_DEC, where=where),
        mjd=_mjd(source, where=where),
        band=optional(source, *_BAND),
        flux=flux,
        flux_err=flux_err,
        mag=mag,
        mag_err=mag_err,
        snr=snr,
        is_negative=_negative(source, flux),
        survey_score=optional_float(source, "reliability", where=where),
        fwhm_px=_fwhm_px(source),
        pixel_scale_arcsec=RUBIN_PIXEL_SCALE_ARCSEC,
        stamps=stamps,
        stamp_units="nJy",
        history=_history(record),
        notes=tuple(notes),
        path=path,
        index=index,
    )
