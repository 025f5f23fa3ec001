"""ZTF alert packets (schema ``ztf.alert``) as `SurveyAlert` records.

A ZTF packet holds one detection (``candidate``), its history (``prv_candidates``:
detections and, with ``candid`` null, upper limits) and three gzip-compressed FITS cutouts.
The mapping (docs/ingest.md):

- times: ``jd`` (UTC) − 2400000.5;
- flux in nJy: ``sign × 10**(−0.4 (magpsf − 31.4))``, the sign + for ``isdiffpos`` ``"t"``
  or ``"1"``, − for ``"f"`` or ``"0"``; its error ``|flux| × sigmapsf × ln(10) / 2.5``;
- band from ``fid`` (1 g, 2 r, 3 i); the survey score ``drb`` when present and not null,
  else ``rb``; ``fwhm`` in pixels of 1.01″; the exposure ``pid``.

A required field missing or null raises `IngestError` naming it (``"candidate.ra"``).
"""

from __future__ import annotations

import math
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
from astrid.ingest.times import JD_MINUS_MJD, check_mjd

__all__ = ["ZTF_BANDS", "ZTF_PIXEL_SCALE_ARCSEC", "read_ztf_packet", "ztf_flux"]

#: ``fid`` → band.
ZTF_BANDS = {1: "g", 2: "r", 3: "i"}

#: The ZTF camera's pixel scale, arcsec per pixel.
ZTF_PIXEL_SCALE_ARCSEC = 1.01

_AB_MAG_OF_ONE_NJY = 31.4
_POSITIVE = {"t": True, "1": True, "f": False, "0": False}


def ztf_flux(magpsf: float, sigmapsf: float, positive: bool) -> tuple[float, float]:
    """A ZTF difference magnitude and its error as a signed flux and its error, in nJy.

    Examples
    --------
    >>> flux, err = ztf_flux(21.4, 0.1, positive=False)
    >>> round(flux, 6), round(err, 4)
    (-10000.0, 921.034)
    """
    size = 10.0 ** (-0.4 * (magpsf - _AB_MAG_OF_ONE_NJY))
    return (size if positive else -size), size * sigmapsf * math.log(10.0) / 2.5


def _positive(candidate: Mapping[str, Any], *, where: str) -> bool:
    """Whether ``isdiffpos`` says the difference is positive."""
    value = required(candidate, "isdiffpos", where=where)
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower()[:1]
    if key not in _POSITIVE:
        field = f"{where}.isdiffpos"
        raise IngestError(f"{field} is {value!r}: expected 't', 'f', '1' or '0'", field=field)
    return _POSITIVE[key]


def _band(candidate: Mapping[str, Any], *, where: str, notes: list[str]) -> str | None:
    fid = required_int(candidate, "fid", where=where)
    if fid not in ZTF_BANDS:
        notes.append(f"{where}.fid {fid} is no ZTF band")
    return ZTF_BANDS.get(fid)


def _history_point(entry: Mapping[str, Any], *, where: str) -> SurveyPoint:
    """One ``prv_candidates`` entry: a detection, or an upper limit when ``candid`` is null."""
    mjd = check_mjd(required_float(entry, "jd", where=where) - JD_MINUS_MJD, field=f"{where}.jd")
    band = ZTF_BANDS.get(optional_int(entry, "fid", where=where) or 0)
    candid = optional_int(entry, "candid", where=where)
    if candid is None:
        return SurveyPoint(
            source_id=None,
            mjd=mjd,
            band=band,
            flux=None,
            flux_err=None,
            detected=False,
            limit_mag=optional_float(entry, "diffmaglim", where=where),
            exposure=_pid(entry, where=where),
        )
    magpsf, sigmapsf = (
        optional_float(entry, "magpsf", where=where),
        optional_float(entry, "sigmapsf", where=where),
    )
    positive = _positive(entry, where=where) if "isdiffpos" in entry else True
    flux: float | None = None
    flux_err: float | None = None
    if magpsf is not None:
        flux, flux_err = ztf_flux(magpsf, sigmapsf or 0.0, positive)
        flux_err = flux_err if sigmapsf is not None else None
    return SurveyPoint(
        source_id=candid,
        mjd=mjd,
        band=band,
        flux=flux,
        flux_err=flux_err,
        detected=True,
        is_negative=not positive,
        limit_mag=optional_float(entry, "diffmaglim", where=where),
        exposure=_pid(entry, where=where),
    )


def _pid(entry: Mapping[str, Any], *, where: str) -> str | None:
    """The exposure (``pid``) of a history entry, when it has one."""
    pid = optional_int(entry, "pid", where=where)
    return None if pid is None else str(pid)


def _cutout_bytes(record: Mapping[str, Any], field: str) -> bytes | None:
    cutout = record.get(field)
    if cutout is None:
        return None
    if not isinstance(cutout, Mapping):
        raise IngestError(f"{field} is not a cutout record", field=field)
    data = cutout.get("stampData")
    return None if data is None else bytes(data)


def read_ztf_packet(record: Mapping[str, Any], *, path: str = "", index: int = 0) -> SurveyAlert:
    """One decoded ZTF packet as a `SurveyAlert`.

    Parameters
    ----------
    record : mapping
        The packet as fastavro decodes it (schema ``ztf.alert``).
    path, index : str, int
        Where it was read from, kept on the record.

    Returns
    -------
    SurveyAlert
        ``survey`` ``"ztf"``, fluxes in nJy, stamps ``(3, 63, 63)`` in DN.

    Raises
    ------
    IngestError
        If a required field is missing or null (``field`` names it, ``"candidate.ra"``),
        a value is out of range, or a cutout cannot be read (``field`` ``"cutoutScience"``).
    """
    notes: list[str] = []
    candid = required_int(record, "candid", where="")
    candidate = required(record, "candidate", where="")
    if not isinstance(candidate, Mapping):
        raise IngestError("candidate is not a record", field="candidate")
    where = "candidate"
    mjd = check_mjd(
        required_float(candidate, "jd", where=where) - JD_MINUS_MJD, field="candidate.jd"
    )
    ra = required_float(candidate, "ra", where=where)
    dec = required_float(candidate, "dec", where=where)
    magpsf = required_float(candidate, "magpsf", where=where)
    sigmapsf = required_float(candidate, "sigmapsf", where=where)
    positive = _positive(candidate, where=where)
    flux, flux_err = ztf_flux(magpsf, sigmapsf, positive)
    drb = optional_float(candidate, "drb", where=where)
    fwhm = optional_float(candidate, "fwhm", where=where)
    prv = record.get("prv_candidates") or []
    history = tuple(
        _history_point(entry, where=f"prv_candidates[{i}]") for i, entry in enumerate(prv)
    )
    stamps, stamp_notes = decode_triplet(*(_cutout_bytes(record, f) for f in CUTOUT_FIELDS))
    notes.extend(stamp_notes)
    return SurveyAlert(
        survey="ztf",
        schema_version=str(optional(record, "schemavsn") or ""),
        packet_id=str(candid),
        source_id=candid,
        object_key=str(required(record, "objectId", where="")),
        exposure=str(required(candidate, "pid", where=where)),
        ra=ra,
        dec=dec,
        mjd=mjd,
        band=_band(candidate, where=where, notes=notes),
        flux=flux,
        flux_err=flux_err,
        mag=magpsf,
        mag_err=sigmapsf,
        snr=abs(flux) / flux_err if flux_err > 0 else None,
        is_negative=not positive,
        survey_score=drb if drb is not None else optional_float(candidate, "rb", where=where),
        fwhm_px=fwhm if fwhm is not None and fwhm > 0 else None,
        pixel_scale_arcsec=ZTF_PIXEL_SCALE_ARCSEC,
        stamps=stamps,
        stamp_units="DN",
        history=history,
        notes=tuple(notes),
        path=path,
        index=index,
    )
